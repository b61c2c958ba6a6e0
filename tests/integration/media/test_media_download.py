"""download.mp4 remuxed from a real ladder (fMP4 and MPEG-TS): moov first, the rung's picture, the audio,
the video's length, the very bytes of the ladder (no second encode); and verify_download refusing
an MP4 with its moov at the end, the wrong rung, no audio, or the wrong length."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from tests.clips import LATE_AUDIO_S, first_sound_s
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, choose_rungs, parse_ladder, rung_size
from videoctl.media.download import remux_download, verify_download
from videoctl.media.encode import encode_ladder
from videoctl.media.mp4 import top_level_types
from videoctl.media.probe import SourceInfo, probe

pytestmark = pytest.mark.slow

LADDER = parse_ladder("360:800,240:400")
Download = tuple[Path, SourceInfo, Rung]


@pytest.fixture(scope="module")
def downloads(clip: Callable[[str], Path], ffmpeg_bin: str,
              tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Download]:
    done: dict[tuple[str, str], Download] = {}

    def get(name: str, segment_format: str = "fmp4") -> Download:
        if (name, segment_format) not in done:
            info = probe(clip(name))
            rungs = choose_rungs(LADDER, info.short_side)
            out_dir = tmp_path_factory.mktemp(f"download-{name}-{segment_format}") / "out"
            encode_ladder(ffmpeg_bin, clip(name), out_dir, info, rungs, segment_s=1, segment_format=segment_format)
            rung = rungs[-1]  # 240p: not the top rung, so the test can tell them apart
            remux_download(ffmpeg_bin, out_dir, rung, has_audio=info.has_audio)
            done[name, segment_format] = out_dir, info, rung
        return done[name, segment_format]

    return get


def _verify(out_dir: Path, info: SourceInfo, rung: Rung, **changes: object) -> None:
    width, height = rung_size(info.width, info.height, rung.height)
    arguments = {"width": width, "height": height, "has_audio": info.has_audio, "duration_s": info.duration_s,
                 "tolerance_s": 1.0, **changes}
    verify_download(out_dir, **arguments)  # type: ignore[arg-type]


CASES = pytest.mark.parametrize(("name", "segment_format"), [("normal", "fmp4"), ("no_audio", "fmp4"),
                                                           ("late_audio", "fmp4"), ("portrait", "fmp4"),
                                                           ("normal", "ts")])


@CASES
def test_the_download_verifies_and_starts_with_its_index(downloads: Callable[[str, str], Download], name: str,
                                                         segment_format: str) -> None:
    out_dir, info, rung = downloads(name, segment_format)
    _verify(out_dir, info, rung)
    boxes = top_level_types(out_dir / "download.mp4")
    assert boxes.index("moov") < boxes.index("mdat")
    assert not list(out_dir.glob(".download-*")), "the remux's file lists are not outputs"


@CASES
def test_the_download_is_the_rungs_own_video_not_a_second_encode(downloads: Callable[[str, str], Download],
                                                                 name: str, segment_format: str) -> None:
    out_dir, info, rung = downloads(name, segment_format)
    with av.open(str(out_dir / rung.name / "index.m3u8")) as ladder:
        ladder_packets = [bytes(p) for p in ladder.demux(ladder.streams.video[0]) if p.size]
    with av.open(str(out_dir / "download.mp4")) as download:
        assert [s.type for s in download.streams] == (["video", "audio"] if info.has_audio else ["video"])
        download_packets = [bytes(p) for p in download.demux(download.streams.video[0]) if p.size]
    if segment_format == "ts":  # MPEG-TS carries H.264 in Annex B, MP4 with length prefixes
        assert len(download_packets) == len(ladder_packets)
    else:
        assert download_packets == ladder_packets


def test_late_audio_stays_late_in_the_download(downloads: Callable[[str, str], Download]) -> None:
    out_dir, _, _ = downloads("late_audio")
    with av.open(str(out_dir / "download.mp4")) as container:
        video_start = float(next(container.decode(video=0)).time)
    assert video_start == 0.0
    assert first_sound_s(out_dir / "download.mp4") == pytest.approx(LATE_AUDIO_S, abs=0.01)


@pytest.fixture
def download(downloads: Callable[[str, str], Download], tmp_path: Path) -> Download:
    out_dir, info, rung = downloads("normal")
    shutil.copytree(out_dir, tmp_path / "out")
    return tmp_path / "out", info, rung


def test_an_mp4_with_its_index_at_the_end_fails(download: Download, ffmpeg_bin: str) -> None:
    out_dir, info, rung = download
    path = out_dir / "download.mp4"
    moved = out_dir / "moov-last.mp4"
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(path), "-map", "0", "-c", "copy", str(moved)], check=True)
    moved.replace(path)
    assert top_level_types(path)[-1] == "moov"
    with pytest.raises(VerifyFailed, match="download.mp4 has its moov index after its media"):
        _verify(out_dir, info, rung)


def test_a_cut_short_download_fails(download: Download) -> None:
    out_dir, info, rung = download
    path = out_dir / "download.mp4"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VerifyFailed, match="overruns the file"):
        _verify(out_dir, info, rung)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 640, "height": 360}, "download.mp4 is 426x240, expected 640x360"),
        ({"has_audio": False}, "download.mp4 has an audio stream"),
        ({"duration_s": 5.0}, r"download.mp4 lasts 2.0\d s but the video lasts 5.00 s"),
    ],
)
def test_a_download_unlike_the_video_fails(download: Download, changes: dict[str, object], message: str) -> None:
    out_dir, info, rung = download
    with pytest.raises(VerifyFailed, match=message):
        _verify(out_dir, info, rung, **changes)


def test_a_download_without_its_audio_fails(downloads: Callable[[str, str], Download]) -> None:
    out_dir, info, rung = downloads("no_audio")
    with pytest.raises(VerifyFailed, match="download.mp4 lacks an audio stream"):
        _verify(out_dir, info, rung, has_audio=True)


def test_a_missing_download_fails(download: Download) -> None:
    out_dir, info, rung = download
    (out_dir / "download.mp4").unlink()
    with pytest.raises(VerifyFailed, match="download.mp4 is missing"):
        _verify(out_dir, info, rung)
