"""Ownership by lock: a file whose owner holds an exclusive ``flock`` for as long as it uses it.

The kernel drops the lock when the owner dies, however it dies (SIGKILL included), so a
file whose lock anyone can take was left behind by a process that is gone. Deciding by
the lock, never by age, means nothing in use is ever taken away. Scratch directories
and the local store's partial uploads are owned this way.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def hold(fd: int) -> None:
    """Take ownership of the open file *fd* until it is closed (or its process dies)."""
    fcntl.flock(fd, fcntl.LOCK_EX)


@contextmanager
def abandoned(path: Path) -> Iterator[bool]:
    """True if *path*'s owner is gone: its lock is then ours until the block ends, so a second
    reclaimer skips it. False while the owner lives, or if *path* cannot be opened."""
    with abandoned_at(None, str(path)) as gone:
        yield gone


@contextmanager
def abandoned_at(dir_fd: int | None, name: str) -> Iterator[bool]:
    """:func:`abandoned` for *name* in the folder open as *dir_fd* (never through a link)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # its owner holds it: in use
            return
        yield True
    finally:
        os.close(fd)
