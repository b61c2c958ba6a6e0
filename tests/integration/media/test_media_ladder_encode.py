"""Every playable clip through encode_ladder → finalize_master → verify_ladder, then played back.

Tiny ladder (360/240/144) and 1 s segments, so 2 s clips give several segments per variant
and the whole module stays within seconds on 2 cores. Every clip is encoded in fMP4 (CMAF,
the default); the MPEG-TS format runs the same checks on the clips in ``TS_CLIPS``.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av
import pytest

from tests.clips import LATE_AUDIO_S, PLAYABLE, first_sound_s
from videoctl.domain.ladder import MAX_FPS, Rung, choose_rungs, output_fps, parse_ladder
from videoctl.media.encode import FMP4, TS, encode_ladder
from videoctl.media.hls import LadderSummary, finalize_master, verify_ladder
from videoctl.media.m3u8 import MediaPlaylist, parse_master_playlist, parse_media_playlist
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
) -> Callable[..., Encoded]:
    """``encoded("rotated")`` → that clip's fMP4 ladder (``encoded("rotated", "ts")``: MPEG-TS), encoded once per module."""
    done: dict[tuple[str, str], Encoded] = {}

    def get(name: str, segment_format: str = FMP4) -> Encoded:
        if (name, segment_format) not in done:
            source = clip(name)
            info = probe(source)
            rungs = choose_rungs(LADDER, info.short_side)
            out_dir = tmp_path_factory.mktemp(f"hls-{name}-{segment_format}")
            progress: list[float] = []
            encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=SEGMENT_S, segment_format=segment_format,
                          on_progress=progress.append)
            master = finalize_master(out_dir, info, rungs)
            summary = verify_ladder(out_dir, info, rungs, segment_format=segment_format)
            done[name, segment_format] = Encoded(info, rungs, out_dir, master, summary, progress)
        return done[name, segment_format]

    return get


#: Clips the MPEG-TS format is checked on too: the common case and the shapes that touch timestamps.
TS_CLIPS = ("normal", "no_audio", "late_audio", "variable_frame_rate", "joined_recordings", "high_fps")
ALL = pytest.mark.parametrize(
    ("name", "segment_format"),
    [(name, FMP4) for name in PLAYABLE] + [(name, TS) for name in TS_CLIPS],
)


def open_segment(directory: Path, playlist: MediaPlaylist, uri: str) -> av.container.InputContainer:
    """A segment as a player reads it: an fMP4 fragment behind its init segment, a TS segment alone."""
    if playlist.map_uri is None:
        return av.open(str(directory / uri))
    return av.open(io.BytesIO((directory / playlist.map_uri).read_bytes() + (directory / uri).read_bytes()))


@ALL
def test_ladder_verifies_and_summary_matches(encoded: Callable[..., Encoded], name: str, segment_format: str) -> None:
    result = encoded(name, segment_format)
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
def test_master_plays_with_ffmpeg(encoded: Callable[..., Encoded], ffmpeg_bin: str, name: str,
                                 segment_format: str) -> None:
    master = encoded(name, segment_format).master
    result = subprocess.run(
        [ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-i", str(master), "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@ALL
def test_audio_present_exactly_when_the_source_has_it(encoded: Callable[..., Encoded], name: str,
                                                     segment_format: str) -> None:
    result = encoded(name, segment_format)
    with av.open(str(result.master)) as container:
        assert bool(container.streams.audio) == result.info.has_audio
        assert len(container.streams.video) == len(result.rungs)
    assert (result.out_dir / "audio").is_dir() == result.info.has_audio


@ALL
def test_master_attributes(encoded: Callable[..., Encoded], name: str, segment_format: str) -> None:
    result = encoded(name, segment_format)
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
    assert f"#EXT-X-VERSION:{7 if segment_format == FMP4 else 6}" in result.master.read_text()


@ALL
def test_segments_are_of_the_format_asked_for(encoded: Callable[..., Encoded], name: str, segment_format: str) -> None:
    result = encoded(name, segment_format)
    for directory in [result.out_dir / rung.name for rung in result.summary.rungs] + (
            [result.out_dir / "audio"] if result.info.has_audio else []):
        playlist = parse_media_playlist((directory / "index.m3u8").read_text())
        suffixes = {Path(segment.uri).suffix for segment in playlist.segments}
        if segment_format == FMP4:
            # CMAF: an init segment per rendition, named by EXT-X-MAP, and .m4s fragments.
            assert playlist.map_uri == f"init_{directory.name}.mp4"
            assert suffixes == {".m4s"}
            assert (directory / playlist.map_uri).read_bytes()[4:8] == b"ftyp"
        else:
            assert playlist.map_uri is None and suffixes == {".ts"}


def test_the_ladder_carries_the_default_audio_track(encoded: Callable[..., Encoded]) -> None:
    result = encoded("two_audio_tracks")
    with av.open(str(result.out_dir / "audio" / "index.m3u8")) as container:
        assert container.streams.audio[0].codec_context.channels == 2  # the stereo default, not the mono first


@pytest.mark.parametrize("segment_format", [FMP4, TS])
def test_bandwidth_includes_the_shared_audio(encoded: Callable[..., Encoded], segment_format: str) -> None:
    result = encoded("normal", segment_format)
    playlist = result.out_dir / "360p" / "index.m3u8"
    segments = parse_media_playlist(playlist.read_text()).segments
    video_peak = max((playlist.parent / s.uri).stat().st_size * 8 / s.duration_s for s in segments)
    audio_rate = 100_000  # 128k AAC never measures below this, in TS or fMP4
    assert result.summary.rungs[0].bandwidth >= video_peak * 0.99 + audio_rate


@ALL
def test_video_is_upright_yuv420p_cfr_and_at_most_60_fps(encoded: Callable[..., Encoded], name: str,
                                                         segment_format: str) -> None:
    result = encoded(name, segment_format)
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
def test_keyframes_at_every_segment_start_and_segments_aligned(encoded: Callable[..., Encoded], name: str,
                                                              segment_format: str) -> None:
    result = encoded(name, segment_format)
    durations = []
    for summary in result.summary.rungs:
        directory = result.out_dir / summary.name
        playlist = parse_media_playlist((directory / "index.m3u8").read_text())
        durations.append([s.duration_s for s in playlist.segments])
        for segment in playlist.segments:
            with open_segment(directory, playlist, segment.uri) as container:
                first = next(p for p in container.demux(container.streams.video[0]) if p.size)
                assert first.is_keyframe, f"{summary.name}/{segment.uri} does not start on a keyframe"
    assert all(d == durations[0] for d in durations), durations
    assert all(d == pytest.approx(SEGMENT_S, abs=0.01) for d in durations[0][:-1])


def test_rotated_source_comes_out_portrait_keyed_on_its_short_side(encoded: Callable[..., Encoded]) -> None:
    # Coded 320x240 turned 90°: displayed 240x320, so its short side (240) picks the rungs.
    result = encoded("rotated")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(240, 320), (144, 192)]


def test_portrait_source_keeps_its_resolution(encoded: Callable[..., Encoded]) -> None:
    # A 360x640 upload gets a 360p rung of 360x640, not 202x360 (rungs keyed on the height).
    result = encoded("portrait")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(360, 640), (240, 426), (144, 256)]
    for rung in result.summary.rungs:
        with av.open(str(result.out_dir / rung.name / "index.m3u8")) as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (rung.width, rung.height)


@pytest.mark.parametrize("segment_format", [FMP4, TS])
def test_joined_recordings_encode_to_their_real_length(encoded: Callable[..., Encoded], segment_format: str) -> None:
    # Two 1 s recordings 5000 s apart in their timestamps: a 2 s ladder that verifies
    # (before, probe said 5001 s and every attempt failed verification as "too short").
    result = encoded("joined_recordings", segment_format)
    assert result.info.duration_s == pytest.approx(2.0, abs=0.1)
    for rung in result.summary.rungs:
        assert rung.duration_s == pytest.approx(2.0, abs=0.1)
    audio = parse_media_playlist((result.out_dir / "audio" / "index.m3u8").read_text())
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)
    # Both recordings are in it, played back to back: frames from either side of the join.
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        times = [float(frame.time) for frame in container.decode(video=0)]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx(2.0 - 1 / 30, abs=0.05)


def test_odd_source_gets_even_sizes(encoded: Callable[..., Encoded]) -> None:
    result = encoded("odd_size")
    assert [(r.width, r.height) for r in result.summary.rungs] == [(640, 360), (426, 240), (256, 144)]


def test_anamorphic_source_gets_square_pixels_at_its_display_aspect(encoded: Callable[..., Encoded]) -> None:
    result = encoded("anamorphic")
    top = result.summary.rungs[0]
    assert (top.width, top.height) == (428, 240)
    with av.open(str(result.out_dir / top.name / "index.m3u8")) as container:
        assert container.streams.video[0].sample_aspect_ratio in (None, 1)


def test_high_frame_rate_is_halved_to_60(encoded: Callable[..., Encoded]) -> None:
    result = encoded("high_fps")
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        assert container.streams.video[0].average_rate == 60


def test_hdr_is_tone_mapped_to_sdr(encoded: Callable[..., Encoded]) -> None:
    result = encoded("hdr_hlg")
    with av.open(str(result.out_dir / "240p" / "index.m3u8")) as container:
        frame = next(container.decode(video=0))
    assert frame.color_trc == 1  # BT.709, no longer HLG (18)


def test_progress_rises_to_100(encoded: Callable[..., Encoded]) -> None:
    progress = encoded("normal").progress
    assert progress, "on_progress was never called"
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in progress)


def test_interlaced_source_comes_out_progressive(
    encoded: Callable[..., Encoded], clip: Callable[[str], Path], ffmpeg_bin: str
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


@pytest.mark.parametrize("segment_format", [FMP4, TS])
def test_video_and_audio_start_together_and_late_audio_stays_late(
    encoded: Callable[..., Encoded], segment_format: str
) -> None:
    # The source's tone starts 0.5 s after its first frame. Each fMP4 track's timeline starts
    # at 0, so without padding the audio at the start the tone would move to 0 s, out of sync.
    result = encoded("late_audio", segment_format)
    video_playlist = result.out_dir / "360p" / "index.m3u8"
    audio_playlist = result.out_dir / "audio" / "index.m3u8"
    with av.open(str(video_playlist)) as container:
        video_start = float(next(container.decode(video=0)).time)
    with av.open(str(audio_playlist)) as container:
        audio_start = float(next(container.decode(audio=0)).time)
    if segment_format == FMP4:
        # One edit per track skips the B-frame delay and the AAC priming: both start at 0 exactly.
        assert video_start == audio_start == 0.0
    else:
        # MPEG-TS carries the 1024 priming samples before the first frame (1.4 s into the stream).
        assert video_start - audio_start == pytest.approx(1024 / 48000, abs=0.001)
    assert first_sound_s(audio_playlist) - video_start == pytest.approx(LATE_AUDIO_S, abs=0.01)
