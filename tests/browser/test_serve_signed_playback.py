"""A viewer's browser plays a ladder through `videoctl serve`'s signed ``/t/…`` route, as it does
through the edge Worker (test_edge_playback.py), on the embedded default with nothing configured:
`videoctl playback` signs with the local key for the address `serve` recorded, the app's page is
on another origin (VIDEOCTL_PLAYBACK_ORIGINS), and hls.js and dash.js play with captions and the
storyboard, every request carrying the token. `videoctl demo --serve` prints a signed URL that
plays while it serves; the video page's own player plays through ``/t/`` too."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.site import LADDER, Served, clean_env, create_database, drop_database, read_document
from tests.browser.test_edge_playback import STORYBOARD
from tests.browser.test_playback import play_switch_and_caption, wait_for
from tests.browser.test_serve_pages import wait_for as wait_page
from tests.playback_ladder import Ladder, encoded_ladder

pytestmark = pytest.mark.browser


def videoctl(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videoctl", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def serve(env: dict[str, str], log: Path) -> Served:
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "serve", "--port", "0"], env=env,
                                   stdout=subprocess.PIPE, stderr=stderr)
    document = read_document(process.stdout, log)
    return Served(process, document["data"]["url"], log, document)


@pytest.fixture(scope="session")
def ladder(pg_server_url, template_db, tmp_path_factory) -> Iterator[Ladder]:
    with encoded_ladder(pg_server_url, template_db, tmp_path_factory.mktemp("serve-t-home")) as encoded:
        yield encoded


@pytest.fixture
def served_page(player_page, ladder: Ladder, tmp_path):
    """The test player on its own origin; `videoctl serve` on the ladder letting that origin play
    (and nothing else set: no keys, no base URL); the URLs from `videoctl playback`."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    page, origin, console = player_page(empty)
    env = clean_env(VIDEOCTL_DATABASE_URL=ladder.db_url, VIDEOCTL_HOME=str(tmp_path / "home"),
                    VIDEOCTL_STORAGE_DIR=str(ladder.storage), VIDEOCTL_PLAYBACK_ORIGINS=origin)
    server = serve(env, tmp_path / "serve.log")
    try:
        signed = videoctl("--json", "playback", str(ladder.video.id), "--viewer", "browser", env=env)
        assert signed.returncode == 0, signed.stdout + signed.stderr
        urls = json.loads(signed.stdout)["data"]
        assert urls["master"].startswith(f"{server.base}/t/") and urls["key_id"] == "local"  # serve's own port
        responses: list[tuple[int, str]] = []
        page.on("response", lambda r: responses.append((r.status, r.url)) if r.url.startswith(server.base) else None)
        yield page, urls, console, responses, server
    finally:
        assert server.stop() == 0, server.log_text()
    secret = (tmp_path / "home" / "playback.key").read_text().strip().partition(":")[2]
    assert secret not in server.log_text() and secret not in json.dumps(urls)


@pytest.mark.parametrize("player", ["hls", "dash"])
def test_a_ladder_plays_through_serve_with_captions_and_storyboard(served_page, player):
    page, urls, console, responses, server = served_page
    start = f"playHls('{urls['master']}')" if player == "hls" else f"playDash('{urls['mpd']}')"
    play_switch_and_caption(page, start, player)
    wait_for(page, "video.currentTime >= 6.5")  # past three 2 s segments
    record = page.evaluate("window.record")
    assert record["fatal"] == [] and record["stalls"] == [], (record, console)
    assert sorted(record["levels"]) == [240, 360] and record["textTracks"] == ["ko"] and record["cues"] > 0
    tiles = page.evaluate(STORYBOARD, urls["storyboard"])
    assert all(width > 0 for _, width in tiles), tiles
    assert len(responses) > 10, responses
    assert all(status in (200, 206, 304) for status, _ in responses), [r for r in responses if r[0] >= 300]
    assert all(f"/t/{urls['token']}/" in url for _, url in responses)
    assert "viewer \"browser\"" in server.log_text()  # once per playback: whose link it was


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_prints_a_signed_url_that_plays_while_it_serves(pg_server_url, template_db, page_of, tmp_path):
    """`videoctl demo --serve` on a fresh home, nothing configured: the master URL it prints plays
    in Chromium (from the page's own origin, as a browser opening it there would)."""
    db_url = create_database(pg_server_url, template_db)
    home = tmp_path / "home"
    port = free_port()
    env = clean_env(VIDEOCTL_DATABASE_URL=db_url, VIDEOCTL_HOME=str(home), VIDEOCTL_LADDER=LADDER)
    log = tmp_path / "demo.log"
    with log.open("wb") as stderr:
        demo = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "demo", "--seconds", "4", "--serve",
                                 "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=stderr)
    try:
        data = read_document(demo.stdout, log)["data"]
        master = data["playback"]["master"]
        assert master.startswith(f"http://127.0.0.1:{port}/t/") and master.endswith("/master.m3u8")
        assert data["playback"]["key_id"] == "local" and data["playback"]["video_id"] == data["video"]["id"]
        page = page_of()
        page.goto(f"http://127.0.0.1:{port}/")  # the demo's own page: where the URL needs no CORS
        page.add_script_tag(url="/static/vendor/hls.js/hls.min.js")
        page.evaluate("""(url) => {
            const video = document.createElement("video");
            video.muted = true;
            document.body.append(video);
            window.video = video;
            const hls = new Hls();
            hls.loadSource(url);
            hls.attachMedia(video);
            video.play();
        }""", master)
        wait_page(page, "window.video.currentTime >= 2", what="the demo's signed URL to play")
        assert page.problems == []
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0, log.read_text(errors="replace")
        drop_database(pg_server_url, db_url)
    secret = (home / "playback.key").read_text().strip().partition(":")[2]
    assert secret not in log.read_text(errors="replace")
    assert not (home / "serve.json").exists()  # the address is forgotten when it stops


def test_the_video_page_s_player_fetches_through_the_signed_route(site, page_of):
    page = page_of()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith((".m3u8", ".m4s", ".mp4")) else None)
    page.goto(f"{site.base}/videos/{site.captioned_video}")
    wait_page(page, "window.videoctlPlayer && window.videoctlPlayer.ready", what="the master playlist")
    page.evaluate("document.getElementById('player').play()")
    wait_page(page, "document.getElementById('player').currentTime >= 2", what="playback to reach 2 s")
    assert fetched and all(url.startswith(f"{site.base}/t/v1.") for url in fetched), fetched
    assert page.problems == []
