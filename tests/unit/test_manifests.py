"""What a manifest may name (relative paths inside the output) and reading manifests, with their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoctl.domain.errors import VerifyFailed
from videoctl.media.manifests import check_local_uri, check_named_file, read_manifest


@pytest.mark.parametrize("uri", ["seg_00000.m4s", "360p/init.mp4", "subs/ko.vtt"])
def test_local_uris_are_accepted(uri: str) -> None:
    check_local_uri(uri, "manifest")


@pytest.mark.parametrize("uri", ["../x.ts", "/etc/passwd", "https://evil.example/x.ts", "a//b", "./a", "a\\b", ""])
def test_uris_leaving_the_output_are_refused(uri: str) -> None:
    with pytest.raises(VerifyFailed, match="manifest names .* which is not a relative path inside the output"):
        check_local_uri(uri, "manifest")


def test_named_files_must_exist_and_hold_something(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "seg.m4s").write_bytes(b"x")
    (tmp_path / "a" / "empty.m4s").write_bytes(b"")
    assert check_named_file(tmp_path, "a/seg.m4s", "manifest.mpd") == tmp_path / "a" / "seg.m4s"
    with pytest.raises(VerifyFailed, match="manifest.mpd names a/empty.m4s, which is empty"):
        check_named_file(tmp_path, "a/empty.m4s", "manifest.mpd")
    with pytest.raises(VerifyFailed, match="manifest.mpd names a/none.m4s, which is missing"):
        check_named_file(tmp_path, "a/none.m4s", "manifest.mpd")
    with pytest.raises(VerifyFailed, match="which is missing"):
        check_named_file(tmp_path, "a", "manifest.mpd")  # a folder is not a file


def test_read_manifest_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "360p").mkdir()
    (tmp_path / "360p" / "index.m3u8").write_bytes(b"#EXTM3U\n")
    assert read_manifest(tmp_path / "360p" / "index.m3u8") == "#EXTM3U\n"
    (tmp_path / "bad.vtt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(VerifyFailed, match="storyboard.vtt cannot be read"):
        read_manifest(tmp_path / "bad.vtt", "storyboard.vtt")
    with pytest.raises(VerifyFailed, match="240p/index.m3u8 is missing"):
        read_manifest(tmp_path / "240p" / "index.m3u8")
