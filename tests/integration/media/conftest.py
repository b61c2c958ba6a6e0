"""Fixtures for the media tests: the ffmpeg binary and lazily generated clips.

Clips are made once per test session (per xdist worker), each in its own directory, and
only when a test asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clips import PLAYABLE, REFUSED, SPECIAL
from videoctl.media.binary import find_ffmpeg

_MAKERS = {**PLAYABLE, **REFUSED, **SPECIAL}


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    return find_ffmpeg()


@pytest.fixture(scope="session")
def clip(ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``clip("rotated")`` → path of that clip from tests/clips.py, generated on first use."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = _MAKERS[name](ffmpeg_bin, tmp_path_factory.mktemp(name))
        return made[name]

    return get
