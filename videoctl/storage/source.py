"""Opening the file an operator adds (`video add FILE`): a regular file of theirs, and nothing else.

What "of theirs" means, checked on the file descriptor that is then copied
into the store (so nothing can be swapped in between the check and the copy):

- a **regular, non-empty file**: a directory, a device, a FIFO or a socket is
  refused, and so is a path that leads to one through a link;
- **readable by the user without root's privilege**, by its permission bits:
  as a normal user, the owner, group or other bits that apply to you must
  grant read; as root, who can read every file, the file must be readable by
  every user (o+r), so a private file such as ``/etc/shadow`` is never copied
  into the store or uploaded to R2 by a slip or a planted link;
- reached only through **links owned by the user, by root, or by the file's
  owner**: a link someone else planted (``upload.mp4 -> ~/.aws/credentials``)
  is refused.

videoctl resolves FILE itself, one segment at a time with openat and
O_NOFOLLOW, reading each link it meets and checking its owner; the file is
then opened without following links (O_NOFOLLOW, O_NONBLOCK so a FIFO cannot
hang the open) and its fstat must match what was checked.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from videoctl.domain.errors import InvalidInput

#: As the kernel's ELOOP limit: a chain of links this long is a loop or a trap.
MAX_LINKS = 40
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


@dataclass(frozen=True)
class SourceFile:
    """An opened, checked source: copy from *file*, never from the path again."""

    file: BinaryIO
    size: int


@dataclass(frozen=True)
class _Link:
    path: str
    owner: int


@contextmanager
def open_source(path: Path) -> Iterator[SourceFile]:
    """*path* opened for reading if it is a regular file of the user's; InvalidInput saying why not."""
    fd, links = _resolve_and_open(path)
    with os.fdopen(fd, "rb") as file:
        found = os.fstat(file.fileno())
        _check_file(path, found, links)
        yield SourceFile(file, found.st_size)


def _resolve_and_open(path: Path) -> tuple[int, list[_Link]]:
    """Walk *path* from / (or the working directory) without letting the kernel follow a link."""
    text = os.fspath(path)
    if not text:
        raise InvalidInput("no source file given")
    where = os.open("/" if text.startswith("/") else ".", _DIRECTORY & ~os.O_NOFOLLOW)
    pending = deque(part for part in text.split("/") if part not in ("", "."))
    walked = "/" if text.startswith("/") else ""
    links: list[_Link] = []
    try:
        if not pending:
            raise InvalidInput(f"source {path} is a directory, not a file")
        while pending:
            name = pending.popleft()
            shown = os.path.join(walked, name)
            found = _lstat(name, where, path, shown)
            if stat.S_ISLNK(found.st_mode):
                links.append(_Link(shown, found.st_uid))
                if len(links) > MAX_LINKS:
                    raise InvalidInput(f"source {path} goes through more than {MAX_LINKS} links (a loop?)")
                target = os.readlink(name, dir_fd=where)
                if target.startswith("/"):
                    os.close(where)
                    where, walked = os.open("/", _DIRECTORY), "/"
                pending.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if pending:  # a folder on the way
                if not stat.S_ISDIR(found.st_mode):
                    raise InvalidInput(f"source {path} not found: {shown} is not a directory")
                where = _step(where, name, path, shown)
                walked = shown
                continue
            _refuse_kind(path, found, links)
            try:
                fd = os.open(name, _FILE, dir_fd=where)
            except PermissionError:
                raise InvalidInput(f"source {path} cannot be read: permission denied",
                                   hint="add a copy of it that is yours") from None
            except OSError as exc:
                raise InvalidInput(f"source {path} changed while it was being checked ({exc.strerror})") from None
            if not os.path.samestat(found, os.fstat(fd)):
                os.close(fd)
                raise InvalidInput(f"source {path} changed while it was being checked")
            return fd, links
        raise InvalidInput(f"source {path} is a directory, not a file")
    finally:
        os.close(where)


def _lstat(name: str, where: int, path: Path, shown: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=where, follow_symlinks=False)
    except FileNotFoundError:
        raise InvalidInput(f"source file not found: {path}") from None
    except PermissionError:
        raise InvalidInput(f"source {path} cannot be read: {shown} may not be entered (permission denied)") from None


def _step(where: int, name: str, path: Path, shown: str) -> int:
    """Into the folder *name*; '..' is the physical parent, as the kernel resolves it."""
    try:
        child = os.open(name, _DIRECTORY, dir_fd=where)
    except PermissionError:
        raise InvalidInput(f"source {path} cannot be read: {shown} may not be entered (permission denied)") from None
    except OSError as exc:  # swapped for a link or removed since its lstat
        raise InvalidInput(f"source {path} changed while it was being checked ({exc.strerror})") from None
    os.close(where)
    return child


def _refuse_kind(path: Path, found: os.stat_result, links: list[_Link]) -> None:
    if stat.S_ISREG(found.st_mode):
        return
    kind = next((name for test, name in _KINDS if test(found.st_mode)), "not a regular file")
    through = f" (through the link {links[0].path})" if links else ""
    raise InvalidInput(f"source {path} is {kind}{through}, not a regular file",
                       hint="video add takes a regular video file")


def _check_file(path: Path, found: os.stat_result, links: list[_Link]) -> None:
    """The rules of the module docstring, on the opened file's own fstat."""
    _refuse_kind(path, found, links)
    if found.st_size == 0:
        raise InvalidInput("the source file is empty (0 bytes): the upload has no content")
    uid = os.geteuid()
    for link in links:
        if link.owner not in (uid, 0, found.st_uid):
            raise InvalidInput(
                f"source {path} goes through the link {link.path}, owned by uid {link.owner}, to a file owned by "
                f"uid {found.st_uid}: a link someone else planted is never followed",
                hint="add the file itself, or a link of your own to it")
    mode = stat.filemode(found.st_mode)
    if uid == 0 and not found.st_mode & stat.S_IROTH:
        raise InvalidInput(
            f"source {path} ({mode}, owner uid {found.st_uid}) is not readable by every user: as root, "
            "videoctl takes only files anyone may read, so no private file is stored by mistake",
            hint="make it readable (chmod o+r), or add it as the user who owns it")
    if uid != 0 and not _readable_by_bits(found, uid):
        raise InvalidInput(f"source {path} ({mode}, owner uid {found.st_uid}) is not readable by you (uid {uid}) "
                           "through its permission bits", hint="add a copy of it that is yours")


def _readable_by_bits(found: os.stat_result, uid: int) -> bool:
    """Whether the permission class that applies to *uid* grants read (owner, else group, else other)."""
    if found.st_uid == uid:
        return bool(found.st_mode & stat.S_IRUSR)
    if found.st_gid == os.getegid() or found.st_gid in os.getgroups():
        return bool(found.st_mode & stat.S_IRGRP)
    return bool(found.st_mode & stat.S_IROTH)
