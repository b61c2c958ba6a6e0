"""Caption tracks with real ffmpeg: text subtitle streams found and extracted from generated clips
(mov_text in MP4, SRT and ASS in Matroska), sidecars winning over them, packaging beside an encoded
ladder with the timestamp map read off its first segment, and verification catching damage."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from tests.clips import SUBTITLE_CUES
from videoctl.domain.captions import Cue, read_webvtt, timestamp_map
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import choose_rungs, parse_ladder
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.captions import (
    EmbeddedStream,
    collect_tracks,
    embedded_text_streams,
    ladder_start_s,
    package_captions,
    verify_captions,
)
from videoctl.media.encode import MEDIA_PLAYLIST, encode_ladder
from videoctl.media.m3u8 import parse_media_playlist
from videoctl.media.probe import SourceInfo, probe

pytestmark = pytest.mark.slow

Clip = Callable[[str], Path]
SEGMENT_S = 1
CLIP_CUES = [Cue(round(start * 1000), round(end * 1000), text) for start, end, text in SUBTITLE_CUES]


def sidecar(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ladder(clip: Clip, ffmpeg_bin: str, tmp_path_factory) -> Callable[[str], tuple[Path, SourceInfo, Path]]:
    """``ladder(name)`` → (source, its probe, the out_dir of its encoded TS ladder), encoded once."""
    done: dict[str, tuple[Path, SourceInfo, Path]] = {}

    def get(name: str) -> tuple[Path, SourceInfo, Path]:
        if name not in done:
            source = clip(name)
            info = probe(source)
            out_dir = tmp_path_factory.mktemp(f"ladder-{name}") / "hls"
            rungs = choose_rungs(parse_ladder("240:400,180:200"), info.height)
            encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=SEGMENT_S, preset="ultrafast",
                          segment_format="ts")
            done[name] = (source, info, out_dir)
        return done[name]

    return get


def lowest_rung_playlist(out_dir: Path) -> Path:
    return out_dir / "180p" / MEDIA_PLAYLIST


def packaged_copy(out_dir: Path, tmp_path: Path) -> Path:
    """The ladder copied, so each test packages into its own directory."""
    copy = tmp_path / "hls"
    shutil.copytree(out_dir, copy)
    return copy


# ---------------------------------------------------------------- finding and extracting


def test_text_streams_are_found_with_their_languages(clip: Clip):
    assert embedded_text_streams(clip("mov_text_subtitles")) == [EmbeddedStream(2, "mov_text", "ko")]
    # PyAV names an ASS track of Matroska "ssa".
    assert embedded_text_streams(clip("mkv_text_subtitles")) == [EmbeddedStream(1, "srt", "en"),
                                                                EmbeddedStream(2, "ssa", "und")]
    assert embedded_text_streams(clip("normal")) == []


@pytest.mark.parametrize(("name", "languages"), [("mov_text_subtitles", ["ko"]),
                                                 ("mkv_text_subtitles", ["en", "und"])])
def test_embedded_tracks_are_extracted_cue_for_cue(clip: Clip, ffmpeg_bin: str, tmp_path: Path, name, languages):
    tracks = collect_tracks(ffmpeg_bin, clip(name), {}, tmp_path)
    assert [track.language for track in tracks] == languages
    assert all(list(track.cues) == CLIP_CUES and not track.is_sidecar for track in tracks)


def test_a_sidecar_wins_over_the_embedded_track_of_its_language(clip: Clip, ffmpeg_bin: str, tmp_path: Path):
    english = sidecar(tmp_path, "en.srt", "1\n00:00:00,100 --> 00:00:00,900\nfrom the sidecar\n")
    tracks = collect_tracks(ffmpeg_bin, clip("mkv_text_subtitles"), {"en": english}, tmp_path)
    assert [(t.language, t.origin) for t in tracks] == [("en", "sidecar"), ("und", "stream 2")]
    assert tracks[0].cues == (Cue(100, 900, "from the sidecar"),)


def test_an_embedded_track_without_text_is_left_out(ffmpeg_bin: str, tmp_path: Path, caplog):
    blank = sidecar(tmp_path, "blank.srt", "1\n00:00:00,500 --> 00:00:01,000\n{\\an8}\n")
    spoken = sidecar(tmp_path, "spoken.srt", "1\n00:00:00,500 --> 00:00:01,000\nBonjour\n")
    source = tmp_path / "blank_track.mkv"
    subprocess.run([ffmpeg_bin, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
                    "-i", str(blank), "-i", str(spoken), "-map", "0:v", "-map", "1:s", "-map", "2:s",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "srt", "-metadata:s:s:0", "language=deu",
                    "-metadata:s:s:1", "language=fra", str(source)], check=True, capture_output=True)
    tracks = collect_tracks(ffmpeg_bin, source, {}, tmp_path)
    assert [(t.language, t.cues) for t in tracks] == [("fr", (Cue(500, 1000, "Bonjour"),))]
    left_out = [r for r in caplog.records if r.getMessage() == "subtitle stream left out"]
    assert [(r.stream, r.reason) for r in left_out] == [
        (1, "subtitle stream 1 (srt, de) holds no captions: not a single cue with text")]


# ---------------------------------------------------------------- where the ladder starts


def test_the_ts_ladder_starts_where_its_first_video_packet_is_shown(ladder):
    _, _, out_dir = ladder("mkv_text_subtitles")
    with av.open(str(out_dir / "180p" / "seg_00000.ts")) as segment:
        stream = segment.streams.video[0]
        first_shown = float(stream.start_time * stream.time_base)
    assert ladder_start_s(lowest_rung_playlist(out_dir)) == pytest.approx(first_shown, abs=1e-6)
    assert first_shown >= 1.4  # ffmpeg's MPEG-TS muxer starts the programme at 1.4 s


def test_an_fmp4_ladder_starts_at_its_first_decode_time(clip: Clip, ffmpeg_bin: str, tmp_path: Path):
    # With B-frames (veryfast) the first picture's own timestamp is two frames after its decode
    # time; the edit list takes that back out, so it is shown at the decode time, 0.
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(clip("normal")), "-map", "0:v", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", "30", "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4",
                    "-hls_playlist_type", "vod", "-hls_segment_filename", str(tmp_path / "seg_%03d.m4s"),
                    str(tmp_path / "index.m3u8")], check=True, capture_output=True)
    assert 'EXT-X-MAP:URI="init.mp4"' in (tmp_path / "index.m3u8").read_text()
    first = io.BytesIO((tmp_path / "init.mp4").read_bytes() + (tmp_path / "seg_000.m4s").read_bytes())
    with av.open(first, options={"ignore_editlist": "1"}) as fragment:
        packet = next(fragment.demux(video=0))
        assert (packet.dts, packet.pts) == (0, 2 * packet.duration)
    assert ladder_start_s(tmp_path / "index.m3u8") == 0.0


def test_a_playlist_without_video_cannot_place_captions(ladder):
    _, _, out_dir = ladder("mov_text_subtitles")
    with pytest.raises(VerifyFailed, match="holds no video"):
        ladder_start_s(out_dir / "audio" / MEDIA_PLAYLIST)


# ---------------------------------------------------------------- packaging


def test_packaging_writes_every_language_beside_the_ladder(ladder, ffmpeg_bin: str, tmp_path: Path):
    source, info, encoded = ladder("mkv_text_subtitles")
    out_dir = packaged_copy(encoded, tmp_path)
    korean = sidecar(tmp_path, "ko.srt", "1\n00:00:00,800 --> 00:00:01,200\nspans the first boundary\n\n"
                                         "2\n00:00:01,500 --> 00:00:09,000\nruns past the end\n\n"
                                         "3\n00:00:02,500 --> 00:00:03,000\nafter the end\n")
    english = sidecar(tmp_path, "en.vtt", "WEBVTT\n\n00:00.200 --> 00:00.400\nhi\n")

    renditions = package_captions(ffmpeg_bin, source, {"ko": korean, "en": english}, out_dir, info,
                                  segment_s=SEGMENT_S, video_playlist=lowest_rung_playlist(out_dir))

    assert renditions == [
        SubtitleRendition("ko", "한국어", True, "subs/ko.m3u8", "subs/ko.vtt"),
        SubtitleRendition("en", "English", False, "subs/en.m3u8", "subs/en.vtt"),
        SubtitleRendition("und", "Unknown language", False, "subs/und.m3u8", "subs/und.vtt"),
    ]
    duration_ms = round(info.duration_s * 1000)
    assert duration_ms == 2000
    whole = read_webvtt((out_dir / "subs/ko.vtt").read_text(), "ko")
    assert list(whole.cues) == [Cue(800, 1200, "spans the first boundary"), Cue(1500, 2000, "runs past the end")]

    playlist = parse_media_playlist((out_dir / "subs/ko.m3u8").read_text())
    assert [(s.uri, s.duration_s) for s in playlist.segments] == [("ko/0.vtt", 1.0), ("ko/1.vtt", 1.0)]
    assert playlist.target_duration == SEGMENT_S and playlist.ended
    header = (timestamp_map(ladder_start_s(lowest_rung_playlist(out_dir))),)
    first, second = (read_webvtt((out_dir / "subs/ko" / f"{n}.vtt").read_text(), "segment") for n in (0, 1))
    assert first.header == second.header == header
    assert [c.text for c in first.cues] == ["spans the first boundary"]
    assert [c.text for c in second.cues] == ["spans the first boundary", "runs past the end"]
    assert read_webvtt((out_dir / "subs/und.vtt").read_text(), "und").cues == tuple(CLIP_CUES)


def test_embedded_tracks_alone_are_packaged_without_a_default(ladder, ffmpeg_bin: str, tmp_path: Path):
    source, info, encoded = ladder("mov_text_subtitles")
    out_dir = packaged_copy(encoded, tmp_path)
    renditions = package_captions(ffmpeg_bin, source, {}, out_dir, info, segment_s=SEGMENT_S,
                                  video_playlist=lowest_rung_playlist(out_dir))
    assert renditions == [SubtitleRendition("ko", "한국어", False, "subs/ko.m3u8", "subs/ko.vtt")]


def test_no_captions_no_files(clip: Clip, ffmpeg_bin: str, tmp_path: Path):
    out_dir = tmp_path / "hls"
    out_dir.mkdir()
    source = clip("normal")
    # Nothing to package, so the ladder is not even read.
    assert package_captions(ffmpeg_bin, source, {}, out_dir, probe(source), segment_s=SEGMENT_S,
                            video_playlist=out_dir / "missing.m3u8") == []
    assert list(out_dir.iterdir()) == []


def test_a_track_with_every_cue_after_the_end_is_left_out(ladder, ffmpeg_bin: str, tmp_path: Path):
    source, info, encoded = ladder("mov_text_subtitles")
    out_dir = packaged_copy(encoded, tmp_path)
    late = sidecar(tmp_path, "fr.srt", "1\n00:00:05,000 --> 00:00:06,000\ntrop tard\n")
    renditions = package_captions(ffmpeg_bin, source, {"fr": late}, out_dir, info, segment_s=SEGMENT_S,
                                  video_playlist=lowest_rung_playlist(out_dir))
    assert [(r.language, r.default) for r in renditions] == [("ko", False)]
    assert not (out_dir / "subs" / "fr.m3u8").exists()


# ---------------------------------------------------------------- verification


@pytest.fixture
def packaged(ladder, ffmpeg_bin: str, tmp_path: Path) -> tuple[Path, list[SubtitleRendition], float]:
    source, info, encoded = ladder("mov_text_subtitles")
    out_dir = packaged_copy(encoded, tmp_path)
    renditions = package_captions(ffmpeg_bin, source, {}, out_dir, info, segment_s=SEGMENT_S,
                                  video_playlist=lowest_rung_playlist(out_dir))
    return out_dir, renditions, info.duration_s


def test_what_packaging_wrote_verifies(packaged):
    verify_captions(*packaged)


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda subs: (subs / "ko" / "1.vtt").unlink(), "subs/ko.m3u8 segment ko/1.vtt is missing"),
    (lambda subs: (subs / "ko.vtt").unlink(), "subs/ko.vtt is missing"),
    (lambda subs: (subs / "ko.m3u8").write_text((subs / "ko.m3u8").read_text().replace("#EXT-X-ENDLIST\n", "")),
     "subs/ko.m3u8: incomplete"),
    (lambda subs: (subs / "ko.m3u8").write_text((subs / "ko.m3u8").read_text().replace("#EXTINF:1.000,\nko/1.vtt\n", "")),
     "subs/ko.m3u8: its segments last 1.000 s, the video 2.000 s"),
    (lambda subs: (subs / "ko" / "0.vtt").write_text("WEBVTT\n\n00:00:00.500 --> 00:00:01.200\nno map\n"),
     "segment ko/0.vtt: no X-TIMESTAMP-MAP header"),
    (lambda subs: (subs / "ko" / "1.vtt").write_text(
        (subs / "ko" / "1.vtt").read_text() + "\n00:00:01.900 --> 00:00:02.500\npast the end\n"),
     "segment ko/1.vtt: a cue from 1.900 s to 2.500 s lies outside the video (0 to 2.000 s)"),
    (lambda subs: (subs / "ko.vtt").write_text("WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nlate\n"),
     "subs/ko.vtt: a cue from 3.000 s to 4.000 s lies outside the video"),
    (lambda subs: (subs / "ko.vtt").write_text("WEBVTT\n"), "subs/ko.vtt holds no cue"),
    (lambda subs: (subs / "ko.vtt").write_text("not webvtt\n"), "subs/ko.vtt: line 1: a WebVTT file must begin"),
])
def test_damage_is_a_verify_failure(packaged, damage, problem):
    out_dir, renditions, duration_s = packaged
    damage(out_dir / "subs")
    with pytest.raises(VerifyFailed) as caught:
        verify_captions(out_dir, renditions, duration_s)
    assert problem in caught.value.message
    assert caught.value.code == "verify_failed"
