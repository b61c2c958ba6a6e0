"""A lecture with several audio tracks plays in hls.js and dash.js in Chromium: every track is
listed, and switching from the default to another plays on with no stall and no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_playback import wait_for
from tests.clips import lecture_tracks
from videoctl.api import Client
from videoctl.db.repositories import JobRepository
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.browser


def encoded(env: dict, conn, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_LADDER", "180:400")
    clip = lecture_tracks(find_ffmpeg(), tmp_path, seconds=10)
    with Client() as videoctl:
        video = videoctl.add_video(clip, title="three tracks")
        job = JobRepository(conn).create(video.id, max_attempts=1)
        result = videoctl.run_job(job.id)
    assert result.video.status == "READY"
    return Path(env["VIDEOCTL_STORAGE_DIR"]), result.video


def test_hls_js_lists_every_track_and_switches_without_a_stall(env, conn, tmp_path, monkeypatch, player_page):
    root, video = encoded(env, conn, tmp_path, monkeypatch)
    page, _, console = player_page(root)
    page.evaluate(f"playHls('/media/{video.hls_path}')")
    wait_for(page, "window.record.ready && window.record.audioTracks.length > 0")
    tracks = page.evaluate("window.record.audioTracks")
    assert [(t["name"], t["lang"], t["default"]) for t in tracks] == [
        ("한국어 통역", "ko", True), ("English", "en", False), ("English (audio description)", "en", False)]
    wait_for(page, "video.currentTime >= 2")
    page.evaluate("hlsAudio('English')")
    wait_for(page, "window.record.audioSwitched.includes('English')")
    at = page.evaluate("video.currentTime")
    wait_for(page, f"video.currentTime >= {at} + 3")
    record = page.evaluate("window.record")
    assert record["fatal"] == [] and record["stalls"] == [], (record, console)


def test_dash_js_lists_every_track_and_switches_without_a_stall(env, conn, tmp_path, monkeypatch, player_page):
    root, video = encoded(env, conn, tmp_path, monkeypatch)
    page, _, console = player_page(root)
    page.evaluate(f"playDash('/media/{video.mpd_path}')")
    wait_for(page, "window.record.ready")
    tracks = page.evaluate("window.record.audioTracks")
    assert sorted((t["lang"], tuple(t["roles"])) for t in tracks) == [
        ("en", ("alternate",)), ("en", ("description",)), ("ko", ("main",))]
    wait_for(page, "video.currentTime >= 2")
    page.evaluate("dashAudio('en', 'alternate')")
    wait_for(page, "window.record.audioSwitched.some(s => s.startsWith('en/'))")
    at = page.evaluate("video.currentTime")
    wait_for(page, f"video.currentTime >= {at} + 3")
    record = page.evaluate("window.record")
    assert record["fatal"] == [] and record["stalls"] == [], (record, console)
