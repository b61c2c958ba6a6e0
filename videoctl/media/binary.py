"""Locate the ffmpeg executable.

Order: an explicit path (the ``VIDEOCTL_FFMPEG`` setting) → ``ffmpeg`` on PATH → the static
build shipped inside the ``imageio-ffmpeg`` wheel, so a plain ``pip install`` is enough to
encode. An explicit path that does not work is a configuration error rather than a silent
fallback: the operator asked for that binary.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from videoctl.domain.errors import ConfigError


def find_ffmpeg(explicit: str | None = None) -> str:
    """Return the path of the ffmpeg executable to use."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ConfigError(
                f"VIDEOCTL_FFMPEG points to {explicit!r}, which is not an executable file",
                hint="fix VIDEOCTL_FFMPEG or unset it to use ffmpeg from PATH or imageio-ffmpeg",
            )
        return str(path)
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg  # imported late: it is only needed when nothing else is configured

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ConfigError(
            f"no ffmpeg found: not on PATH and imageio-ffmpeg has no binary ({exc})",
            hint="install ffmpeg or set VIDEOCTL_FFMPEG to its path",
        ) from None
