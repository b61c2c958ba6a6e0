"""The pure rules of media/hls.py: the RFC 8216 peak bit rate, upload content types and order, and the
master's SUBTITLES tags (no ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.hls import content_type_for, peak_bitrate, subtitle_media_line, upload_order
from videoctl.media.m3u8 import parse_master_playlist


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
        ("poster.jpg", "image/jpeg"),
        ("manifest.mpd", "application/dash+xml"),
        ("storyboard.vtt", "text/vtt"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_type_for(name: str, content_type: str) -> None:
    assert content_type_for(Path(name)) == content_type
    assert content_type_for(name) == content_type


def test_subtitle_media_line_for_a_hand_made_rendition() -> None:
    korean = SubtitleRendition(language="ko", name="한국어", default=True, playlist="subs/ko.m3u8", vtt="subs/ko.vtt")
    assert subtitle_media_line(korean) == (
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="ko",NAME="한국어",DEFAULT=YES,AUTOSELECT=YES,'
        'URI="subs/ko.m3u8"')


def test_subtitle_names_cannot_break_out_of_their_quoted_string() -> None:
    sneaky = SubtitleRendition(language="en", name='Eng"lish\n#EXT-X-ENDLIST', default=False, playlist="subs/en.m3u8",
                               vtt="subs/en.vtt")
    line = subtitle_media_line(sneaky)
    assert "\n" not in line and "DEFAULT=NO" in line
    [media] = parse_master_playlist("#EXTM3U\n" + line + "\n").media
    assert media["NAME"] == "Eng'lish #EXT-X-ENDLIST" and media["URI"] == "subs/en.m3u8"


def test_upload_order_puts_every_manifest_after_what_it_names(tmp_path: Path) -> None:
    names = ["master.m3u8", "manifest.mpd", "storyboard.vtt", "storyboard.jpg", "poster.jpg", "poster-320.jpg",
             "download.mp4", "360p/index.m3u8", "360p/init_360p.mp4", "360p/seg_00000.m4s",
             "subs/ko.m3u8", "subs/ko.vtt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    order = [path.relative_to(tmp_path).as_posix() for path in upload_order(tmp_path)]
    assert sorted(order) == sorted(names)
    manifests = {"manifest.mpd", "storyboard.vtt", "360p/index.m3u8", "subs/ko.m3u8"}
    first_manifest = min(order.index(name) for name in manifests)
    assert all(order.index(name) < first_manifest for name in set(names) - manifests - {"master.m3u8"})
    assert order[-1] == "master.m3u8"
