"""A source that is a list of other files is refused wherever the source is opened.

Each list here names private (0600) files beside it: an HLS playlist naming an MPEG-TS by
its absolute path, an ffmpeg concat list naming an MP4, and an image-sequence pattern
whose numbered pictures exist. Opened as ffmpeg would open them by default, each reads the
private files (the first test proves they are live); opened as a source, by probe, by the
ladder's ffmpeg (even for a source that was never probed) or by the captions' extraction,
each is refused and nothing is written.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from tests.clips import normal
from videoctl.domain.errors import InvalidInput, MediaError
from videoctl.domain.ladder import choose_rungs, parse_ladder
from videoctl.media.captions import EmbeddedStream, extract_streams
from videoctl.media.encode import encode_ladder
from videoctl.media.probe import probe
from videoctl.storage.scratch import SOURCE_FILE

pytestmark = pytest.mark.slow

#: Each list and the words its refusal must say.
LISTS = {
    "hls": "an HLS playlist",
    "concat": "an ffmpeg concat list",
    "image_sequence": "image sequences",
}
#: The text of the private subtitles.
PRIVATE_WORDS = "private words"


@pytest.fixture(scope="module")
def private(ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of private media, all 0600: secret.mp4, secret.ts, secret.vtt, img-001.png … img-003.png."""
    folder = tmp_path_factory.mktemp("private")
    clip = normal(ffmpeg_bin, folder)
    clip.rename(folder / "secret.mp4")
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(folder / "secret.mp4"), "-c", "copy", "-f", "mpegts",
                    str(folder / "secret.ts")], check=True)
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(folder / "secret.mp4"), "-frames:v", "3",
                    str(folder / "img-%03d.png")], check=True)
    (folder / "secret.vtt").write_text(f"WEBVTT\n\n00:00:00.500 --> 00:00:01.200\n{PRIVATE_WORDS}\n")
    for path in folder.iterdir():
        path.chmod(0o600)
    return folder


def make_list(private: Path, kind: str, *, subtitles: bool = False) -> Path:
    """The list ``kind``, in the private folder (where a relative name in it resolves), naming
    the private video or, with ``subtitles``, the private WebVTT."""
    if kind == "hls":
        path = private / ("subtitles.m3u8" if subtitles else "lecture.m3u8")
        named = private / ("secret.vtt" if subtitles else "secret.ts")
        path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{named}\n#EXT-X-ENDLIST\n")
    elif kind == "concat":
        path = private / ("subtitles.ffconcat" if subtitles else "lecture.ffconcat")
        path.write_text(f"ffconcat version 1.0\nfile {'secret.vtt' if subtitles else 'secret.mp4'}\n")
    else:
        # A file named as the pattern, so that the source exists; ffmpeg reads the numbered ones.
        path = private / "img-%03d.png"
        shutil.copyfile(private / "img-001.png", path)
    return path


@pytest.fixture
def lists(private: Path) -> Callable[[str], Path]:
    return lambda kind: make_list(private, kind)


@pytest.mark.parametrize("kind", LISTS)
def test_each_list_reads_the_private_files_when_opened_as_ffmpeg_would_by_default(kind, lists) -> None:
    with av.open(str(lists(kind))) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 3  # the pictures of the private files, not of the list itself


@pytest.mark.parametrize("kind", LISTS)
def test_probe_refuses_each_list_with_its_reason(kind, lists) -> None:
    with pytest.raises(InvalidInput) as caught:
        probe(lists(kind))
    assert LISTS[kind] in caught.value.message and caught.value.permanent


@pytest.mark.parametrize("kind", ["hls", "concat"])
def test_a_list_copied_as_run_job_names_the_source_is_refused_by_name(kind, lists, tmp_path) -> None:
    source = tmp_path / SOURCE_FILE
    shutil.copyfile(lists(kind), source)
    with pytest.raises(InvalidInput) as caught:
        probe(source)
    assert LISTS[kind] in caught.value.message


@pytest.mark.parametrize("kind", LISTS)
def test_the_ladder_encode_refuses_each_list_even_unprobed(kind, lists, private, ffmpeg_bin, tmp_path) -> None:
    info = probe(private / "secret.mp4")  # as if the list had been swapped in after the probe
    rungs = choose_rungs(parse_ladder("240:400"), info.short_side)
    out_dir = tmp_path / "hls"
    with pytest.raises(MediaError):
        encode_ladder(ffmpeg_bin, lists(kind), out_dir, info, rungs, segment_s=1, pictures=True)
    # The filter graph may have created its (empty) poster note before the input was refused.
    assert [path for path in out_dir.rglob("*") if path.is_file() and path.stat().st_size] == []


@pytest.mark.parametrize("kind", ["hls", "concat"])
def test_the_captions_extraction_refuses_each_list(kind, private, ffmpeg_bin, tmp_path) -> None:
    listing = make_list(private, kind, subtitles=True)
    # ffmpeg's default way reads the private subtitles through the list.
    plain = tmp_path / "plain.vtt"
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(listing), "-map", "0:0", "-c:s", "webvtt", str(plain)],
                   check=True)
    assert PRIVATE_WORDS in plain.read_text()
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(MediaError):
        extract_streams(ffmpeg_bin, listing, [EmbeddedStream(0, "webvtt", "eng")], workdir)
    assert [path for path in workdir.rglob("*") if path.is_file() and path.stat().st_size] == []
