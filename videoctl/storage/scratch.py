"""Per-job scratch space on local disk, removed on every exit path."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videoctl.domain.errors import StorageError

#: ffmpeg's output, the HLS files and slack beside the source.
SPACE_FACTOR = 3
SPACE_MARGIN = 256 << 20


@contextmanager
def scratch_dir(base: Path | None, name: str) -> Iterator[Path]:
    """A fresh directory for one job; gone afterwards, whatever happened (even SIGTERM)."""
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def require_free_space(path: Path, source_bytes: int) -> None:
    """Fail before the download rather than with a full disk halfway through the encode."""
    needed = source_bytes * SPACE_FACTOR + SPACE_MARGIN
    free = shutil.disk_usage(path).free
    if free < needed:
        raise StorageError(
            f"not enough scratch space in {path}: {free >> 20} MiB free, "
            f"{needed >> 20} MiB needed for a {source_bytes >> 20} MiB source",
            hint="free space, or point VIDEOCTL_SCRATCH_DIR at a bigger volume",
        )
