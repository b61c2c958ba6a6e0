"""Poster and storyboard from the ladder's own decode, on real clips: a representative frame (past black
and fades), upright, tone-mapped like the ladder; tiles that cover the video; and the verification that
refuses a broken poster, a storyboard with a gap or a tile off its sheet."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import av
import pytest

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, choose_rungs, output_fps, parse_ladder, rung_size
from videoctl.media.encode import encode_ladder
from videoctl.media.m3u8 import parse_media_playlist
from videoctl.media.poster import Poster, finalize_poster, small_size, verify_poster
from videoctl.media.probe import SourceInfo, probe
from videoctl.media.sample import generate_sample_clip
from videoctl.media.storyboard import finalize_storyboard, parse_vtt, verify_storyboard

pytestmark = pytest.mark.slow

LADDER = parse_ladder("360:800,240:400")


@dataclass(frozen=True)
class Pictures:
    info: SourceInfo
    rungs: tuple[Rung, ...]
    out_dir: Path
    poster: Poster
    top: tuple[int, int]
    lowest: tuple[int, int]


def _finish(out_dir: Path, info: SourceInfo, rungs: tuple[Rung, ...]) -> tuple[Poster, tuple[int, int], tuple[int, int]]:
    top = rung_size(info.width, info.height, rungs[0].height)
    lowest = rung_size(info.width, info.height, rungs[-1].height)
    poster = finalize_poster(out_dir)
    finalize_storyboard(out_dir, duration_s=info.duration_s, video_duration_s=_video_duration(out_dir, rungs[-1]),
                        fps=output_fps(info.fps), width=lowest[0], height=lowest[1])
    return poster, top, lowest


def _video_duration(out_dir: Path, rung: Rung) -> float:
    return parse_media_playlist((out_dir / rung.name / "index.m3u8").read_text()).duration_s


@pytest.fixture(scope="module")
def pictures(clip: Callable[[str], Path], ffmpeg_bin: str,
             tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Pictures]:
    done: dict[str, Pictures] = {}

    def get(name: str) -> Pictures:
        if name not in done:
            info = probe(clip(name))
            rungs = choose_rungs(LADDER, info.short_side)
            out_dir = tmp_path_factory.mktemp(f"pictures-{name}") / "out"
            encode_ladder(ffmpeg_bin, clip(name), out_dir, info, rungs, segment_s=1, pictures=True)
            done[name] = Pictures(info, rungs, out_dir, *_finish(out_dir, info, rungs))
        return done[name]

    return get


def frame_at(playlist: Path, time_s: float) -> av.VideoFrame:
    with av.open(str(playlist)) as container:
        for frame in container.decode(video=0):
            if frame.time >= time_s - 0.001:
                return frame
    raise AssertionError(f"no frame at {time_s} s in {playlist}")


def mean_luma(frame: av.VideoFrame) -> float:
    """The mean luma in full range (JPEG's), whatever range the frame is in."""
    full = frame.reformat(format="gray", dst_color_range=2) if frame.format.name != "gray" else frame
    plane = full.planes[0]
    rows = [bytes(plane)[row * plane.line_size : row * plane.line_size + full.width] for row in range(full.height)]
    return sum(map(sum, rows)) / (full.width * full.height)


ALL = pytest.mark.parametrize("name", ["normal", "black_start", "rotated", "portrait", "hdr_hlg", "no_audio"])


@ALL
def test_poster_and_small_poster_at_their_sizes(pictures: Callable[[str], Pictures], name: str) -> None:
    result = pictures(name)
    verify_poster(result.poster, *result.top)
    assert result.poster.representative
    for path, size in [(result.poster.path, result.top), (result.poster.small_path, small_size(*result.top))]:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == size
    assert not (result.out_dir / "poster-choice.txt").exists()


@ALL
def test_storyboard_covers_the_video_with_160_px_tiles(pictures: Callable[[str], Pictures], name: str) -> None:
    result = pictures(name)
    verify_storyboard(result.out_dir, result.info.duration_s)
    cues = parse_vtt((result.out_dir / "storyboard.vtt").read_text())
    assert len(cues) == round(result.info.duration_s)  # one a second for a short video
    assert {(cue.width, cue.height) for cue in cues} == {(160, 2 * round(result.lowest[1] * 160 / result.lowest[0] / 2))}
    assert {cue.sheet for cue in cues} == {"storyboard.jpg"}
    assert [p.name for p in result.out_dir.glob("storyboard*.jpg")] == ["storyboard.jpg"]


def test_a_black_start_and_a_fade_are_skipped(pictures: Callable[[str], Pictures]) -> None:
    # One second of black, one of fade-in, then the pattern: the poster is past both.
    result = pictures("black_start")
    assert result.poster.time_s is not None and result.poster.time_s >= 2.0
    with av.open(str(result.poster.path)) as container:
        poster = next(container.decode(video=0))
    assert mean_luma(poster) > 100  # the bright bars, not black or half-faded
    # The first tile is the black second: the storyboard shows what is there.
    with av.open(str(result.out_dir / "storyboard.jpg")) as container:
        sheet = next(container.decode(video=0))
    assert mean_luma(sheet) < mean_luma(poster)


def test_the_poster_is_upright(pictures: Callable[[str], Pictures]) -> None:
    # Coded 320x240 with a 90° display matrix: the poster is 240x320, like the ladder.
    result = pictures("rotated")
    assert result.top == (240, 320)
    with av.open(str(result.poster.path)) as container:
        assert next(container.decode(video=0)).height == 320


def test_an_hdr_poster_is_tone_mapped_like_the_ladder(pictures: Callable[[str], Pictures], clip: Callable[[str], Path]) -> None:
    result = pictures("hdr_hlg")
    time_s = result.poster.time_s
    assert time_s is not None
    with av.open(str(result.poster.path)) as container:
        poster = mean_luma(next(container.decode(video=0)))
    ladder = mean_luma(frame_at(result.out_dir / result.rungs[0].name / "index.m3u8", time_s))
    untouched = mean_luma(frame_at(clip("hdr_hlg"), time_s))
    assert abs(poster - ladder) < 3  # the same frame, the same tone mapping (JPEG costs a little)
    assert abs(poster - untouched) > 8  # the HLG values as they are would be brighter


def test_a_video_with_no_usable_frame_gets_its_first_frame(clip: Callable[[str], Path], ffmpeg_bin: str,
                                                           tmp_path: Path) -> None:
    info = probe(clip("all_black"))
    rungs = choose_rungs(LADDER, info.short_side)
    encode_ladder(ffmpeg_bin, clip("all_black"), tmp_path / "out", info, rungs, segment_s=1, pictures=True)
    poster, top, _ = _finish(tmp_path / "out", info, rungs)
    assert not poster.representative and poster.time_s is None
    verify_poster(poster, *top)  # black, as the video is: allowed
    with pytest.raises(VerifyFailed, match="is a uniform picture"):
        verify_poster(replace(poster, representative=True), *top)


@pytest.fixture
def copied(pictures: Callable[[str], Pictures], tmp_path: Path) -> Pictures:
    """A private copy of the normal clip's outputs, to break."""
    result = pictures("normal")
    shutil.copytree(result.out_dir, tmp_path / "out")
    poster = replace(result.poster, path=tmp_path / "out" / "poster.jpg", small_path=tmp_path / "out" / "poster-320.jpg")
    return replace(result, out_dir=tmp_path / "out", poster=poster)


def test_a_poster_that_does_not_decode_fails(copied: Pictures) -> None:
    copied.poster.path.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    with pytest.raises(VerifyFailed, match="poster.jpg does not decode as a picture"):
        verify_poster(copied.poster, *copied.top)


def test_a_missing_or_empty_poster_fails(copied: Pictures) -> None:
    copied.poster.small_path.write_bytes(b"")
    with pytest.raises(VerifyFailed, match="poster-320.jpg is empty"):
        verify_poster(copied.poster, *copied.top)
    copied.poster.small_path.unlink()
    with pytest.raises(VerifyFailed, match="poster-320.jpg is missing"):
        verify_poster(copied.poster, *copied.top)


def test_a_uniform_poster_fails(copied: Pictures, ffmpeg_bin: str) -> None:
    width, height = copied.top
    subprocess.run([ffmpeg_bin, "-v", "error", "-y", "-f", "lavfi", "-i", f"color=black:size={width}x{height}",
                    "-frames:v", "1", str(copied.poster.path)], check=True)
    with pytest.raises(VerifyFailed, match="poster.jpg is a uniform picture"):
        verify_poster(copied.poster, *copied.top)


def test_a_poster_of_the_wrong_size_fails(copied: Pictures) -> None:
    with pytest.raises(VerifyFailed, match="poster.jpg is 640x360, expected 480x360"):
        verify_poster(copied.poster, 480, 360)


def _edit_vtt(out_dir: Path, old: str, new: str) -> None:
    path = out_dir / "storyboard.vtt"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_storyboard_with_a_gap_fails(copied: Pictures) -> None:
    _edit_vtt(copied.out_dir, "00:00:01.000 --> 00:00:02.000", "00:00:01.500 --> 00:00:02.000")
    with pytest.raises(VerifyFailed, match="has a gap between 1.000 s and 1.500 s"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)


def test_a_storyboard_that_stops_short_fails(copied: Pictures) -> None:
    _edit_vtt(copied.out_dir, "00:00:01.000 --> 00:00:02.000", "00:00:01.000 --> 00:00:01.500")
    with pytest.raises(VerifyFailed, match="ends at 1.500 s but the video lasts 2.000 s"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)


def test_a_tile_off_its_sheet_fails(copied: Pictures) -> None:
    _edit_vtt(copied.out_dir, "#xywh=160,0,160,90", "#xywh=200,0,160,90")
    with pytest.raises(VerifyFailed, match=r"tile 200,0,160,90 lies outside storyboard.jpg \(320x90\)"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)


def test_a_missing_or_broken_sheet_fails(copied: Pictures) -> None:
    (copied.out_dir / "storyboard.jpg").write_bytes(b"garbage")
    with pytest.raises(VerifyFailed, match="storyboard.jpg does not decode"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)
    (copied.out_dir / "storyboard.jpg").unlink()
    with pytest.raises(VerifyFailed, match="storyboard.jpg is missing"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)
    (copied.out_dir / "storyboard.vtt").unlink()
    with pytest.raises(VerifyFailed, match="storyboard.vtt is missing"):
        verify_storyboard(copied.out_dir, copied.info.duration_s)


def test_sheets_ffmpeg_did_not_write_are_noticed(clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    info = probe(clip("normal"))
    rungs = choose_rungs(LADDER, info.short_side)
    encode_ladder(ffmpeg_bin, clip("normal"), tmp_path / "out", info, rungs, segment_s=1, pictures=True)
    (tmp_path / "out" / "storyboard-1.jpg").unlink()
    with pytest.raises(VerifyFailed, match=r"ffmpeg wrote 0 storyboard sheet\(s\) for 2 tiles, expected 1"):
        _finish(tmp_path / "out", info, rungs)


def test_progress_is_reported_while_the_pictures_wait_for_the_end(ffmpeg_bin: str, tmp_path: Path) -> None:
    # ffmpeg reports no progress until every output has a frame; the poster's choice and a
    # storyboard sheet only exist at the end, so without a first frame sent at once the
    # heartbeat would sit at 10 % for the whole encode and jump to 100 %.
    source = generate_sample_clip(ffmpeg_bin, tmp_path / "ten.mp4", seconds=10, width=640, height=360)
    info = probe(source)
    progress: list[float] = []
    encode_ladder(ffmpeg_bin, source, tmp_path / "out", info, choose_rungs(LADDER, info.short_side), pictures=True,
                  on_progress=progress.append)
    assert progress[-1] == 100.0
    assert any(p < 80 for p in progress), progress
