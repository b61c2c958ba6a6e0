"""A video encoded in chunks plays across every chunk boundary in Chromium (#23 point 4): hls.js
from the master playlist, dash.js from the MPD, each rung played from its start to its end.

The clip is 12 s in chunks of 4 s (2 s segments): boundaries at 4 s and 8 s, each one where
one chunk's last fragment meets the next chunk's first. Each rung is played from 0 to 2 s past
the last boundary at twice the speed; the player must record no fatal error, no hole jumped
over and no wait of any kind after the start, and what it buffered must be one range from the
start to the end.

Not to the very end: hls.js 1.x waits forever 0.1 s before the end of this clip, one pass's
ladder as much as the chunked one (bufferStalledError, no ``ended``), which is not a boundary.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.browser.test_playback import wait_for
from tests.chunking import FakeChunkExecutor, chunk_env, encode_in_chunks, lecture
from videoctl.domain.states import VideoStatus
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.browser

SECONDS, CHUNK_S = 12, 4
BOUNDARIES_S = (4, 8)

#: video.buffered as [[start, end], ...].
BUFFERED = "Array.from({length: video.buffered.length}, (_, i) => [video.buffered.start(i), video.buffered.end(i)])"


@pytest.fixture
def chunked_video(ctx, env, monkeypatch, tmp_path):
    """(the local store's root, the READY video) of a 12 s lecture encoded by a lead and 3 chunks."""
    chunk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDEOCTL_CHUNK_SECONDS", str(CHUNK_S))
    monkeypatch.setenv("VIDEOCTL_MEASURE_QUALITY", "off")
    deps = dataclasses.replace(ctx.run_job_deps(), chunk_executor=lambda on_batch: FakeChunkExecutor())
    source = lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=SECONDS)
    video, job = encode_in_chunks(ctx, deps, source, chunks=SECONDS // CHUNK_S)
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY and ready.mpd_path is not None
    return Path(env["VIDEOCTL_STORAGE_DIR"]), ready


def play_every_rung_through(page, start: str, player: str) -> list[dict]:
    """Start the player, then for the lowest rung and the highest: pick it, play from 0 past the
    last boundary at twice the speed, and note what was buffered then."""
    page.evaluate(start)
    wait_for(page, "window.record.ready")
    played = []
    for which in ("lowest", "highest"):
        height = page.evaluate(f"{player}Level('{which}')")
        page.evaluate("video.currentTime = 0; video.playbackRate = 2; video.play()")
        wait_for(page, f"window.record.switched.slice(-1)[0] === {height}")
        assert page.evaluate("video.currentTime") < BOUNDARIES_S[0] - 1, "switched too late to play every boundary"
        for boundary in BOUNDARIES_S:  # passed one after the other, never jumped over
            wait_for(page, f"video.currentTime > {boundary} + 0.5")
        wait_for(page, f"video.currentTime > {BOUNDARIES_S[-1]} + 2")
        page.evaluate("video.pause()")
        played.append({"height": height, "buffered": page.evaluate(BUFFERED),
                       "duration": page.evaluate("video.duration"), "shown": page.evaluate("video.videoHeight")})
    return played


def assert_no_hole_and_no_wait(played: list[dict], record: dict, console: list[str]) -> None:
    assert record["fatal"] == [], (record, console)
    assert sorted(record["levels"]) == [144, 180]
    assert [p["height"] for p in played] == [144, 180] and [p["shown"] for p in played] == [144, 180], played
    assert record["holes"] == [] and record["stalls"] == [] and record["starved"] == [], record
    for run in played:
        assert abs(run["duration"] - SECONDS) < 0.2, run
        # One range from the start to the end: nothing missing at a chunk boundary.
        [(start, end)] = run["buffered"]
        assert start < 0.1 and end > SECONDS - 0.1, run


def test_hls_js_plays_a_chunked_ladder_across_every_boundary(chunked_video, player_page):
    root, video = chunked_video
    page, _, console = player_page(root)
    played = play_every_rung_through(page, f"playHls('/media/{video.hls_path}')", "hls")
    assert_no_hole_and_no_wait(played, page.evaluate("window.record"), console)


def test_dash_js_plays_a_chunked_ladder_across_every_boundary(chunked_video, player_page):
    root, video = chunked_video
    page, _, console = player_page(root)
    played = play_every_rung_through(page, f"playDash('/media/{video.mpd_path}')", "dash")
    assert_no_hole_and_no_wait(played, page.evaluate("window.record"), console)
