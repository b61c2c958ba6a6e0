"""The allowlist of source containers (domain.containers) and how every open of a source applies it."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoctl.domain import containers
from videoctl.domain.containers import ALLOWED_DEMUXERS, LIST_DEMUXERS, list_kind, refusal
from videoctl.domain.ladder import parse_ladder
from videoctl.domain.threads import plan_threads
from videoctl.media.encode import build_ladder_args, build_rendition_args
from videoctl.media.loudness import measure_args
from videoctl.media.probe import SourceInfo
from videoctl.media.source_input import input_args, source_url


@pytest.mark.parametrize("demuxer", [*ALLOWED_DEMUXERS, "mov", "mp4", "webm", "matroska", "3gp"])
def test_the_containers_uploads_come_in_are_allowed(demuxer):
    assert refusal(demuxer) is None


@pytest.mark.parametrize(("demuxer", "kind"), [
    ("hls", "an HLS playlist"),
    ("dash", "a DASH manifest"),
    ("webm_dash_manifest", "a DASH manifest"),
    ("concat", "an ffmpeg concat list"),
    ("imf", "an IMF composition playlist"),
    ("sdp", "an SDP session description"),
])
def test_lists_of_other_files_are_refused_by_their_kind(demuxer, kind):
    reason = refusal(demuxer)
    assert reason is not None and kind in reason and "names other files" in reason


@pytest.mark.parametrize("demuxer", ["png_pipe", "jpeg_pipe", "webp_pipe"])
def test_pictures_are_refused(demuxer):
    assert refusal(demuxer) == f"still images are not supported ({demuxer}): upload a video"


def test_image_sequences_are_refused():
    assert refusal("image2") == "still images and image sequences are not supported (image2): upload a video"


@pytest.mark.parametrize("demuxer", ["mp3", "wav", "gif", "tty", "mpegtsraw", "mpegvideo", "h264", "asf_o",
                                     "live_flv", "matroskax", "mpe", "", "lavfi"])
def test_anything_else_is_refused_naming_what_is_accepted(demuxer):
    reason = refusal(demuxer)
    assert reason is not None and f"the {demuxer} format is not a video container" in reason
    assert "MP4/MOV/3GP" in reason and "ASF/WMV" in reason


def test_one_allowed_name_among_a_demuxers_names_allows_it_and_names_match_whole():
    assert refusal("mov,mp4,m4a,3gp,3g2,mj2") is None
    assert refusal("something,webm") is None
    assert refusal("mpegts2,xmov") is not None


def test_the_ffmpeg_whitelist_holds_every_allowed_demuxer_and_no_list():
    names = containers.format_whitelist().split(",")
    for demuxer in ALLOWED_DEMUXERS:
        assert set(demuxer.split(",")) <= set(names)
    assert not set(names) & {*LIST_DEMUXERS, "image2", "png_pipe"}


@pytest.mark.parametrize(("head", "kind"), [
    (b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n", "an HLS playlist (M3U8)"),
    (b"\xef\xbb\xbf\r\n  #EXTM3U\n", "an HLS playlist (M3U8)"),
    (b"ffconcat version 1.0\nfile a.mp4\n", "an ffmpeg concat list"),
    (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "a DASH manifest (MPD)"),
    (b"\x00\x00\x00\x20ftypisom", None),
    (b"\x1aE\xdf\xa3 matroska", None),
    (b"", None),
    (b"hello #EXTM3U", None),
])
def test_a_list_is_named_by_how_it_starts(head, kind):
    assert list_kind(head) == kind


def test_a_list_of_unknown_kind_is_still_named_a_list():
    assert containers.list_refusal(None).startswith("the source is a playlist or a list of files, which names other files")


INFO = SourceInfo(duration_s=2.0, width=640, height=360, coded_width=640, coded_height=360, rotation=0, fps=30.0,
                  is_vfr=False, has_audio=True, video_codec="h264", pix_fmt="yuv420p", bit_depth=8,
                  audio_codec="aac", size_bytes=1000, audio_channels=2)


def _input_of(args: list[str]) -> tuple[dict[str, str], str]:
    """The whitelists given before ``-i`` (input options precede their input), and the input's URL."""
    at = args.index("-i")
    options = {name: args[args.index(name) + 1] for name in ("-format_whitelist", "-protocol_whitelist")
               if name in args[:at]}
    return options, args[at + 1]


def test_every_ffmpeg_command_that_reads_the_source_takes_the_allowlist_and_the_file_protocol(tmp_path):
    rungs = parse_ladder("360:800,240:400")
    src = tmp_path / "source"
    ladder = build_ladder_args("ffmpeg", src, tmp_path / "out", INFO, rungs, threads=plan_threads(2, [1, 1]))
    loudness = measure_args("ffmpeg", src, [1])
    commands = [ladder, *build_rendition_args("ffmpeg", src, tmp_path / "out", INFO, rungs), input_args(src), loudness]
    for command in commands:
        assert command.count("-i") == 1
        options, url = _input_of(command)
        assert options["-format_whitelist"] == containers.format_whitelist()
        assert options["-protocol_whitelist"] == "file"
        assert url == f"file:{src}"


def test_the_source_url_is_an_absolute_file_path_whatever_the_path_looks_like(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert source_url(Path("concat:a.mp4|b.mp4")) == f"file:{tmp_path}/concat:a.mp4|b.mp4"
    assert source_url("data:video/mp4;base64,AAAA") == f"file:{tmp_path}/data:video/mp4;base64,AAAA"
    assert source_url(tmp_path / "source") == f"file:{tmp_path}/source"
