"""find_ffmpeg: an explicit path, then PATH, then imageio-ffmpeg's static build (real files in tmp dirs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.media.binary import find_ffmpeg


def test_find_ffmpeg_explicit_path(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_ffmpeg(str(fake)) == str(fake)


@pytest.mark.parametrize("make_executable", [False, True])
def test_find_ffmpeg_bad_explicit_path_names_the_setting(tmp_path: Path, make_executable: bool) -> None:
    target = tmp_path / "ffmpeg"
    if make_executable:
        target.mkdir()  # a directory is "executable" but not a program
    with pytest.raises(ConfigError, match="VIDEOCTL_FFMPEG"):
        find_ffmpeg(str(target))


def test_find_ffmpeg_prefers_path_then_imageio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_ffmpeg() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found = find_ffmpeg()
    assert "imageio_ffmpeg" in found and os.access(found, os.X_OK)
