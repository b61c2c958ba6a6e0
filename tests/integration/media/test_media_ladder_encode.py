"""Every playable clip through encode_ladder → finalize_master → verify_ladder, then played back.

Tiny ladder (360/240/144) and 1 s segments, so 2 s clips give several segments per variant
and the whole module stays within seconds on 2 cores.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av
import pytest

from tests.clips import PLAYABLE
from videoctl.domain.ladder import MAX_FPS, Rung, choose_rungs, output_fps, parse_ladder
from videoctl.media.encode import encode_ladder
from videoctl.media.hls import LadderSummary, finalize_master, verify_ladder
from videoctl.media.m3u8 import parse_master_playlist, parse_media_playlist
from videoctl.media.probe import SourceInfo, probe

pytestmark = pytest.mark.slow

LADDER = parse_ladder("360:800,240:400,144:200")
SEGMENT_S = 1


@dataclass(frozen=True)
class Encoded:
    info: SourceInfo
    rungs: tuple[Rung, ...]
    out_dir: Path
    master: Path
    summary: LadderSummary
    progress: list[float]


@pytest.fixture(scope="module")
def encoded(
    clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Encoded]:
    """``encoded("rotated")`` → that clip's ladder, encoded once per module."""
    done: dict[str, Encoded] = {}

    def get(name: str) -> Encoded:
        if name not in done:
            source = clip(name)
            info = probe(source)
            rungs = choose_rungs(LADDER, info.short_side)
            out_dir = tmp_path_factory.mktemp(f"hls-{name}")
            progress: list[float] = []
            encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=SEGMENT_S, on_progress=progress.append)
            master = finalize_master(out_dir, info, rungs)
            summary = verify_ladder(out_dir, info, rungs)
            done[name] = Encoded(info, rungs, out_dir, master, summary, progress)
        return done[name]

    return get


ALL = pytest.mark.parametrize("name", list(PLAYABLE))


@ALL
def test_ladder_verifies_and_summary_matches(encoded: Callable[[str], Encoded], name: str) -> None:
    result = encoded(name)
    assert result.master == result.out_dir / "master.m3u8"
    assert result.summary.master == result.master
    assert result.summary.has_audio == result.info.has_audio
    assert [r.name for r in result.summary.rungs] == [r.name for r in result.rungs]
    assert len(result.rungs) >= 2, "the test ladder should give every clip several rungs"
    for rung in result.summary.rungs:
        assert rung.bandwidth > 0
        assert rung.segments >= 2
        assert rung.duration_s == pytest.approx(result.info.duration_s, abs=SEGMENT_S)


@ALL
def test_master_plays_with_ffmpeg(encoded: Callable[[str], Encoded], ffmpeg_bin: str, name: str) -> None:
    master = encoded(name).master
    result = subprocess.run(
        [ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-i", str(master), "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@ALL
def test_audio_present_exactly_when_the_source_has_it(encoded: Callable[[str], Encoded], name: str) -> None:
    result = encoded(name)
    with av.open(str(result.master)) as container:
        assert bool(container.streams.audio) == result.info.has_audio
        assert len(container.streams.video) == len(result.rungs)
    assert (result.out_dir / "audio").is_dir() == result.info.has_audio


@ALL
def test_master_attributes(encoded: Callable[[str], Encoded], name: str) -> None:
    result = encoded(name)
    master = parse_master_playlist(result.master.read_text())
    fps = float(output_fps(result.info.fps))
    for variant, summary in zip(master.variants, result.summary.rungs, strict=True):
        attributes = variant.attributes
        assert variant.uri == f"{summary.name}/index.m3u8"
        assert attributes["RESOLUTION"] == f"{summary.width}x{summary.height}"
        assert float(attributes["FRAME-RATE"]) == pytest.approx(fps, abs=0.001)
        assert int(attributes["AVERAGE-BANDWIDTH"]) <= int(attributes["BANDWIDTH"])
        codecs = attributes["CODECS"].split(",")
        assert codecs[0].startswith("avc1.64")  # x264 High profile
        assert (codecs[1:] == ["mp4a.40.2"]) == result.info.has_audio
    assert ("audio/index.m3u8" in result.master.read_text()) == result.info.has_audio


def test_the_ladder_carries_the_default_audio_track(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("two_audio_tracks")
    with av.open(str(result.out_dir / "audio" / "index.m3u8")) as container:
        assert container.streams.audio[0].codec_context.channels == 2  # the stereo default, not the mono first


def test_bandwidth_includes_the_shared_audio(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("normal")
    playlist = result.out_dir / "360p" / "index.m3u8"
    segments = parse_media_playlist(playlist.read_text()).segments
    video_peak = max((playlist.parent / s.uri).stat().st_size * 8 / s.duration_s for s in segments)
    audio_rate = 100_000  # 128k AAC in TS never measures below this
    assert result.summary.rungs[0].bandwidth >= video_peak * 0.99 + audio_rate


@ALL
def test_video_is_upright_yuv420p_cfr_and_at_most_60_fps(encoded: Callable[[str], Encoded], name: str) -> None:
    result = encoded(name)
    expected_fps = output_fps(result.info.fps)
    assert expected_fps <= MAX_FPS
    for summary in result.summary.rungs:
        with av.open(str(result.out_dir / summary.name / "index.m3u8")) as container:
            stream = container.streams.video[0]
            frames = list(container.decode(stream))
        assert {(f.width, f.height) for f in frames} == {(summary.width, summary.height)}
        assert {f.format.name for f in frames} == {"yuv420p"}
        assert {f.rotation for f in frames} == {0}, "rotation side data must not survive"
        steps = {round(float((b.pts - a.pts) * b.time_base), 4) for a, b in pairwise(frames)}
        assert steps == {round(1 / float(expected_fps), 4)}, f"{summary.name} is not CFR at {expected_fps}"
        assert len(frames) == pytest.approx(summary.duration_s * float(expected_fps), abs=2)


@ALL
def test_keyframes_at_every_segment_start_and_segments_aligned(encoded: Callable[[str], Encoded], name: str) -> None:
    result = encoded(name)
    durations = []
    for summary in result.summary.rungs:
        directory = result.out_dir / summary.name
        playlist = parse_media_playlist((directory / "index.m3u8").read_text())
        durations.append([s.duration_s for s in playlist.segments])
        for segment in playlist.segments:
            with av.open(str(directory / segment.uri)) as container:
                first = next(p for p in container.demux(container.streams.video[0]) if p.size)
                assert first.is_keyframe, f"{summary.name}/{segment.uri} does not start on a keyframe"
    assert all(d == durations[0] for d in durations), durations
    assert all(d == pytest.approx(SEGMENT_S, abs=0.01) for d in durations[0][:-1])


def test_rotated_source_comes_out_portrait_keyed_on_its_short_side(encoded: Callable[[str], Encoded]) -> None:
    # Coded 320x240 turned 90°: displayed 240x320, so its short side (240) picks the rungs.
    result = encoded("rotated")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(240, 320), (144, 192)]


def test_portrait_source_keeps_its_resolution(encoded: Callable[[str], Encoded]) -> None:
    # A 360x640 upload gets a 360p rung of 360x640, not 202x360 (rungs keyed on the height).
    result = encoded("portrait")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(360, 640), (240, 426), (144, 256)]
    for rung in result.summary.rungs:
        with av.open(str(result.out_dir / rung.name / "index.m3u8")) as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (rung.width, rung.height)


def test_joined_recordings_encode_to_their_real_length(encoded: Callable[[str], Encoded], ffmpeg_bin: str) -> None:
    # Two 1 s recordings 5000 s apart in their timestamps: a 2 s ladder that verifies
    # (before, probe said 5001 s and every attempt failed verification as "too short").
    result = encoded("joined_recordings")
    assert result.info.duration_s == pytest.approx(2.0, abs=0.1)
    for rung in result.summary.rungs:
        assert rung.duration_s == pytest.approx(2.0, abs=0.1)
    audio = parse_media_playlist((result.out_dir / "audio" / "index.m3u8").read_text())
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)
    # Both recordings are in it, played back to back: frames from either side of the join.
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        times = [float(frame.time) for frame in container.decode(video=0)]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx(2.0 - 1 / 30, abs=0.05)


def test_odd_source_gets_even_sizes(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("odd_size")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(640, 360), (426, 240), (256, 144)]


def test_anamorphic_source_gets_square_pixels_at_its_display_aspect(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("anamorphic")
    top = result.summary.rungs[0]
    assert (top.width, top.height) == (428, 240)
    with av.open(str(result.out_dir / top.name / "index.m3u8")) as container:
        assert container.streams.video[0].sample_aspect_ratio in (None, 1)


def test_high_frame_rate_is_halved_to_60(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("high_fps")
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        assert container.streams.video[0].average_rate == 60


def test_hdr_is_tone_mapped_to_sdr(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("hdr_hlg")
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        frame = next(container.decode(video=0))
    assert frame.color_trc == 1  # BT.709, no longer HLG (18)


def test_progress_rises_to_100(encoded: Callable[[str], Encoded]) -> None:
    progress = encoded("normal").progress
    assert progress, "on_progress was never called"
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in progress)


def test_interlaced_source_comes_out_progressive(
    encoded: Callable[[str], Encoded], clip: Callable[[str], Path], ffmpeg_bin: str
) -> None:
    def idet(path: Path) -> dict[str, int]:
        """ffmpeg's interlace detector: frames that look TFF, BFF or progressive."""
        report = subprocess.run([ffmpeg_bin, "-hide_banner", "-nostdin", "-i", str(path), "-an", "-vf", "idet",
                                 "-f", "null", "-"], capture_output=True, text=True).stderr
        # ffmpeg may print a report per filter-graph instance; the last one saw the frames.
        line = [line for line in report.splitlines() if "Multi frame detection" in line][-1]
        counts = dict(re.findall(r"(TFF|BFF|Progressive):\s*(\d+)", line))
        return {name: int(value) for name, value in counts.items()}

    source = idet(clip("interlaced"))
    assert source["TFF"] > source["Progressive"]  # the clip really is combed
    out = idet(encoded("interlaced").out_dir / "360p" / "index.m3u8")
    assert out["Progressive"] > 10 * (out["TFF"] + out["BFF"] + 1) or (out["TFF"] + out["BFF"]) == 0
