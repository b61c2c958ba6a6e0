"""The ffmpeg command that scores encodes against their source: what it may open, and how."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from videoctl.domain import containers
from videoctl.domain.audio import AudioTrack
from videoctl.domain.quality import TimeRange
from videoctl.media.encode import COMMON_ARGS
from videoctl.media.probe import SourceInfo
from videoctl.media.quality import MODEL, Piece, build_score_args

INFO = SourceInfo(duration_s=60.0, width=640, height=360, coded_width=640, coded_height=360, rotation=0, fps=30.0,
                  is_vfr=False, has_audio=True, video_codec="h264", pix_fmt="yuv420p", bit_depth=8,
                  audio_codec="aac", size_bytes=1000, audio_channels=2, audio_stream_index=1,
                  audio_tracks=(AudioTrack(index=1, channels=2, sample_rate=48000, default=True),))


def _inputs(args: list[str]) -> list[tuple[dict[str, str], str]]:
    """Each input's options (the words since the previous input: option, value, …) and its URL."""
    start = 1 + len(COMMON_ARGS)
    assert tuple(args[1:start]) == COMMON_ARGS
    found = []
    for at, word in enumerate(args):
        if word == "-i":
            found.append((dict(zip(args[start:at:2], args[start + 1:at:2], strict=False)), args[at + 1]))
            start = at + 2
    return found


def _args(tmp_path: Path, piece: Piece, info: SourceInfo = INFO) -> list[str]:
    logs = [tmp_path / f"log-{n}.json" for n in range(len(piece.distorted))]
    return build_score_args("ffmpeg", tmp_path / "source", info, piece, logs, fps=Fraction(30), threads=2)


def test_the_source_is_opened_as_the_encode_opens_it_and_each_output_with_its_demuxer_named(tmp_path):
    piece = Piece(TimeRange(8.0, 4.0), (tmp_path / "cuts/720p-2.mp4", tmp_path / "cuts/360p-2.ts"))
    (source_options, source), (mp4_options, mp4), (ts_options, ts) = _inputs(_args(tmp_path, piece))
    assert source == f"file:{tmp_path}/source"
    assert source_options["-format_whitelist"] == containers.format_whitelist()
    assert source_options["-protocol_whitelist"] == "file"
    assert (source_options["-ss"], source_options["-t"]) == ("8.000000", "4.000000")  # the stretch, sought
    assert (mp4_options["-f"], mp4, ts_options["-f"], ts) == ("mov", f"file:{tmp_path}/cuts/720p-2.mp4",
                                                              "mpegts", f"file:{tmp_path}/cuts/360p-2.ts")
    assert mp4_options["-protocol_whitelist"] == ts_options["-protocol_whitelist"] == "file"
    assert "-ss" not in mp4_options  # a cut starts where its stretch does


def test_a_local_playlist_is_read_by_the_hls_demuxer_from_files_only(tmp_path):
    args = _args(tmp_path, Piece(None, (tmp_path / "hls/720p/index.m3u8",)))
    (source_options, _), (options, url) = _inputs(args)
    assert "-ss" not in source_options  # the whole source
    assert (options["-f"], options["-protocol_whitelist"], url) == ("hls", "file", f"file:{tmp_path}/hls/720p/index.m3u8")


def test_each_output_is_scored_by_the_built_in_model_with_psnr_into_its_json_log(tmp_path):
    args = _args(tmp_path, Piece(None, (tmp_path / "a.mp4", tmp_path / "b.mp4")))
    graph = args[args.index("-filter_complex") + 1]
    assert graph.count("libvmaf=") == 2 and graph.count("split=2") == 1  # one decode of the source for both
    assert graph.count(MODEL.replace("=", "\\\\=")) == 2 and graph.count("name\\\\=psnr") == 2
    assert f"log_path={tmp_path}/log-0.json" in graph and f"log_path={tmp_path}/log-1.json" in graph
    assert graph.count("n_threads=2") == 2 and graph.count("shortest=1") == 2
    # The audio the encode read is read too, and dropped: it places the video on the file's timeline.
    assert "aresample" in graph and args.count("null") == 3


def test_in_a_file_whose_timestamps_jump_the_stretch_is_cut_on_the_ladders_timeline(tmp_path):
    from dataclasses import replace

    args = _args(tmp_path, Piece(TimeRange(8.0, 4.0), (tmp_path / "cut.mp4",)), replace(INFO, timestamps_jump=True))
    (source_options, _), _ = _inputs(args)
    assert "-ss" not in source_options
    graph = args[args.index("-filter_complex") + 1]
    assert "trim=duration=4.000000:start=8.000000" in graph
    assert graph.index("fps=") < graph.index("trim=")  # after the frame rate: the ladder's timeline
