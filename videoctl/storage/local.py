"""A local directory as an object store (the embedded default).

Keys map to files under the root. Prefix matching is string matching, as in
S3, so local and R2 behaviour cannot diverge.

The store never follows a symbolic link below its root. Every path is walked
one directory at a time from the root, each opened with O_NOFOLLOW relative to
the one before (openat), so a link planted under ``videos/5/`` can lead no
read, write, listing or delete into video 10's files, and swapping a directory
for a link between a check and its use changes nothing. A key that meets a
link is refused (StorageError naming it); a listing passes over links, which
are not objects this store wrote, and logs each one. The root itself is the
operator's choice and may lie behind links.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from videoctl.domain.errors import InvalidInput, NotFound, SourceChanged, StorageError
from videoctl.domain.prefixes import batched
from videoctl.storage.base import ObjectInfo, validate_key
from videoctl.storage.locks import abandoned_at, hold

log = logging.getLogger(__name__)

#: A file name's limit on every file system videoctl runs on (NAME_MAX).
MAX_SEGMENT_BYTES = 255
_UPLOADING = ".upload-"
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: O_NONBLOCK: a FIFO planted where an object should be must not hang the open.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Errors that may pass (space freed, a disk back): worth another attempt.
_TRANSIENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.location = self.root.as_uri()

    # ------------------------------------------------------------ objects

    def upload_file(self, path: Path, key: str, *, content_type: str | None = None) -> None:
        with open(path, "rb") as source:
            self.upload_fileobj(source, key, content_type=content_type)

    def upload_fileobj(self, source: BinaryIO, key: str, *, content_type: str | None = None) -> None:
        *folders, name = self._segments(key)
        try:
            with self._directory(folders, key, create=True) as parent:
                self._refuse_link(parent, name, key)
                # Write beside the target and rename, so a reader never sees half a file;
                # rename replaces the name itself and never follows anything. The partial
                # file is locked while it is written: one left by a killed uploader is told
                # apart from one in progress when its prefix is deleted.
                temporary = f"{_UPLOADING}{secrets.token_hex(8)}"
                fd = os.open(temporary, _CREATE, 0o600, dir_fd=parent)
                try:
                    with os.fdopen(fd, "wb") as out:
                        hold(out.fileno())
                        shutil.copyfileobj(source, out, 1 << 20)
                        out.flush()
                        # Still locked: a prune never takes a finished file before its rename.
                        os.replace(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
                except BaseException:
                    with suppress(OSError):
                        os.unlink(temporary, dir_fd=parent)
                    raise
        except BaseException as exc:
            self._prune(folders)  # the folders this upload created stay only if they hold something
            if isinstance(exc, OSError):
                raise self._error("store", key, exc) from exc
            raise

    def download_file(self, key: str, path: Path, *, if_match: str | None = None) -> None:
        """With *if_match* the copy is hashed as it is made and compared at its end: the bytes
        copied are the recorded ones, whatever was written to the file before or meanwhile."""
        try:
            with self._open_object(key) as fd, os.fdopen(os.dup(fd), "rb") as source, open(path, "wb") as out:
                if if_match is None:
                    shutil.copyfileobj(source, out, 1 << 20)
                    return
                found, _ = _etag(source, out)
            if found != if_match:
                path.unlink()
                raise SourceChanged(f"object {key!r} in {self.location} is no longer the one recorded "
                                    f"({if_match}): it was rewritten (now {found})")
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfo]:
        validate_key(prefix)
        # Walk only the deepest directory the prefix names, then match by string.
        segments = self._segments(prefix.removesuffix("/"))
        start = segments if prefix.endswith("/") else segments[:-1]
        with self._directory(start, prefix) as top:
            if top is not None:
                yield from self._walk(top, start, prefix)

    def delete_keys(self, keys: Iterable[str]) -> int:
        deleted = 0
        for batch in batched(keys):
            emptied: set[tuple[str, ...]] = set()
            for key in batch:
                *folders, name = self._segments(key)
                with self._directory(folders, key) as parent:
                    if parent is not None and self._object_stat(parent, name, key) is not None:
                        try:
                            os.unlink(name, dir_fd=parent)
                        except FileNotFoundError:
                            pass
                        except OSError as exc:
                            raise self._error("delete", key, exc) from exc
                        emptied.add(tuple(folders))
                deleted += 1  # absent keys count as done, as in S3
            for folders in sorted(emptied, key=len, reverse=True):
                self._prune(list(folders))
        return deleted

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        *folders, name = self._segments(key)
        with self._directory(folders, key) as parent:
            found = self._object_stat(parent, name, key) if parent is not None else None
        return found.st_size if found is not None else None

    def head(self, key: str) -> ObjectInfo | None:
        """The file's size and, as its ETag, the SHA-256 of its content: what was written, not
        when or where (a rewrite in place keeps the inode, and whoever writes can set the times
        back)."""
        try:
            with self._open_object(key) as fd, os.fdopen(os.dup(fd), "rb") as source:
                etag, size = _etag(source)
                modified = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC)
        except NotFound:
            return None
        except OSError as exc:
            raise self._error("read", key, exc) from exc
        return ObjectInfo(key, size, modified, etag)  # the size of what was hashed, so the two agree

    def url_for(self, key: str) -> str:
        return str(self.root.joinpath(*self._segments(key)))

    def upload_path(self, key: str) -> Path:
        *folders, name = self._segments(key)
        with self._directory(folders, key, create=True) as parent:
            self._refuse_link(parent, name, key)
        return self.root.joinpath(*folders, name)

    # ------------------------------------------------------------ walking without following links

    def _segments(self, key: str) -> list[str]:
        """The path segments of *key*; InvalidInput for one no file system here could store."""
        validate_key(key)
        segments = key.split("/")
        for segment in segments:
            if segment in ("", "."):
                raise InvalidInput(f"object key {key!r} has an empty or '.' segment")
            if len(segment.encode()) > MAX_SEGMENT_BYTES:
                raise InvalidInput(f"object key {key!r} has a segment of {len(segment.encode())} bytes; "
                                   f"a local store holds at most {MAX_SEGMENT_BYTES} per segment")
        return segments

    @contextmanager
    def _directory(self, folders: list[str], key: str, *, create: bool = False) -> Iterator[int | None]:
        """A descriptor of root/folders…, reached without following a link; None if absent."""
        fd = self._open_root(create)
        if fd is None:
            yield None  # no store yet: nothing is in it
            return
        try:
            for depth, name in enumerate(folders):
                if create:
                    with suppress(FileExistsError):
                        os.mkdir(name, dir_fd=fd)
                try:
                    child = os.open(name, _DIRECTORY, dir_fd=fd)
                except FileNotFoundError:
                    if create:
                        raise
                    yield None
                    return
                except OSError as exc:
                    self._refuse_link(fd, name, key, path="/".join(folders[:depth + 1]))
                    if exc.errno == errno.ENOTDIR and not create:
                        yield None  # a file where a folder would be: no such key
                        return
                    raise self._error("open", key, exc) from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _open_root(self, create: bool) -> int | None:
        try:
            if create:
                self.root.mkdir(parents=True, exist_ok=True)
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"the local store {self.location} cannot be opened: {exc.strerror}",
                               hint="check VIDEOCTL_STORAGE_DIR") from exc

    def _refuse_link(self, parent: int, name: str, key: str, *, path: str | None = None) -> None:
        """StorageError if *name* in the folder *parent* is a symbolic link (*path* names it; default *key*)."""
        try:
            found = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(found.st_mode):
            raise StorageError(
                f"{path or key!r} in {self.location} is a symbolic link; the store never follows one (key {key!r})",
                hint="videoctl never writes links: find out who planted it, then remove it")

    def _object_stat(self, parent: int, name: str, key: str) -> os.stat_result | None:
        """The object's own stat; None if absent or not a file, StorageError if it is a link."""
        self._refuse_link(parent, name, key)
        try:
            found = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return found if stat.S_ISREG(found.st_mode) else None

    @contextmanager
    def _open_object(self, key: str) -> Iterator[int]:
        *folders, name = self._segments(key)
        with self._directory(folders, key) as parent:
            if parent is None:
                raise NotFound(f"object {key!r} not found in {self.location}")
            try:
                fd = _open_for_reading(name, parent)
            except FileNotFoundError:
                raise NotFound(f"object {key!r} not found in {self.location}") from None
            except OSError:
                self._refuse_link(parent, name, key)
                raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotFound(f"object {key!r} not found in {self.location} (not a file)")
            yield fd
        finally:
            os.close(fd)

    def _walk(self, fd: int, folders: list[str], prefix: str) -> Iterator[ObjectInfo]:
        """Every file below the folder *fd*, in name order, files before subfolders; never through a link."""
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        subfolders = []
        for entry in entries:
            key = "/".join([*folders, entry.name])
            try:
                found = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we listed
            if stat.S_ISDIR(found.st_mode):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    subfolders.append(entry.name)
            elif not key.startswith(prefix) or entry.name.startswith(_UPLOADING):
                continue
            elif stat.S_ISREG(found.st_mode):
                yield ObjectInfo(key, found.st_size, datetime.fromtimestamp(found.st_mtime, UTC))
            else:
                kind = "a symbolic link" if stat.S_ISLNK(found.st_mode) else "not a regular file"
                log.warning("left in place: %s in %s is %s, not an object; the store never follows links",
                            key, self.location, kind)
        for name in subfolders:
            try:
                child = os.open(name, _DIRECTORY, dir_fd=fd)
            except OSError:
                continue  # removed, or swapped for a link, since it was listed
            try:
                yield from self._walk(child, [*folders, name], prefix)
            finally:
                os.close(child)

    def _prune(self, folders: list[str]) -> None:
        """Remove the now-empty folders of a key, deepest first; rmdir never follows a link.

        A folder holding nothing but partial uploads whose uploaders were killed counts as
        empty: those partials go with it (nobody will ever rename them). One still being
        written keeps its folder.
        """
        for depth in range(len(folders), 0, -1):
            try:
                with self._directory(folders[:depth - 1], "/".join(folders)) as parent:
                    if parent is None:
                        continue
                    _remove_abandoned_partials(parent, folders[depth - 1])
                    os.rmdir(folders[depth - 1], dir_fd=parent)
            except (OSError, StorageError):
                return  # not empty, not there, or behind a link: leave it and everything above

    def _error(self, action: str, key: str, exc: OSError) -> StorageError:
        full = action == "store" and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        hint = "the store's file system is full: free space there, or point VIDEOCTL_STORAGE_DIR at a bigger volume"
        return StorageError(f"{action} {key!r} in {self.location} failed: {exc.strerror or exc}",
                            transient=exc.errno in _TRANSIENT, hint=hint if full else None)

    # ------------------------------------------------------------ reading for a browser (videoctl serve)

    def open_read(self, key: str) -> BinaryIO:
        """The object opened for reading, reached without following a link (the caller closes it):
        NotFound if it is absent or not a regular file, StorageError naming a link met on the way."""
        try:
            with self._open_object(key) as fd:
                return os.fdopen(os.dup(fd), "rb")
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str | None:
        """None: a browser cannot fetch a local file by URL; whoever serves it reads :meth:`open_read`."""
        self._segments(key)
        return None


def _etag(source: BinaryIO, copy_to: BinaryIO | None = None) -> tuple[str, int]:
    """``sha256:HEX`` of what *source* holds from here on and its length, copied to *copy_to*
    as it is read."""
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: source.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return f"sha256:{digest.hexdigest()}", size


def _remove_abandoned_partials(parent: int, folder: str) -> None:
    """In *folder* (below the descriptor *parent*), when it holds nothing but partial uploads,
    remove those whose uploader is gone (its lock can be taken)."""
    fd = os.open(folder, _DIRECTORY, dir_fd=parent)
    try:
        names = os.listdir(fd)
        if not names or not all(name.startswith(_UPLOADING) for name in names):
            return
        for name in names:
            with abandoned_at(fd, name) as gone:
                if gone:
                    with suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def _open_for_reading(name: str, parent: int) -> int:
    """Open an object without blocking on a FIFO planted in its place; but a regular file
    under a lease (a file server's, a backup tool's) answers EWOULDBLOCK to that, and is
    then waited for as any reader waits. Only regular files carry leases, so the second,
    blocking open cannot hang on a FIFO."""
    try:
        return os.open(name, _READ, dir_fd=parent)
    except BlockingIOError:
        return os.open(name, _READ & ~os.O_NONBLOCK, dir_fd=parent)
