"""manifest.mpd over a real fMP4 ladder: the same files as HLS, exact timelines, captions, played by
ffmpeg's DASH demuxer; and verify_mpd refusing every kind of broken MPD."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, choose_rungs, parse_ladder
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.dash import parse_mpd, verify_mpd, write_mpd
from videoctl.media.encode import encode_ladder
from videoctl.media.hls import finalize_master
from videoctl.media.m3u8 import parse_media_playlist
from videoctl.media.probe import SourceInfo, probe

pytestmark = pytest.mark.slow

LADDER = parse_ladder("360:800,240:400")
Ladder = tuple[Path, SourceInfo, tuple[Rung, ...]]


def _encode(clip: Callable[[str], Path], ffmpeg_bin: str, out_dir: Path, name: str, segment_format: str = "fmp4") -> Ladder:
    info = probe(clip(name))
    rungs = choose_rungs(LADDER, info.short_side)
    encode_ladder(ffmpeg_bin, clip(name), out_dir, info, rungs, segment_s=1, segment_format=segment_format)
    finalize_master(out_dir, info, rungs)
    return out_dir, info, rungs


@pytest.fixture(scope="module")
def encoded(clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Ladder]:
    done: dict[str, Ladder] = {}

    def get(name: str) -> Ladder:
        if name not in done:
            out_dir, info, rungs = _encode(clip, ffmpeg_bin, tmp_path_factory.mktemp(f"dash-{name}") / "out", name)
            write_mpd(out_dir, info, rungs)
            done[name] = out_dir, info, rungs
        return done[name]

    return get


@pytest.fixture
def ladder(encoded: Callable[[str], Ladder], tmp_path: Path) -> Ladder:
    """A private copy of the normal clip's ladder and MPD, to break."""
    out_dir, info, rungs = encoded("normal")
    shutil.copytree(out_dir, tmp_path / "out")
    return tmp_path / "out", info, rungs


def hls_files(out_dir: Path) -> set[str]:
    """Every init segment and fragment the HLS media playlists name."""
    files = set()
    for playlist_path in out_dir.glob("*/index.m3u8"):
        playlist = parse_media_playlist(playlist_path.read_text())
        names = [playlist.map_uri] + [segment.uri for segment in playlist.segments]
        files |= {f"{playlist_path.parent.name}/{name}" for name in names}
    return files


@pytest.mark.parametrize("name", ["normal", "no_audio", "portrait", "variable_frame_rate"])
def test_the_mpd_names_exactly_the_hls_segments_nothing_twice(encoded: Callable[[str], Ladder], name: str) -> None:
    out_dir, info, rungs = encoded(name)
    parsed = verify_mpd(out_dir, info, rungs, tolerance_s=1.0)
    assert set(parsed.files) == hls_files(out_dir)
    assert len(parsed.files) == len(set(parsed.files))
    media = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.suffix in (".m4s", ".mp4")}
    assert media == set(parsed.files), "one set of segments on disk, named by both manifests"
    assert sorted(parsed.representations) == (["audio", "video"] if info.has_audio else ["video"])


def test_the_timeline_is_each_fragments_own_timing(encoded: Callable[[str], Ladder]) -> None:
    out_dir, info, _ = encoded("normal")
    parsed = parse_mpd((out_dir / "manifest.mpd").read_text())
    ns = "{urn:mpeg:dash:schema:mpd:2011}"
    for rep in parsed.representations["video"] + parsed.representations["audio"]:
        template = rep.find(f"{ns}SegmentTemplate")
        timescale = int(template.get("timescale"))
        durations = []
        entries = template.findall(f"{ns}SegmentTimeline/{ns}S")
        assert entries[0].get("t") == "0"
        for entry in entries:
            durations += [int(entry.get("d")) / timescale] * (1 + int(entry.get("r", "0")))
        playlist = parse_media_playlist((out_dir / rep.get("id") / "index.m3u8").read_text())
        assert len(durations) == len(playlist.segments)
        # EXTINF is rounded to microseconds; the last AAC frame may also be cut short in the
        # fragment (its samples table knows, the playlist gives the whole frame).
        for mpd_s, hls in zip(durations[:-1], playlist.segments[:-1], strict=True):
            assert mpd_s == pytest.approx(hls.duration_s, abs=1e-5)
        assert durations[-1] == pytest.approx(playlist.segments[-1].duration_s, abs=1024 / 48000)
    assert parsed.duration_s == pytest.approx(info.duration_s, abs=0.05)


@pytest.mark.parametrize("name", ["normal", "no_audio"])
def test_ffmpegs_dash_demuxer_plays_every_stream(encoded: Callable[[str], Ladder], ffmpeg_bin: str, name: str) -> None:
    out_dir, info, rungs = encoded(name)
    result = subprocess.run([ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-i", str(out_dir / "manifest.mpd"),
                             "-map", "0", "-f", "null", "-"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_captions_are_text_adaptation_sets_whose_files_must_exist(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    korean = SubtitleRendition(language="ko", name="한국어", default=True, playlist="subs/ko.m3u8", vtt="subs/ko.vtt")
    write_mpd(out_dir, info, rungs, (korean,))
    with pytest.raises(VerifyFailed, match="names subs/ko.vtt, which is missing"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0, subtitles=(korean,))
    (out_dir / "subs").mkdir()
    (out_dir / "subs" / "ko.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n안녕\n")
    parsed = verify_mpd(out_dir, info, rungs, tolerance_s=1.0, subtitles=(korean,))
    assert parsed.representations["text"][0].get("id") == "subs-ko"
    with pytest.raises(VerifyFailed, match=r"has text tracks \['subs/ko.vtt'\], expected \[\]"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_an_mpd_naming_a_missing_segment_fails(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "240p" / "seg_00001.m4s").unlink()
    with pytest.raises(VerifyFailed, match="manifest.mpd names 240p/seg_00001.m4s, which is missing"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_an_mpd_naming_an_empty_init_segment_fails(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "audio" / "init_audio.mp4").write_bytes(b"")
    with pytest.raises(VerifyFailed, match="names audio/init_audio.mp4, which is empty"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_an_mpd_with_one_segment_too_many_fails(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    mpd = out_dir / "manifest.mpd"
    mpd.write_text(mpd.read_text().replace('<S t="0" d="15360" r="1" />', '<S t="0" d="15360" r="2" />', 1))
    with pytest.raises(VerifyFailed, match=r"names 360p/seg_00002.m4s, which is missing"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_an_mpd_pointing_outside_the_output_fails(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    mpd = out_dir / "manifest.mpd"
    mpd.write_text(mpd.read_text().replace('initialization="240p/init_240p.mp4"', 'initialization="../init.mp4"'))
    with pytest.raises(VerifyFailed, match="not a relative path inside the output"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "not well-formed XML"),
        (lambda text: text.replace('type="static"', 'type="dynamic"'), "expected a static"),
        (lambda text: text.replace('id="240p"', 'id="180p"'), r"video Representations \['180p', '360p'\]"),
        (lambda text: text.replace('width="640"', 'width="480"'), "360p is 480x360, expected 640x360"),
    ],
)
def test_a_broken_mpd_fails(ladder: Ladder, edit: Callable[[str], str], message: str) -> None:
    out_dir, info, rungs = ladder
    mpd = out_dir / "manifest.mpd"
    mpd.write_text(edit(mpd.read_text()))
    with pytest.raises(VerifyFailed, match=message):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_an_mpd_that_disagrees_with_the_source_fails(ladder: Ladder) -> None:
    out_dir, info, rungs = ladder
    with pytest.raises(VerifyFailed, match=r"lasts 2.0\d s but the video lasts 5.00 s"):
        verify_mpd(out_dir, replace(info, duration_s=5.0), rungs, tolerance_s=1.0)
    with pytest.raises(VerifyFailed, match=r"audio Representations \['audio'\], expected one per source track: \[\]"):
        verify_mpd(out_dir, replace(info, has_audio=False), rungs, tolerance_s=1.0)
    (out_dir / "manifest.mpd").unlink()
    with pytest.raises(VerifyFailed, match="manifest.mpd is missing"):
        verify_mpd(out_dir, info, rungs, tolerance_s=1.0)


def test_mpeg_ts_segments_cannot_be_described(clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    out_dir, info, rungs = _encode(clip, ffmpeg_bin, tmp_path / "ts", "normal", segment_format="ts")
    with pytest.raises(VerifyFailed, match="DASH needs fragmented MP4 segments"):
        write_mpd(out_dir, info, rungs)
