"""verify_ladder refuses broken ladders (MPEG-TS and fMP4); encode_ladder fails loudly and never
leaks ffmpeg; the master's SUBTITLES group; the upload order of a real ladder."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from videoctl.domain.errors import MediaError, VerifyFailed
from videoctl.domain.ladder import Rung, choose_rungs, parse_ladder
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media import encode
from videoctl.media.encode import encode_ladder
from videoctl.media.hls import finalize_master, upload_order, verify_ladder
from videoctl.media.m3u8 import parse_master_playlist
from videoctl.media.probe import SourceInfo, probe
from videoctl.media.sample import generate_sample_clip

pytestmark = pytest.mark.slow

LADDER = parse_ladder("360:800,240:400,144:200")


def _encode(clip: Callable[[str], Path], ffmpeg_bin: str, out_dir: Path,
            segment_format: str) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    source = clip("normal")
    info = probe(source)
    rungs = choose_rungs(LADDER, info.short_side)
    encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=1, segment_format=segment_format)
    finalize_master(out_dir, info, rungs)
    verify_ladder(out_dir, info, rungs, segment_format=segment_format)
    return out_dir, info, rungs


@pytest.fixture(scope="module")
def good_ladder(
    clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    """An MPEG-TS ladder: the failure tests below name its .ts segments."""
    return _encode(clip, ffmpeg_bin, tmp_path_factory.mktemp("good") / "hls", "ts")


@pytest.fixture(scope="module")
def good_fmp4_ladder(
    clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    return _encode(clip, ffmpeg_bin, tmp_path_factory.mktemp("good-fmp4") / "hls", "fmp4")


def _copy(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]], tmp_path: Path) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    out_dir, info, rungs = ladder
    copy = tmp_path / out_dir.parent.name / "hls"
    shutil.copytree(out_dir, copy)
    return copy, info, rungs


@pytest.fixture
def ladder(good_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]], tmp_path: Path) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    """A private copy of the good MPEG-TS ladder for a test to break."""
    return _copy(good_ladder, tmp_path)


@pytest.fixture
def fmp4_ladder(good_fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]],
                tmp_path: Path) -> tuple[Path, SourceInfo, tuple[Rung, ...]]:
    """A private copy of the good fMP4 ladder for a test to break."""
    return _copy(good_fmp4_ladder, tmp_path)


def _edit(path: Path, edit: Callable[[str], str]) -> None:
    path.write_text(edit(path.read_text()))


def test_the_copy_verifies(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    summary = verify_ladder(out_dir, info, rungs)
    assert [r.name for r in summary.rungs] == ["360p", "240p", "144p"]


def test_deleted_segment(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "240p" / "seg_00001.ts").unlink()
    with pytest.raises(VerifyFailed, match="240p/index.m3u8 names seg_00001.ts, which is missing"):
        verify_ladder(out_dir, info, rungs)


def test_empty_segment(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "audio" / "seg_00000.ts").write_bytes(b"")
    with pytest.raises(VerifyFailed, match="audio/index.m3u8 names seg_00000.ts, which is empty"):
        verify_ladder(out_dir, info, rungs)


def test_playlist_without_endlist(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    _edit(out_dir / "144p" / "index.m3u8", lambda text: text.replace("#EXT-X-ENDLIST", ""))
    with pytest.raises(VerifyFailed, match="144p/index.m3u8 has no #EXT-X-ENDLIST"):
        verify_ladder(out_dir, info, rungs)


def test_playlist_cut_off_after_the_header(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    _edit(out_dir / "360p" / "index.m3u8", lambda text: text[: text.index("#EXTINF")])
    with pytest.raises(VerifyFailed, match="360p/index.m3u8 has no segments"):
        verify_ladder(out_dir, info, rungs)


def test_playlist_cut_off_in_the_middle(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    _edit(out_dir / "360p" / "index.m3u8", lambda text: text[: text.index("seg_00001.ts")])
    with pytest.raises(VerifyFailed, match="the last #EXTINF has no segment URI"):
        verify_ladder(out_dir, info, rungs)


def test_missing_variant_playlist(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "240p" / "index.m3u8").unlink()
    with pytest.raises(VerifyFailed, match="240p/index.m3u8 is missing"):
        verify_ladder(out_dir, info, rungs)


def test_missing_master(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "master.m3u8").unlink()
    with pytest.raises(VerifyFailed, match="master.m3u8 is missing"):
        verify_ladder(out_dir, info, rungs)


def test_master_that_is_not_a_playlist(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "master.m3u8").write_text("<html>oops</html>")
    with pytest.raises(VerifyFailed, match="does not start with #EXTM3U"):
        verify_ladder(out_dir, info, rungs)


@pytest.mark.parametrize("delta_s", [5.0, -1.5])
def test_wrong_duration(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]], delta_s: float) -> None:
    out_dir, info, rungs = ladder
    with pytest.raises(VerifyFailed, match=r"the ladder lasts 2.\d\d s \(audio\) but the source lasts"):
        verify_ladder(out_dir, replace(info, duration_s=info.duration_s + delta_s), rungs)


def test_audio_and_video_may_end_apart(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    """A source whose audio stops early plays fine; only the longest stream sets the length."""
    out_dir, info, rungs = ladder
    playlist = out_dir / "audio" / "index.m3u8"
    lines = playlist.read_text().splitlines()
    second = [i for i, line in enumerate(lines) if line.startswith("#EXTINF")][1]
    for uri in lines[second:]:
        if uri.endswith(".ts"):
            (out_dir / "audio" / uri).unlink()
    playlist.write_text("\n".join([*lines[:second], "#EXT-X-ENDLIST"]) + "\n")  # audio now ~1 s of 2
    verify_ladder(out_dir, info, rungs, tolerance_s=0.3)


def test_explicit_tolerance(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    longer = replace(info, duration_s=info.duration_s + 0.5)
    verify_ladder(out_dir, longer, rungs)  # default: one segment (1 s here)
    with pytest.raises(VerifyFailed, match=r"tolerance 0.10 s"):
        verify_ladder(out_dir, longer, rungs, tolerance_s=0.1)


def test_rungs_differ_from_the_master(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    with pytest.raises(VerifyFailed, match="master.m3u8 lists"):
        verify_ladder(out_dir, info, rungs[:2])


def test_resolution_differs_from_the_source(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    with pytest.raises(VerifyFailed, match="RESOLUTION=640x360, expected 480x360"):
        verify_ladder(out_dir, replace(info, width=480), rungs)


def test_audio_expected_but_missing(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    with pytest.raises(VerifyFailed, match="the source has no audio but the master playlist has an audio rendition"):
        verify_ladder(out_dir, replace(info, has_audio=False), rungs)
    _edit(out_dir / "master.m3u8", lambda text: "\n".join(line for line in text.splitlines() if "TYPE=AUDIO" not in line))
    with pytest.raises(VerifyFailed, match="the source has audio but the master playlist has no audio rendition"):
        verify_ladder(out_dir, info, rungs)


def test_misaligned_segments(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    _edit(out_dir / "144p" / "index.m3u8", lambda text: text.replace("#EXTINF:1.000000", "#EXTINF:0.800000", 1).replace("#EXTINF:1.000000", "#EXTINF:1.200000", 1))
    with pytest.raises(VerifyFailed, match="segments of 144p are not aligned with those of 360p"):
        verify_ladder(out_dir, info, rungs)


def test_upload_order_puts_playlists_after_their_segments_and_master_last(
    good_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]],
) -> None:
    out_dir = good_ladder[0]
    order = upload_order(out_dir)
    assert sorted(order) == sorted(p for p in out_dir.rglob("*") if p.is_file())
    assert len(order) == len(set(order))
    assert order[-1] == out_dir / "master.m3u8"
    position = {path: index for index, path in enumerate(order)}
    for playlist in out_dir.glob("*/index.m3u8"):
        segments = list(playlist.parent.glob("*.ts"))
        assert segments
        assert all(position[segment] < position[playlist] for segment in segments)
    assert not list(out_dir.glob("*.partial")), "finalize_master must not leave its temp file"


def test_ffmpeg_failure_is_a_media_error_with_its_stderr(clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    source = clip("normal")
    info = probe(source)
    with pytest.raises(MediaError) as caught:
        encode_ladder(ffmpeg_bin, source, tmp_path / "out", info, choose_rungs(LADDER, info.short_side), preset="no-such-preset")
    message = caught.value.message
    assert message.startswith("ffmpeg exited with code ")
    assert "no-such-preset" in message
    assert len(message.splitlines()) <= 1 + encode.STDERR_TAIL_LINES
    assert not isinstance(caught.value, VerifyFailed)


def test_missing_ffmpeg_binary_is_a_media_error(clip: Callable[[str], Path], tmp_path: Path) -> None:
    source = clip("normal")
    info = probe(source)
    with pytest.raises(MediaError, match="cannot start ffmpeg"):
        encode_ladder(str(tmp_path / "no-ffmpeg"), source, tmp_path / "out", info, choose_rungs(LADDER, info.short_side))


def test_refuses_a_non_empty_output_directory(clip: Callable[[str], Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    (tmp_path / "stale.ts").write_bytes(b"old")
    source = clip("normal")
    info = probe(source)
    with pytest.raises(MediaError, match="is not empty"):
        encode_ladder(ffmpeg_bin, source, tmp_path, info, choose_rungs(LADDER, info.short_side))


@pytest.fixture(scope="module")
def long_clip(ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that ffmpeg is still encoding when the first progress report arrives."""
    return generate_sample_clip(ffmpeg_bin, tmp_path_factory.mktemp("long") / "long.mp4", seconds=20)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_ffmpeg_is_killed_and_reaped_when_the_caller_is_interrupted(
    long_clip: Path,
    ffmpeg_bin: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interruption: type[BaseException],
) -> None:
    started: list[subprocess.Popen[str]] = []

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(encode.subprocess, "Popen", RecordingPopen)

    def interrupt(percent: float) -> None:
        raise interruption()

    info = probe(long_clip)
    with pytest.raises(interruption):
        encode_ladder(ffmpeg_bin, long_clip, tmp_path / "out", info, choose_rungs(LADDER, info.short_side), on_progress=interrupt)
    (proc,) = started
    assert proc.returncode is not None, "ffmpeg was not reaped"
    assert proc.returncode < 0, "ffmpeg should have been killed mid-encode, not have finished"
    assert proc.stdout is not None and proc.stdout.closed


def test_finalize_master_refuses_a_broken_ladder(ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = ladder
    (out_dir / "360p" / "seg_00000.ts").unlink()
    with pytest.raises(VerifyFailed, match="360p/index.m3u8 names seg_00000.ts, which is missing"):
        finalize_master(out_dir, info, rungs)


def test_fmp4_copy_verifies(fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = fmp4_ladder
    summary = verify_ladder(out_dir, info, rungs, segment_format="fmp4")
    assert [r.name for r in summary.rungs] == ["360p", "240p", "144p"]


def test_missing_init_segment(fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = fmp4_ladder
    (out_dir / "240p" / "init_240p.mp4").unlink()
    with pytest.raises(VerifyFailed, match="240p/index.m3u8 names init_240p.mp4, which is missing"):
        verify_ladder(out_dir, info, rungs)


def test_broken_init_segment(fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = fmp4_ladder
    (out_dir / "360p" / "init_360p.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(VerifyFailed, match="360p/seg_00000.m4s cannot be read"):
        verify_ladder(out_dir, info, rungs)


def test_segment_format_is_what_was_asked_for(
    fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]], ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]
) -> None:
    with pytest.raises(VerifyFailed, match="segments are not ts"):
        verify_ladder(*fmp4_ladder, segment_format="ts")
    with pytest.raises(VerifyFailed, match="segments are not fmp4"):
        verify_ladder(*ladder, segment_format="fmp4")


def test_a_playlist_naming_a_file_outside_the_output_is_refused(
    fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]],
) -> None:
    out_dir, info, rungs = fmp4_ladder
    _edit(out_dir / "144p" / "index.m3u8", lambda text: text.replace('URI="init_144p.mp4"', 'URI="../360p/init_360p.mp4"'))
    with pytest.raises(VerifyFailed, match="not a relative path inside the output"):
        verify_ladder(out_dir, info, rungs)


KOREAN = SubtitleRendition(language="ko", name="한국어", default=True, playlist="subs/ko.m3u8", vtt="subs/ko.vtt")
ENGLISH = SubtitleRendition(language="en", name='English "CC"', default=False, playlist="subs/en.m3u8",
                            vtt="subs/en.vtt")


def _write_subtitles(out_dir: Path, *renditions: SubtitleRendition) -> None:
    for rendition in renditions:
        (out_dir / "subs").mkdir(exist_ok=True)
        (out_dir / rendition.vtt).write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n")
        (out_dir / rendition.playlist).write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.0,\n"
            f"{Path(rendition.vtt).name}\n#EXT-X-ENDLIST\n")


def test_master_with_subtitles_names_the_group_on_every_variant(
    fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]],
) -> None:
    out_dir, info, rungs = fmp4_ladder
    _write_subtitles(out_dir, KOREAN, ENGLISH)
    finalize_master(out_dir, info, rungs, (KOREAN, ENGLISH))
    master = parse_master_playlist((out_dir / "master.m3u8").read_text())
    subtitles = [media for media in master.media if media["TYPE"] == "SUBTITLES"]
    assert [(m["LANGUAGE"], m["NAME"], m["DEFAULT"], m["AUTOSELECT"], m["URI"], m["GROUP-ID"]) for m in subtitles] == [
        ("ko", "한국어", "YES", "YES", "subs/ko.m3u8", "subs"),
        ("en", "English 'CC'", "NO", "YES", "subs/en.m3u8", "subs"),  # a double quote cannot be in a quoted-string
    ]
    assert all(variant.attributes["SUBTITLES"] == "subs" for variant in master.variants)
    verify_ladder(out_dir, info, rungs, subtitles=(KOREAN, ENGLISH))
    with pytest.raises(VerifyFailed, match="lists subtitles"):
        verify_ladder(out_dir, info, rungs)  # captions nobody asked for
    (out_dir / "subs" / "en.m3u8").unlink()
    with pytest.raises(VerifyFailed, match="names subs/en.m3u8, which is missing"):
        verify_ladder(out_dir, info, rungs, subtitles=(KOREAN, ENGLISH))


def test_master_without_subtitles_has_no_group(fmp4_ladder: tuple[Path, SourceInfo, tuple[Rung, ...]]) -> None:
    out_dir, info, rungs = fmp4_ladder
    text = (out_dir / "master.m3u8").read_text()
    assert "SUBTITLES" not in text
    with pytest.raises(VerifyFailed, match=r"lists subtitles \[\], expected \['subs/ko.m3u8'\]"):
        verify_ladder(out_dir, info, rungs, subtitles=(KOREAN,))
