"""The ffmpeg command lines and progress parsing: pure, no ffmpeg is run."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from videoctl.domain.audio import AudioTrack, GainDecision
from videoctl.domain.chunks import RUNUP_FRAMES, plan_chunks, runup_frames, tail_frames
from videoctl.domain.ladder import DEFAULT_LADDER, choose_rungs, parse_ladder
from videoctl.domain.threads import ThreadPlan
from videoctl.media.encode import (
    ProgressParser,
    build_ladder_args,
    build_rendition_args,
    ladder_threads,
    parse_progress_line,
)
from videoctl.media.probe import TIMESTAMP_JUMP_S, SourceInfo

SOURCE = SourceInfo(
    duration_s=30.0,
    width=1920,
    height=1080,
    coded_width=1920,
    coded_height=1080,
    rotation=0,
    fps=30.0,
    is_vfr=False,
    has_audio=True,
    video_codec="h264",
    pix_fmt="yuv420p",
    bit_depth=8,
    audio_codec="aac",
    size_bytes=1,
    audio_channels=6,
    video_stream_index=0,
    audio_stream_index=1,
)


def _option(args: list[str], name: str) -> str:
    """Value following ``name``; fails if the option is absent or repeated."""
    assert args.count(name) == 1, f"{name} appears {args.count(name)} times"
    return args[args.index(name) + 1]


def _ladder(info: SourceInfo = SOURCE, cpus: float = 2, **kwargs: object) -> list[str]:
    rungs = choose_rungs(DEFAULT_LADDER, info.short_side)
    threads = ladder_threads(info, rungs, cpus)
    return build_ladder_args("ffmpeg", Path("/in/src.mp4"), Path("/out"), info, rungs, threads=threads, **kwargs)  # type: ignore[arg-type]


def test_one_process_one_decode_cascaded_scaling() -> None:
    args = _ladder()
    assert args[0] == "ffmpeg"
    assert args.count("-i") == 1
    graph = _option(args, "-filter_complex")
    assert graph.startswith("[0:0]fps=fps=30:start_time=0[s0];[s0]format=yuv420p[s1];"
                            "[s1]bwdif=deint=interlaced:mode=send_frame:parity=auto[")
    assert "format=yuv420p" in graph
    # Each rung is scaled from the output of the rung above, not from the source.
    scales = [part for part in graph.split(";") if "scale=" in part]
    assert [s.split("scale=")[1].split("[")[0] for s in scales] == ["1920:1080", "1280:720", "854:480", "640:360"]
    assert graph.count("split=2") == 3
    assert "zscale" not in graph


def test_rate_control_and_gop() -> None:
    args = _ladder()
    assert _option(args, "-c:v") == "libx264"
    assert _option(args, "-preset") == "veryfast"
    assert _option(args, "-crf") == "23"
    for index, (maxrate, bufsize) in enumerate([(5000, 10000), (3000, 6000), (1500, 3000), (800, 1600)]):
        assert _option(args, f"-maxrate:v:{index}") == f"{maxrate}k"
        assert _option(args, f"-bufsize:v:{index}") == f"{bufsize}k"
    assert _option(args, "-g") == _option(args, "-keyint_min") == "120"
    assert _option(args, "-sc_threshold") == "0"


@pytest.mark.parametrize(
    ("cpus", "decoder", "filters", "encoders"),
    [(1, 1, 1, [1, 1, 1, 1]), (2, 3, 2, [2, 1, 1, 1]), (4, 5, 4, [5, 2, 1, 1]), (1.5, 3, 2, [2, 1, 1, 1])],
)
def test_threads_follow_the_cpu_budget(cpus: float, decoder: int, filters: int, encoders: list[int]) -> None:
    args = _ladder(cpus=cpus)
    # The decoder's -threads is an input option: it must come before the one -i.
    assert args[args.index("-i") - 2 : args.index("-i")] == ["-threads", str(decoder)]
    assert _option(args, "-filter_complex_threads") == str(filters)
    assert [_option(args, f"-threads:v:{index}") for index in range(4)] == [str(n) for n in encoders]


def test_hls_muxer_options_and_progress() -> None:
    args = _ladder(segment_s=6, preset="medium", crf=21, segment_format="ts")
    assert _option(args, "-f") == "hls"
    assert _option(args, "-hls_time") == "6"
    assert _option(args, "-g") == "180"
    assert _option(args, "-preset") == "medium"
    assert _option(args, "-crf") == "21"
    assert _option(args, "-hls_playlist_type") == "vod"
    assert _option(args, "-hls_flags") == "independent_segments"
    assert _option(args, "-hls_segment_type") == "mpegts"
    assert _option(args, "-master_pl_name") == "master.m3u8"
    assert _option(args, "-hls_segment_filename") == "/out/%v/seg_%05d.ts"
    assert "-hls_fmp4_init_filename" not in args and "-avoid_negative_ts" not in args
    assert args[-1] == "/out/%v/index.m3u8"
    assert _option(args, "-progress") == "pipe:1"
    assert "-nostats" in args and "-y" in args and "-nostdin" in args


def test_fmp4_is_the_default_cmaf_segment_format() -> None:
    args = _ladder()
    assert _option(args, "-hls_segment_type") == "fmp4"
    assert _option(args, "-hls_segment_filename") == "/out/%v/seg_%05d.m4s"
    assert _option(args, "-hls_fmp4_init_filename") == "init_%v.mp4"
    # Encoded timestamps reach the muxer unshifted: one edit per track, no empty edit delaying it.
    assert _option(args, "-avoid_negative_ts") == "disabled"


def test_a_single_variant_names_its_init_segment_itself() -> None:
    # ffmpeg expands %v in the init segment's name only when there are several variant streams.
    silent = replace(SOURCE, has_audio=False, audio_codec=None, audio_stream_index=None, audio_channels=0)
    rungs = parse_ladder("360:800")
    args = build_ladder_args("ffmpeg", Path("/in/src.mp4"), Path("/out"), silent, rungs,
                             threads=ladder_threads(silent, rungs, 2))
    assert _option(args, "-hls_fmp4_init_filename") == "init_360p.mp4"


def test_unknown_segment_format_is_refused() -> None:
    with pytest.raises(ValueError, match="segment format"):
        _ladder(segment_format="webm")


def test_video_and_audio_both_start_at_zero() -> None:
    # A source whose audio starts late is padded with silence (and its video with its first
    # frame), so tracks whose fMP4 timelines each begin at 0 stay in sync.
    graph = _option(_ladder(), "-filter_complex")
    assert "fps=fps=30:start_time=0[" in graph
    assert "aresample=48000:async=1:first_pts=0[" in graph


def test_pictures_branch_off_the_top_and_lowest_rungs_as_jpeg_outputs() -> None:
    plain = _ladder()
    args = _ladder(pictures=True)
    graph = _option(args, "-filter_complex")
    assert args.count("-i") == 1, "the pictures come from the ladder's decode"
    # Two taps; the poster splits into candidates and first frame, then into its two sizes;
    # the storyboard into its placeholder sheet and its tiles.
    assert graph.count("split=2") == plain_graph_splits(plain) + 2 + 2 + 1
    assert "thumbnail=n=30" in graph and "entropy" in graph and "signalstats" in graph
    # Each picture output gets a frame at once (ffmpeg reports no progress before), then the real one.
    assert graph.count("trim=end_frame=1") == 2 and graph.count("concat=a=0:n=2:v=1") == 2
    assert "tile=10x3" in graph and "scale=160:90" in graph  # 30 s: 30 tiles of 160x90, one a second
    outputs = [arg for arg in args if arg.endswith(".jpg")]
    assert [Path(path).name for path in outputs] == ["poster.jpg", "poster-320.jpg", "storyboard-%d.jpg"]
    assert args.count("mjpeg") == 3
    # The ladder's own output is unchanged and comes first (-progress follows it).
    assert args.index("/out/%v/index.m3u8") < args.index(outputs[0])


def plain_graph_splits(args: list[str]) -> int:
    return _option(args, "-filter_complex").count("split=2")


def test_audio_once_in_a_shared_group() -> None:
    args = _ladder()
    assert _option(args, "-var_stream_map") == (
        "v:0,agroup:audio,name:1080p v:1,agroup:audio,name:720p v:2,agroup:audio,name:480p "
        "v:3,agroup:audio,name:360p a:0,agroup:audio,name:audio"
    )
    assert _option(args, "-c:a") == "aac"
    assert _option(args, "-profile:a") == "aac_low"
    assert _option(args, "-b:a:0") == "128k"
    assert _option(args, "-ac:a:0") == "2"  # 5.1 downmixed to stereo
    assert _option(args, "-ar:a:0") == "48000"
    maps = [args[i + 1] for i, arg in enumerate(args) if arg == "-map"]
    assert len(maps) == 5
    # The probed audio stream (index 1), through the graph's aresample, is the last output.
    audio_label = maps[-1].strip("[]")
    assert f"[0:1]aresample=48000:async=1:first_pts=0[{audio_label}]" in _option(args, "-filter_complex")


def _tracks(*tracks: AudioTrack) -> SourceInfo:
    default = next(track for track in tracks if track.default)
    return replace(SOURCE, audio_tracks=tracks, audio_stream_index=default.index, audio_channels=default.channels)


def test_every_audio_track_is_its_own_rendition_default_first() -> None:
    info = _tracks(AudioTrack(1, channels=2, sample_rate=44_100, language="kor"),
                   AudioTrack(2, channels=1, sample_rate=96_000, language="eng", default=True),
                   AudioTrack(3, channels=6, sample_rate=48_000, describes_video=True))
    args = _ladder(info)
    assert _option(args, "-var_stream_map").endswith(
        "a:0,agroup:audio,name:audio a:1,agroup:audio,name:audio_1 a:2,agroup:audio,name:audio_2")
    graph = _option(args, "-filter_complex")
    # The default (English, 96 kHz mono) first, resampled to 48 kHz and kept mono; the Korean
    # track keeps 44.1 kHz; the 5.1 description becomes stereo.
    maps = [args[i + 1].strip("[]") for i, arg in enumerate(args) if arg == "-map"][-3:]
    assert f"[0:2]aresample=48000:async=1:first_pts=0[{maps[0]}]" in graph
    assert f"[0:1]aresample=44100:async=1:first_pts=0[{maps[1]}]" in graph
    assert f"[0:3]aresample=48000:async=1:first_pts=0[{maps[2]}]" in graph
    assert [_option(args, f"-ac:a:{i}") for i in range(3)] == ["1", "2", "2"]
    assert [_option(args, f"-ar:a:{i}") for i in range(3)] == ["48000", "44100", "48000"]


def test_loudness_gain_and_limiter_only_where_decided() -> None:
    info = _tracks(AudioTrack(1, channels=2, sample_rate=48_000, default=True),
                   AudioTrack(2, channels=2, sample_rate=48_000))
    gains = {"audio": GainDecision(6.5, -2.5, "loud peaks"), "audio_1": GainDecision(-3.0, None, "too loud")}
    graph = _option(_ladder(info, gains=gains), "-filter_complex")
    assert "[0:1]aresample=48000:async=1:first_pts=0[" in graph
    assert graph.count("volume=volume=") == 2 and "volume=volume=6.5dB" in graph and "volume=volume=-3dB" in graph
    assert graph.count("alimiter=") == 1
    assert "alimiter=latency=1:level=0:limit=0.7499" in graph
    assert "volume" not in _option(_ladder(info), "-filter_complex")


def test_timestamp_jumps_are_closed_at_probes_threshold_and_audio_kept_continuous() -> None:
    args = _ladder()
    assert _option(args, "-dts_delta_threshold") == f"{TIMESTAMP_JUMP_S:g}"
    assert ":async=1:" in _option(args, "-filter_complex")


def test_no_audio_output_for_a_silent_source() -> None:
    args = _ladder(replace(SOURCE, has_audio=False, audio_codec=None, audio_stream_index=None, audio_channels=0))
    assert "agroup" not in _option(args, "-var_stream_map")
    assert "name:audio" not in _option(args, "-var_stream_map")
    assert not [arg for arg in args if arg.startswith(("-c:a", "-b:a", "-ar", "-ac", "-profile:a"))]
    assert len([arg for arg in args if arg == "-map"]) == 4


def test_high_frame_rate_is_halved_and_gop_follows() -> None:
    args = _ladder(replace(SOURCE, fps=120.0))
    assert "fps=fps=60:start_time=0[" in _option(args, "-filter_complex")
    assert _option(args, "-g") == "240"


def test_ntsc_rate_stays_exact() -> None:
    args = _ladder(replace(SOURCE, fps=30000 / 1001))
    assert "fps=fps=30000/1001:start_time=0[" in _option(args, "-filter_complex")


def test_hdr_is_tone_mapped_before_the_8_bit_conversion() -> None:
    graph = _option(_ladder(replace(SOURCE, is_hdr=True, pix_fmt="yuv420p10le", bit_depth=10)), "-filter_complex")
    assert graph.index("tonemap=") < graph.index("format=yuv420p")


def test_rotated_source_scales_to_displayed_size_keyed_on_its_short_side() -> None:
    portrait = replace(SOURCE, width=1080, height=1920, rotation=90)
    graph = _option(_ladder(portrait), "-filter_complex")
    scales = [part.split("scale=")[1].split("[")[0] for part in graph.split(";") if "scale=" in part]
    assert scales == ["1080:1920", "720:1280", "480:854", "360:640"]
    assert "transpose" not in graph  # ffmpeg's autorotation does it; doing it too would turn twice


def test_maps_the_probed_video_stream_not_a_cover_image() -> None:
    graph = _option(_ladder(replace(SOURCE, video_stream_index=2)), "-filter_complex")
    assert graph.startswith("[0:2]")


def test_rendition_baseline_is_one_process_per_rendition() -> None:
    commands = build_rendition_args("ffmpeg", Path("/in/src.mp4"), Path("/out"), SOURCE, parse_ladder("720:3000,360:800"))
    assert len(commands) == 2  # one complete rendition (video + its own audio) each
    video_720, video_360 = commands
    for command in commands:
        assert command.count("-i") == 1
        assert _option(command, "-c:a") == "aac" and _option(command, "-c:v") == "libx264"
    assert "scale=1280:720" in _option(video_720, "-filter_complex")
    assert "scale=640:360" in _option(video_360, "-filter_complex")
    assert _option(video_360, "-maxrate") == "800k"
    assert "-threads" not in video_720
    assert video_720[-1] == "/out/720p/index.m3u8"


def test_builders_refuse_an_empty_ladder() -> None:
    with pytest.raises(ValueError):
        build_ladder_args("ffmpeg", Path("s"), Path("o"), SOURCE, (), threads=ThreadPlan(1, 1, ()))


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("out_time_us=1500000\n", ("out_time_us", "1500000")),
        ("progress=end", ("progress", "end")),
        ("out_time=00:00:01.500000", ("out_time", "00:00:01.500000")),
        ("bitrate=N/A", ("bitrate", "N/A")),
        ("", None),
        ("garbage", None),
        ("=x", None),
    ],
)
def test_parse_progress_line(line: str, parsed: tuple[str, str] | None) -> None:
    assert parse_progress_line(line) == parsed


def test_progress_parser_reports_at_block_ends() -> None:
    parser = ProgressParser(duration_s=10.0)
    block = ["frame=10", "out_time_us=N/A", "out_time_ms=N/A", "progress=continue"]
    assert [parser.feed(line) for line in block] == [None, None, None, 0.0]
    assert parser.feed("out_time_us=2500000") is None
    assert parser.feed("progress=continue") == pytest.approx(25.0)
    parser.feed("out_time_ms=5000000")  # ffmpeg's out_time_ms is in microseconds too
    assert parser.feed("progress=continue") == pytest.approx(50.0)
    parser.feed("out_time_us=-23000")  # negative at start on some inputs; never goes back
    assert parser.feed("progress=continue") == pytest.approx(50.0)
    parser.feed("out_time_us=12000000")
    assert parser.feed("progress=continue") == 100.0  # clamped
    assert parser.feed("progress=end") == 100.0


def test_a_chunk_encodes_its_tail_but_its_storyboard_tiles_stop_at_its_own_last_frame():
    plan = plan_chunks(SOURCE.duration_s, Fraction(30), segment_s=2, chunk_s=8, chunk_after_s=0)
    rungs = choose_rungs(parse_ladder("1080:5000,360:800"), SOURCE.short_side)
    first, last = plan.chunks[0], plan.chunks[-1]

    def graph(chunk):
        return _option(build_ladder_args("ffmpeg", Path("in.mp4"), Path("out"), SOURCE, rungs,
                                         threads=ladder_threads(SOURCE, rungs, 2), preset="veryfast", pictures=True,
                                         chunk=chunk), "-filter_complex")

    assert f"trim=end_frame={first.frames + tail_frames('veryfast', plan.segment_frames)}[" in graph(first)  # every rung sees the tail
    assert f"trim=end_frame={first.frames}[" in graph(first)  # the tiles' tap does not
    assert "end_frame=" not in graph(last)  # the last chunk runs to the end: no tail


def test_a_later_chunk_starts_with_a_run_up_in_a_segment_of_its_own_and_its_tiles_skip_it():
    plan = plan_chunks(SOURCE.duration_s, Fraction(30), segment_s=2, chunk_s=8, chunk_after_s=0)
    rungs = choose_rungs(parse_ladder("1080:5000,360:800"), SOURCE.short_side)
    first, second, last = plan.chunks[0], plan.chunks[1], plan.chunks[-1]
    runup = runup_frames(second, plan.segment_frames)
    assert runup == RUNUP_FRAMES and runup_frames(first, plan.segment_frames) == 0

    def starts(made):
        return [made[n + 1] for n, arg in enumerate(made) if arg == "-start_number"]

    def args(chunk):
        return build_ladder_args("ffmpeg", Path("in.mp4"), Path("out"), SOURCE, rungs,
                                 threads=ladder_threads(SOURCE, rungs, 2), preset="veryfast", pictures=True,
                                 chunk=chunk)

    made = args(second)
    graph = _option(made, "-filter_complex")
    assert f"trim=end_frame={runup + second.frames + tail_frames('veryfast', plan.segment_frames)}[" in graph
    assert f"trim=end_frame={runup + second.frames}:start_frame={runup}[" in graph  # the tiles: the chunk's own
    assert _option(made, "-force_key_frames") == f"expr:eq(n,{runup})"
    # The segments' first number (then the tiles'): the run-up's, thrown away.
    assert starts(made)[0] == str(second.first_segment - 1)
    assert float(_option(made, "-hls_time")) < runup / 30  # a cut at the chunk's first keyframe
    # Opened a run-up earlier: 240 frames in, 10 before.
    assert Fraction(_option(made, "-ss")) + Fraction(second.seek(Fraction(30), runup_frames=runup).fps_start_s) \
        == pytest.approx(Fraction(230, 30), abs=1e-6)
    assert f"trim=start_frame={runup}[" in _option(args(last), "-filter_complex")  # to the end, no tail
    assert "-force_key_frames" not in args(first) and starts(args(first))[0] == "0"
