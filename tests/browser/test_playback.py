"""What run-job produces plays in a real browser: the CMAF ladder in hls.js and, from the same
segments, the MPD in dash.js; the MPEG-TS ladder in hls.js. Each player reaches 3 s, switches
to the lowest rendition and back, shows the caption track, and records no fatal error, no hole
and no stall."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.test_captions_playback import srt
from videoctl.api import Client
from videoctl.db.repositories import JobRepository
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip

pytestmark = pytest.mark.browser


def encoded(env: dict, conn, tmp_path: Path, monkeypatch, **settings: str):
    """A READY video from a generated 8 s clip with Korean captions, encoded by run-job."""
    monkeypatch.setenv("VIDEOCTL_LADDER", "360:800,240:400")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    clip = generate_sample_clip(find_ffmpeg(), tmp_path / "clip.mp4", seconds=8, width=640, height=360)
    with Client() as videoctl:
        video = videoctl.add_video(clip, title="browser", captions={"ko": srt(tmp_path / "ko.srt")})
        job = JobRepository(conn).create(video.id, max_attempts=1)
        result = videoctl.run_job(job.id)
    assert result.video.status == "READY"
    return Path(env["VIDEOCTL_STORAGE_DIR"]), result.video


def wait_for(page, condition: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        record = page.evaluate("window.record")
        assert not record["fatal"], record
        assert time.monotonic() < deadline, (condition, record, page.evaluate("video.currentTime"))
        time.sleep(0.1)


def play_switch_and_caption(page, start: str, player: str) -> dict:
    """Start, switch to the lowest rendition and back, turn the Korean captions on, play past 3 s."""
    page.evaluate(start)
    wait_for(page, "window.record.ready")
    wait_for(page, "video.currentTime >= 1")
    lowest = page.evaluate(f"{player}Level('lowest')")
    wait_for(page, f"window.record.switched.includes({lowest})")
    highest = page.evaluate(f"{player}Level('highest')")
    wait_for(page, f"window.record.switched.slice(-1)[0] === {highest}")
    page.evaluate(f"{player}Captions('ko')")
    wait_for(page, "video.currentTime >= 3")
    wait_for(page, "window.record.cues > 0")
    return page.evaluate("window.record")


def assert_clean(record: dict, console: list[str], *, start_gap_s: float = 0.0) -> None:
    assert record["fatal"] == [], (record, console)
    assert sorted(record["levels"]) == [240, 360]
    assert record["textTracks"] == ["ko"]
    assert record["stalls"] == [], record
    assert all(at < start_gap_s for at in record["holes"]), record


def test_the_cmaf_ladder_plays_in_hls_js(env, conn, tmp_path, monkeypatch, player_page):
    root, video = encoded(env, conn, tmp_path, monkeypatch)
    page, _, console = player_page(root)
    record = play_switch_and_caption(page, f"playHls('/media/{video.hls_path}')", "hls")
    assert_clean(record, console)


def test_the_same_segments_play_as_dash_in_dash_js(env, conn, tmp_path, monkeypatch, player_page):
    root, video = encoded(env, conn, tmp_path, monkeypatch)
    assert video.mpd_path is not None
    page, _, console = player_page(root)
    record = play_switch_and_caption(page, f"playDash('/media/{video.mpd_path}')", "dash")
    assert_clean(record, console)


def test_the_ts_ladder_plays_in_hls_js(env, conn, tmp_path, monkeypatch, player_page):
    root, video = encoded(env, conn, tmp_path, monkeypatch, VIDEOCTL_SEGMENT_FORMAT="ts")
    assert video.mpd_path is None  # DASH needs CMAF segments
    page, _, console = player_page(root)
    record = play_switch_and_caption(page, f"playHls('/media/{video.hls_path}')", "hls")
    # MPEG-TS starts video and audio at slightly different times; hls.js seeks over that first
    # fraction of a second once. Past the start, a hole is a defect.
    assert_clean(record, console, start_gap_s=0.5)
