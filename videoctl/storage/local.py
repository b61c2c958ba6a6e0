"""A local directory as an object store (the embedded default).

Keys map to files under the root. Prefix matching is string matching, as in
S3, so local and R2 behaviour cannot diverge.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from videoctl.domain.errors import NotFound, StorageError
from videoctl.domain.prefixes import batched
from videoctl.storage.base import ObjectInfo, validate_key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.location = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"key {key!r} resolves outside the store")
        return path

    def upload_file(self, path: Path, key: str, *, content_type: str | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def download_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise NotFound(f"object {key!r} not found in {self.location}")
        shutil.copyfile(source, path)

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfo]:
        validate_key(prefix)
        # Walk only the deepest directory the prefix names, then match by string.
        start = self._path(prefix) if prefix.endswith("/") else self._path(prefix).parent
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(".upload-"):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found = full.stat()
                    yield ObjectInfo(key, found.st_size, datetime.fromtimestamp(found.st_mtime, UTC))

    def delete_keys(self, keys: Iterable[str]) -> int:
        deleted = 0
        for batch in batched(keys):
            for key in batch:
                path = self._path(key)
                path.unlink(missing_ok=True)
                deleted += 1
                self._prune(path.parent)
        return deleted

    def _prune(self, directory: Path) -> None:
        while directory != self.root and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def url_for(self, key: str) -> str:
        return str(self._path(key))
