"""Shaka Player, a third client and a stricter one than hls.js and dash.js, plays what run-job
produces: the MPD and the HLS master of one CMAF ladder with Korean captions. Each reaches a
position past the first two segments, switches to the lowest rendition and back, shows the
caption track, and raises no error event at all, recoverable or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_playback import assert_clean, encoded, play_switch_and_caption, wait_for
from tests.mpd_schema import assert_valid_mpd
from videoctl.domain.models import Video
from videoctl.media.hls import load_media_playlist

pytestmark = pytest.mark.browser


def end_of_second_segment_s(root: Path, video: Video) -> float:
    """Where the second segment of the lowest rung ends: the position playback must pass."""
    segments = load_media_playlist(root / video.hls_path.rsplit("/", 1)[0] / "240p").segments
    assert len(segments) > 2  # so passing two segments is not the end of the video
    return segments[0].duration_s + segments[1].duration_s


@pytest.mark.parametrize("manifest", ["mpd_path", "hls_path"])
def test_shaka_player_plays_the_ladder_with_captions(env, conn, tmp_path, monkeypatch, player_page,
                                                     manifest: str) -> None:
    # 2 s segments: an 8 s clip has four, so "past two" is well inside the video.
    root, video = encoded(env, conn, tmp_path, monkeypatch, VIDEOCTL_SEGMENT_SECONDS="2")
    assert video.caption_languages == ["ko"]
    assert_valid_mpd(root / video.mpd_path)
    page, _, console = player_page(root)
    play_switch_and_caption(page, f"playShaka('/media/{getattr(video, manifest)}', 'ko')", "shaka")
    wait_for(page, f"video.currentTime > {end_of_second_segment_s(root, video)}")
    record = page.evaluate("window.record")
    assert record["errors"] == [], (record, console)
    assert_clean(record, console)


def test_shaka_player_reports_what_it_cannot_play(env, conn, tmp_path, monkeypatch, player_page) -> None:
    """The recording above is not blind: a segment missing from the ladder is an error event."""
    root, video = encoded(env, conn, tmp_path, monkeypatch, VIDEOCTL_SEGMENT_SECONDS="2")
    folder = root / video.hls_path.rsplit("/", 1)[0]
    for rung in ("360p", "240p"):
        (folder / rung / "seg_00001.m4s").unlink()
    page, _, _ = player_page(root)
    page.evaluate(f"playShaka('/media/{video.mpd_path}', 'ko')")
    page.wait_for_function("window.record.errors.length > 0", timeout=60_000)
    assert any("seg_00001.m4s" in error for error in page.evaluate("window.record.errors"))
