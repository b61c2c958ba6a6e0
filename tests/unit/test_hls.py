"""The pure rules of media/hls.py: the RFC 8216 peak bit rate and upload content types (no files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoctl.media.hls import content_type_for, peak_bitrate


def test_peak_is_the_busiest_segment() -> None:
    # 4 s segments of 1 MB, 2 MB, 1 MB → the middle one: 4 Mbit/s.
    assert peak_bitrate([1_000_000, 2_000_000, 1_000_000], [4.0, 4.0, 4.0], 4) == 4_000_000


def test_short_last_segment_does_not_count_alone() -> None:
    # A 0.1 s tail with a keyframe (50 kB) would be 4 Mbit/s alone; joined to the segment
    # before it (lasting 4.1 s together, within 1.5 target durations) it is ~1.07 Mbit/s.
    peak = peak_bitrate([500_000, 500_000, 50_000], [4.0, 4.0, 0.1], 4)
    assert peak == round(8 * 550_000 / 4.1)


def test_peak_never_below_the_average() -> None:
    # A clip shorter than half a target duration has no qualifying run: use the average.
    assert peak_bitrate([10_000], [1.0], 4) == 80_000


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("720p/INDEX.M3U8", "application/vnd.apple.mpegurl"),
        ("720p/seg_00000.ts", "video/mp2t"),
        ("720p/seg_00000.m4s", "video/mp4"),
        ("init.mp4", "video/mp4"),
        ("poster.jpg", "application/octet-stream"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_type_for(name: str, content_type: str) -> None:
    assert content_type_for(Path(name)) == content_type
    assert content_type_for(name) == content_type
