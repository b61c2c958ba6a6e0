"""Per-job scratch space on local disk, removed on every exit path, reclaimed after a SIGKILL.

A run-job killed with SIGKILL runs no cleanup and leaves its scratch directory
(the source and the ladder: tens of MB to GBs) behind. Each scratch directory
holds a lock file its owner keeps an exclusive ``flock`` on for as long as it
uses the directory (storage/locks.py). :func:`reclaim` removes the directories whose lock nobody holds any more:
never by age, never one in use, never a folder it did not create.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videoctl.domain.errors import StorageError
from videoctl.storage import locks

log = logging.getLogger(__name__)

#: ffmpeg's output, the HLS files and slack beside the source.
SPACE_FACTOR = 3
SPACE_MARGIN = 256 << 20

#: The name of the source's copy in a job's scratch directory. No extension, nothing taken
#: from the upload's name: ffmpeg picks some demuxers by a file's name (``.m3u8`` makes a
#: text file an HLS playlist, ``%03d`` an image sequence), and the source is read as the
#: media file it is, by its content and the allowlist (``domain.containers``).
SOURCE_FILE = "source"

#: The lock file inside every scratch directory; its name appears already locked.
OWNER_LOCK = ".owner.lock"
#: What run-job names its scratch directories (``videoctl-job-{id}-a{n}-`` + mkdtemp's suffix):
#: reclaim looks at nothing else in the scratch folder.
JOB_SCRATCH = re.compile(r"videoctl-job-\d+-a\d+-[A-Za-z0-9_]+")


def job_scratch_name(job_id: int, attempt: int) -> str:
    return f"videoctl-job-{job_id}-a{attempt}"


@contextmanager
def scratch_dir(base: Path | None, name: str) -> Iterator[Path]:
    """A fresh directory for one job, locked as in use; gone afterwards, whatever happened (even SIGTERM)."""
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    lock = None
    try:
        lock = _lock_as_owner(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)  # still locked: no reclaim races this
        if lock is not None:
            os.close(lock)


def _lock_as_owner(path: Path) -> int:
    """Lock a new file, then give it its name: a reclaimer never sees the lock file unlocked
    while its owner lives (a directory without one is left alone)."""
    staged = path / f"{OWNER_LOCK}.new"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # not inherited by ffmpeg
    try:
        locks.hold(fd)
        os.write(fd, f"{os.getpid()}\n".encode())  # for a human looking at a leftover
        os.rename(staged, path / OWNER_LOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def reclaim(base: Path | None) -> list[Path]:
    """Remove the job scratch directories under *base* (default: the system temp folder)
    whose owner is gone; returns them. Never raises: reclaiming is housekeeping."""
    base = Path(base) if base is not None else Path(tempfile.gettempdir())
    try:
        entries = [e for e in os.scandir(base) if JOB_SCRATCH.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []  # no scratch folder yet, or not ours to read
    removed = []
    for entry in entries:
        path = Path(entry.path)
        if _remove_if_abandoned(path):
            removed.append(path)
    if removed:
        log.info("removed scratch directories of run-jobs that are gone",
                 extra={"paths": [str(p) for p in removed]})
    return removed


def _remove_if_abandoned(path: Path) -> bool:
    # No lock file: being set up, or made by something else; either way not ours to judge.
    with locks.abandoned(path / OWNER_LOCK) as gone:
        if not gone:
            return False
        shutil.rmtree(path, ignore_errors=True)  # under the lock: a second reclaimer skips it
        return not path.exists()


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
