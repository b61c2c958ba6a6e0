"""`videoctl serve` in a real Chromium: the video list shows the demo video's poster, the video
page plays it past 3 s with storyboard previews over the scrub bar and captions, and the jobs
page follows a running job's progress without a reload. The pages read the real database rows
and store objects of tests/browser/site.py, served by the real CLI in a process of its own.

`VIDEOCTL_SCREENSHOTS=docs/screenshots pytest tests/browser/test_serve_pages.py -k screenshots`
makes the README's screenshots.
"""

from __future__ import annotations

import json
import os
import re
import time
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import _chromium
from tests.browser.site import request

pytestmark = pytest.mark.browser


def wait_for(page, condition: str, timeout_s: float = 60, what: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, (what or condition, page.problems)
        time.sleep(0.1)


def test_the_video_list_shows_the_demo_videos_poster(site, page_of):
    page = page_of()
    response = page.goto(site.base + "/")
    assert response.status == 200
    card = page.locator(f'li.card[data-video-id="{site.demo_video}"]')
    poster = card.locator("img.poster")
    poster.scroll_into_view_if_needed()
    wait_for(page, f"""(() => {{ const img = document.querySelector('li.card[data-video-id="{site.demo_video}"] img.poster');
                          return img.complete && img.naturalWidth > 0; }})()""", what="the poster to load")
    assert poster.evaluate("img => img.naturalWidth") == 320  # poster-320.jpg
    assert card.get_attribute("data-status") == "READY"
    facts = card.locator("dl.facts").inner_text()
    assert "0:06" in facts and "360p · 240p" in facts
    captioned = page.locator(f'li.card[data-video-id="{site.captioned_video}"] dd.captions').inner_text()
    assert sorted(captioned.split(", ")) == ["en", "ko"]
    assert page.problems == []


def test_the_pages_work_without_javascript(site, page_of):
    page = page_of(java_script_enabled=False)
    page.goto(site.base + "/")
    page.select_option("#status", "FAILED")
    page.click("form.filter button")
    page.wait_for_url("**/?status=FAILED")
    assert page.locator("li.card").count() == 0
    page.select_option("#status", "READY")
    page.click("form.filter button")
    page.wait_for_url("**/?status=READY")
    ids = {int(i) for i in page.locator("li.card").evaluate_all("cards => cards.map(c => c.dataset.videoId)")}
    assert {site.demo_video, site.captioned_video} <= ids
    assert set(page.locator("li.card").evaluate_all("cards => cards.map(c => c.dataset.status)")) == {"READY"}

    page.click(f'li.card[data-video-id="{site.captioned_video}"] a')
    page.wait_for_url(f"**/videos/{site.captioned_video}")
    assert "SUCCEEDED" in page.locator("#video-jobs").inner_text()
    assert page.locator("#download").get_attribute("href").endswith("/download.mp4?download")
    assert "360p" in page.locator("table.ladder").inner_text()

    job = site.running_job("seen without javascript", 55)
    page.click("header nav >> text=Jobs")
    page.wait_for_url("**/jobs")
    assert page.get_attribute(f'#live-jobs tr[data-job-id="{job.id}"]', "data-progress") == "55"


def test_the_video_page_plays_and_shows_storyboard_tiles_over_the_scrub_bar(site, page_of):
    page = page_of()
    page.goto(f"{site.base}/videos/{site.demo_video}")
    wait_for(page, "window.videoctlPlayer && window.videoctlPlayer.ready", what="the master playlist")
    assert page.evaluate("window.videoctlPlayer.engine") == "hls.js"
    page.evaluate("document.getElementById('player').play()")
    wait_for(page, "document.getElementById('player').currentTime >= 3", what="playback to reach 3 s")
    assert page.evaluate("window.videoctlPlayer.fatal") == []

    wait_for(page, "window.videoctlPlayer.cues.length > 0", what="storyboard.vtt")
    sprites = page.evaluate("Object.keys(window.videoctlPlayer.sprites)")
    assert sprites and all(url.endswith("/storyboard.jpg") for url in sprites)
    wait_for(page, "Object.values(window.videoctlPlayer.sprites).every(i => i.complete && i.naturalWidth > 0)",
             what="the storyboard image to load")

    scrub = page.locator("#scrub").bounding_box()
    page.mouse.move(scrub["x"] + scrub["width"] * 0.6, scrub["y"] + scrub["height"] / 2)
    preview = page.locator("#preview")
    preview.wait_for(state="visible")
    tile = page.evaluate("""(() => { const t = document.getElementById('tile'), s = getComputedStyle(t);
        return {image: s.backgroundImage, position: s.backgroundPosition, width: t.offsetWidth, cue: t.dataset.cue}; })()""")
    duration = page.evaluate("document.getElementById('player').duration")
    start, end = (float(v) for v in tile["cue"].split("-"))
    assert start <= duration * 0.6 < end or end >= duration  # the tile of the time under the pointer
    assert "/storyboard.jpg" in tile["image"] and tile["position"] != "0px 0px" and tile["width"] == 160
    assert page.locator("#preview-time").inner_text() == f"0:{round(duration * 0.6):02d}"
    page.mouse.move(scrub["x"] + scrub["width"] * 0.6, scrub["y"] - 200)
    preview.wait_for(state="hidden")
    assert page.problems == []


def test_the_video_page_shows_captions_and_links_the_mp4(site, page_of):
    page = page_of()
    page.goto(f"{site.base}/videos/{site.captioned_video}")
    wait_for(page, "window.videoctlPlayer && window.videoctlPlayer.ready", what="the master playlist")
    buttons = page.locator("#captions button").all_inner_texts()
    assert buttons[0] == "off" and sorted(buttons[1:]) == ["en", "ko"]
    page.evaluate("document.getElementById('player').play()")
    wait_for(page, "window.videoctlPlayer.hls.subtitleTracks.length === 2", what="hls.js to list the captions")
    page.click('#captions button[data-lang="ko"]')
    showing = """Array.from(document.getElementById('player').textTracks).filter(t => t.mode === 'showing')
                 .map(t => [t.language, t.cues ? t.cues.length : 0])"""
    wait_for(page, f"(({showing}).find(([lang, cues]) => lang === 'ko' && cues > 0)) !== undefined",
             what="Korean cues")
    assert page.get_attribute('#captions button[data-lang="ko"]', "aria-pressed") == "true"

    href = page.get_attribute("#download", "href")
    status, headers, body = request(site.base, href)
    assert status == 200 and headers["content-type"] == "video/mp4"
    assert headers["content-disposition"] == f'attachment; filename="video-{site.captioned_video}.mp4"'
    assert body[4:8] == b"ftyp" and len(body) == int(headers["content-length"])
    jobs = page.locator("#video-jobs tbody tr")
    assert jobs.count() == 1 and "SUCCEEDED" in jobs.inner_text() and "1 of" in jobs.inner_text()
    # Its cost: a local process is measured (runtime, vCPU-hours) and costs nothing.
    assert re.search(r"\$0\.0000 \d+ s, \d+\.\d{3} vCPU-h", jobs.locator("td.cost").inner_text())
    assert page.problems == []


def test_the_video_page_shows_the_quality_of_each_rung(site, page_of):
    """run-job sampled the ladder it made (VIDEOCTL_MEASURE_QUALITY's default): the page shows the
    numbers `video show` gives, rung by rung, the top one marked."""
    shown = site.cli("--json", "video", "show", str(site.captioned_video))
    assert shown.returncode == 0, shown.stderr
    measured = json.loads(shown.stdout)["data"]["quality"]
    assert [r["rung"] for r in measured] == ["360p", "240p"]
    page = page_of(java_script_enabled=False)
    page.goto(f"{site.base}/videos/{site.captioned_video}")
    rows = page.locator("#quality tbody tr")
    assert rows.count() == 2
    for index, rung in enumerate(measured):
        row = rows.nth(index)
        assert row.get_attribute("data-rung") == rung["rung"]
        assert row.get_attribute("data-top") == ("yes" if rung["top_rung"] else "no")
        assert row.locator("td.vmaf-mean").inner_text() == f"{rung['vmaf_mean']:.1f}"
        assert row.locator("td.vmaf-p5").inner_text() == f"{rung['vmaf_p5']:.1f}"
        assert f"{rung['psnr_y_mean']:.1f} dB" in row.inner_text()
        assert f"{rung['width']}×{rung['height']}" in row.inner_text()
    assert "top" in rows.nth(0).inner_text()
    assert f"on {measured[0]['segments']} segment" in page.locator("#quality + p.note").inner_text()
    assert page.problems == []


def test_the_video_page_says_when_the_measurement_failed(site, page_of):
    from videoctl.db.repositories import QualityRepository

    video = site.cli("--json", "video", "show", str(site.demo_video))
    ladder = json.loads(video.stdout)["data"]["quality"][0]
    QualityRepository(site.jobs.conn).record_failure(
        ladder["output_prefix"], video_id=site.demo_video, job_id=ladder["job_id"], attempt=ladder["attempt"],
        mode="sample", error_code="media_error", error_message="libvmaf <could not> load its model")
    page = page_of()
    page.goto(f"{site.base}/videos/{site.demo_video}")
    said = page.locator("#quality-error").inner_text()
    assert "media_error" in said and "libvmaf <could not> load its model" in said  # text, not markup
    assert f"videoctl quality {site.demo_video}" in said
    assert page.locator("#quality").count() == 0
    assert page.problems == []


def test_the_jobs_page_follows_a_running_job_without_a_reload(site, page_of):
    job = site.running_job("encoding now", 10)
    page = page_of()
    page.goto(site.base + "/jobs")
    row = f'#live-jobs tr[data-job-id="{job.id}"]'
    assert page.get_attribute(row, "data-progress") == "10"
    assert page.get_attribute(row, "data-state") == "RUNNING"
    page.evaluate("window.sameDocument = true")  # gone if the page were loaded again

    for progress in (35, 70):
        site.jobs.heartbeat(job, progress)
        wait_for(page, f"""(document.querySelector('{row}') || {{dataset: {{}}}}).dataset.progress === '{progress}'""",
                 timeout_s=15, what=f"progress {progress} %")
        assert page.locator(f"{row} progress").get_attribute("value") == str(progress)
        assert page.locator(f"{row} .percent").inner_text() == f"{progress} %"
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("window.videoctlJobs.updates") >= 2
    eta = page.locator(f"{row} td.eta").inner_text()
    assert eta != "–" and eta.endswith("s") or "min" in eta, eta  # from its progress rate
    running = page.locator('#counts li[data-state="RUNNING"] strong').inner_text()
    assert int(running) >= 1
    assert page.problems == []


def chunked_job(site, title: str, error: str = "ffmpeg \x1b[2J\x07 <b>died</b>"):
    """A RUNNING job of the demo clip cut into 6 chunks (1 s each, the last to the end), as run-job's lead cuts one: chunk 0
    done, chunk 1 running at 30 %, chunk 2 failed (its error holding control characters) and
    waiting for its retry, the rest not started."""
    from videoctl.db.repositories import ChunkRepository
    from videoctl.domain.chunks import plan_chunks

    chunks = ChunkRepository(site.jobs.conn)
    plan = plan_chunks(6, Fraction(30), segment_s=1, chunk_s=1, chunk_after_s=0)
    job = chunks.create(site.running_job(title, 25), plan, {"plan": plan.to_dict()})
    first = chunks.claim(job.id, job.attempt, 0, "chunk-0", batch_job_id=None)
    chunks.mark_sent(first, "local:100:1")
    chunks.finish(first, {})
    running = chunks.claim(job.id, job.attempt, 1, "chunk-1", batch_job_id=None)
    chunks.heartbeat(running, 30)
    failing = chunks.claim(job.id, job.attempt, 2, "chunk-2", batch_job_id=None)
    chunks.schedule_retry(chunks.fail(failing, error_code="media_error", error_message=error, runner_id="chunk-2"), 3600)
    return job, running


def test_the_jobs_page_shows_a_chunked_jobs_chunks_and_follows_them(site, page_of):
    from videoctl.db.repositories import ChunkRepository, VideoRepository

    job, running = chunked_job(site, "a long lecture")

    chunks = ChunkRepository(site.jobs.conn)
    page = page_of()
    page.goto(site.base + "/jobs")
    row = f'#live-jobs tr.job-chunks[data-chunks-of="{job.id}"]'
    assert (page.get_attribute(row, "data-total"), page.get_attribute(row, "data-done")) == ("6", "1")
    summary = page.locator(f"{row} .chunk-summary").inner_text()
    assert summary.startswith("chunks 1/6 done, 1 running, 3 waiting, 1 retrying · ")
    strip = page.locator(f"{row} .chunk-strip li")
    assert strip.evaluate_all("cells => cells.map(c => [c.dataset.state, c.dataset.progress])") == [
        ["SUCCEEDED", "100"], ["RUNNING", "30"], ["RETRY_WAIT", "0"], ["PENDING", "0"], ["PENDING", "0"],
        ["PENDING", "0"]]
    duration = VideoRepository(site.jobs.conn).get(job.video_id).duration_s  # the last chunk runs to the end
    assert strip.nth(5).get_attribute("title") == f"chunk 5 · 0:05–0:{round(duration):02d} · PENDING · try 1"
    assert strip.nth(2).get_attribute("title").endswith("· RETRY_WAIT · try 1 · media_error")
    # Its heartbeat is its chunks' newest while they run (the lead's stopped when it sent them).
    assert "a chunk's" in page.locator(f'#live-jobs tr[data-job-id="{job.id}"] td.heartbeat').inner_text()
    # Each chunk in a table a person opens, which stays open while the page follows the chunks.
    page.click(f"{row} details.chunk-details summary")
    table = page.locator(f"{row} table.chunks")
    assert "local:100:1" in table.locator('tr[data-index="0"]').inner_text()
    failed = table.locator('tr[data-index="2"]').inner_text()
    assert "ffmpeg \\x1b[2J\\x07 <b>died</b>" in failed and "again" in failed  # text, escaped as the CLI shows it
    assert "chunk-1" in table.locator('tr[data-index="1"]').inner_text()
    page.evaluate("window.sameDocument = true")

    chunks.heartbeat(running, 70)
    cell = f'{row} .chunk-strip li[data-index="1"]'
    wait_for(page, f"""(document.querySelector('{cell}') || {{dataset: {{}}}}).dataset.progress === '70'""",
             timeout_s=15, what="chunk 1 at 70 %")
    assert page.locator(f"{cell} progress").get_attribute("value") == "70"
    chunks.finish(running, {})
    wait_for(page, f"""(document.querySelector('{row}') || {{dataset: {{}}}}).dataset.done === '2'""",
             timeout_s=15, what="chunk 1 done")
    assert page.locator(f"{row} .chunk-summary").inner_text().startswith("chunks 2/6 done, 3 waiting, 1 retrying")
    assert page.locator(f"{row} details.chunk-details").evaluate("d => d.open") is True
    assert page.evaluate("window.sameDocument") is True
    # The job's ETA is its chunks': chunk 2's retry is an hour away (its work, at chunk 0's speed, adds little).
    eta = page.locator(f'#live-jobs tr[data-job-id="{job.id}"] td.eta').inner_text()
    assert re.match(r"(59 min|1 h)", eta), eta
    status, _, body = request(site.base, "/jobs/live")
    assert status == 200 and b"\x1b" not in body and b"\x07" not in body and b"<b>died" not in body
    assert page.problems == []
    # The video's page lists its jobs, this one with its chunks counted.
    page.goto(f"{site.base}/videos/{job.video_id}")
    shown = page.locator(f'#video-jobs tr[data-job-id="{job.id}"] small.chunks').inner_text()
    assert shown == "chunks 2/6 done, 3 waiting, 1 retrying"
    assert page.problems == []
    site.jobs.cancel(job.id, "seen")  # out of the other tests' way


def test_control_characters_in_titles_reasons_and_errors_are_shown_escaped(site, page_of):
    """As the CLI shows them (\\x1b, \\x07, \\u202e written out): no ESC or BEL byte reaches the
    HTML, and no right-to-left override reorders what the page shows."""
    failed = site.running_job("Lecture \x1b[31mred\x07 \u202eevil", 10)
    site.jobs.fail(failed, error_code="media_error", runner_id=failed.runner_id,
                   error_message="ffmpeg said \x1b[2J\x07 and gave up")
    cancelled = site.running_job("cancel me", 5)
    site.jobs.cancel(cancelled.id, "operator \x1b]0;pwned\x07 said so")
    title, error, reason = (r"Lecture \x1b[31mred\x07 \u202eevil", r"ffmpeg said \x1b[2J\x07 and gave up",
                            r"operator \x1b]0;pwned\x07 said so")

    for path in ("/", "/jobs", "/jobs/live", f"/videos/{failed.video_id}", f"/videos/{cancelled.video_id}"):
        status, _, body = request(site.base, path)
        assert status == 200, path
        for raw in (b"\x1b", b"\x07", "\u202e".encode()):
            assert raw not in body, (path, raw)

    page = page_of()
    page.goto(f"{site.base}/videos/{failed.video_id}")
    assert page.inner_text("h1") == title and page.title() == f"{title} · videoctl"
    assert error in page.inner_text("#video-jobs")
    page.goto(f"{site.base}/videos/{cancelled.video_id}")
    assert reason in page.inner_text("#video-jobs")
    page.goto(site.base + "/")
    card = page.locator(f'li.card[data-video-id="{failed.video_id}"]')
    assert card.locator(".title").inner_text() == title
    page.goto(site.base + "/jobs")
    assert error in page.inner_text("#failures")
    assert page.problems == []


def test_a_dns_rebinding_page_reads_nothing(site, browser):
    """A page of evil.example whose DNS now answers 127.0.0.1 (as a rebinding attack makes it) sees
    only 421s: the server knows it is addressed as evil.example. The same browser through a
    loopback name sees the pages."""
    port = urlsplit(site.base).port
    rebound = browser.browser_type.launch(executable_path=_chromium(), headless=True,
                                          args=["--no-sandbox", "--host-resolver-rules=MAP evil.example 127.0.0.1"])
    try:
        page = rebound.new_page()
        response = page.goto(f"http://evil.example:{port}/")
        assert response.status == 421 and "Misdirected request" in page.inner_text("#error")
        read = page.evaluate(f"""Promise.all(['/', '/videos/{site.demo_video}', '/jobs/live', '/static/app.css']
                                   .map(path => fetch(path).then(r => r.status)))""")
        assert read == [421, 421, 421, 421]
        assert "data-video-id" not in page.content()
        for base in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            response = page.goto(f"{base}/videos/{site.demo_video}")
            assert response.status == 200 and page.locator("#player").count() == 1
    finally:
        rebound.close()


def test_screenshots_of_the_three_pages(site, page_of, tmp_path):
    """What the README shows, made from the real pages (a running, a chunked and a failed job on the jobs page)."""
    folder = Path(os.environ.get("VIDEOCTL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    site.running_job("Lecture 2", 42)
    chunked, _ = chunked_job(site, "Lecture 4", "stale: no heartbeat for 120s")
    failed = site.running_job("Lecture 3", 12)
    site.jobs.fail(failed, error_code="media_error", runner_id=failed.runner_id,
                   error_message="ffmpeg exited with 1: Invalid data found when processing input")
    page = page_of()
    page.goto(site.base + "/")
    wait_for(page, "Array.from(document.querySelectorAll('img.poster')).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=folder / "videos.png")

    page.goto(f"{site.base}/videos/{site.captioned_video}")
    wait_for(page, "window.videoctlPlayer && window.videoctlPlayer.ready")
    page.evaluate("document.getElementById('player').play()")
    wait_for(page, "window.videoctlPlayer.hls.subtitleTracks.length === 2")
    page.click('#captions button[data-lang="ko"]')
    wait_for(page, "document.getElementById('player').currentTime >= 2.7")
    page.evaluate("document.getElementById('player').pause()")
    wait_for(page, "window.videoctlPlayer.cues.length > 0 && "
                   "Object.values(window.videoctlPlayer.sprites).every(i => i.complete && i.naturalWidth > 0)")
    scrub = page.locator("#scrub").bounding_box()
    page.mouse.move(scrub["x"] + scrub["width"] * 0.7, scrub["y"] + scrub["height"] / 2)
    page.locator("#preview").wait_for(state="visible")
    page.screenshot(path=folder / "video.png")

    page.goto(site.base + "/jobs")
    page.wait_for_selector("#live-jobs")
    wait_for(page, "window.videoctlJobs.updates >= 1")
    page.click(f'tr.job-chunks[data-chunks-of="{chunked.id}"] details.chunk-details summary')
    page.screenshot(path=folder / "jobs.png", full_page=True)
    for name in ("videos.png", "video.png", "jobs.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (folder / name).stat().st_size > 20_000
    assert page.problems == []
