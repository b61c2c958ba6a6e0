"""probe() on every kind of upload in tests/clips.py: what it reports, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clips import PLAYABLE, REFUSED
from videoctl.domain.audio import AudioTrack
from videoctl.domain.errors import InvalidInput
from videoctl.media.probe import SourceInfo, probe

Clip = Callable[[str], Path]


def test_normal_clip(clip: Clip) -> None:
    path = clip("normal")
    info = probe(path)
    assert info == SourceInfo(
        duration_s=pytest.approx(2.0, abs=0.05),
        width=640,
        height=360,
        coded_width=640,
        coded_height=360,
        rotation=0,
        fps=30.0,
        is_vfr=False,
        has_audio=True,
        video_codec="h264",
        pix_fmt="yuv420p",
        bit_depth=8,
        audio_codec="aac",
        size_bytes=path.stat().st_size,
        audio_channels=1,
        is_hdr=False,
        video_stream_index=0,
        audio_stream_index=1,
        audio_tracks=(AudioTrack(index=1, channels=1, sample_rate=48_000, language="und", default=True),),
    )


def test_no_audio(clip: Clip) -> None:
    info = probe(clip("no_audio"))
    assert not info.has_audio
    assert info.audio_codec is None
    assert info.audio_stream_index is None


def test_the_audio_track_flagged_default_is_the_one_used(clip: Clip) -> None:
    info = probe(clip("two_audio_tracks"))
    assert (info.audio_stream_index, info.audio_channels) == (2, 2)  # not the mono track at index 1
    # Both tracks are kept: the default one first, as the ladder's default rendition.
    assert [(track.index, track.channels, track.default) for track in info.audio_tracks] == [(1, 1, False), (2, 2, True)]
    assert [(r.name, r.track.index) for r in info.audio_renditions] == [("audio", 2), ("audio_1", 1)]


def test_rotation_swaps_displayed_dimensions(clip: Clip) -> None:
    info = probe(clip("rotated"))
    assert info.rotation in (90, 270)
    assert (info.coded_width, info.coded_height) == (320, 240)
    assert (info.width, info.height) == (240, 320)


def test_odd_size_is_reported_as_is(clip: Clip) -> None:
    info = probe(clip("odd_size"))
    assert (info.width, info.height) == (641, 361)
    assert info.pix_fmt == "yuv444p"


def test_anamorphic_width_is_the_displayed_one(clip: Clip) -> None:
    info = probe(clip("anamorphic"))
    assert (info.coded_width, info.coded_height) == (320, 240)
    assert (info.width, info.height) == (427, 240)


def test_variable_frame_rate_is_detected_with_its_nominal_rate(clip: Clip) -> None:
    info = probe(clip("variable_frame_rate"))
    assert info.is_vfr
    assert info.fps == pytest.approx(30.0)


def test_cfr_sources_are_not_vfr(clip: Clip) -> None:
    assert not probe(clip("normal")).is_vfr
    assert not probe(clip("high_fps")).is_vfr


def test_high_frame_rate(clip: Clip) -> None:
    assert probe(clip("high_fps")).fps == pytest.approx(120.0)


def test_ten_bit(clip: Clip) -> None:
    info = probe(clip("ten_bit"))
    assert (info.pix_fmt, info.bit_depth, info.is_hdr) == ("yuv420p10le", 10, False)


def test_hdr(clip: Clip) -> None:
    info = probe(clip("hdr_hlg"))
    assert (info.video_codec, info.bit_depth, info.is_hdr) == ("hevc", 10, True)


def test_joined_recordings_last_as_long_as_their_content(clip: Clip) -> None:
    # Two 1 s recordings whose timestamps jump by 5000 s: 2 s of video, not 5001 s.
    info = probe(clip("joined_recordings"))
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert (info.fps, info.is_vfr, info.has_audio) == (30.0, False, True)  # the jump is no frame interval


def test_missing_duration_is_measured(clip: Clip) -> None:
    assert probe(clip("no_duration")).duration_s == pytest.approx(2.0, abs=0.1)


def test_every_playable_clip_probes(clip: Clip) -> None:
    for name in PLAYABLE:
        info = probe(clip(name))
        assert info.duration_s > 1.5, name
        assert 16 <= info.height <= 8192, name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("audio_only", "audio-only uploads are not supported: no video stream"),
        ("still_image", "still images are not supported"),
        ("tiny", "unsupported dimensions 64x8"),
        ("not_media", "not a media file"),
        ("zero_byte", "empty (0 bytes)"),
        ("truncated", "truncated or damaged: its index (moov atom) is missing"),
        ("truncated_faststart", "the file is truncated: it declares 2.0 s but its data ends at 1.0 s"),
    ],
)
def test_refused_uploads_are_permanent_errors_with_a_reason(clip: Clip, name: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        probe(clip(name))
    assert reason in caught.value.message
    assert caught.value.permanent


def test_every_refused_clip_has_a_reason_test() -> None:
    tested = {"audio_only", "still_image", "tiny", "not_media", "zero_byte", "truncated", "truncated_faststart"}
    assert tested == set(REFUSED)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="source file not found: nope.mp4"):
        probe(tmp_path / "nope.mp4")


def test_directory_is_not_a_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a regular file"):
        probe(tmp_path)
