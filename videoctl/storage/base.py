"""The store interface and the key rules both implementations enforce."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput
from videoctl.domain.uploads import Part


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    #: Last written (timezone-aware UTC); what reconcile's grace period for orphans reads.
    modified: datetime | None = None
    #: What identifies this content (:meth:`ObjectStore.head` only): R2's and S3's ETag, or
    #: ``sha256:…`` of a local file. A download given it reads this content or nothing.
    etag: str | None = None


def validate_key(key: str) -> str:
    """A key we will read or write: relative, no '..', not the bucket root (keys.key_problem)."""
    problem = keys.key_problem(key)
    if problem is not None:
        raise InvalidInput(problem)
    return key


def validate_prefix(prefix: str) -> str:
    """A prefix we may list or delete: a key that ends in '/'.

    Without the trailing slash ``videos/12`` would also match ``videos/123/…``.
    """
    validate_key(prefix)
    if not prefix.endswith("/"):
        raise InvalidInput(f"prefix {prefix!r} must end with '/' so it cannot match a neighbour")
    return prefix


class ObjectStore(Protocol):
    #: e.g. "r2://bucket" or "file:///var/lib/videoctl/storage"
    location: str

    def upload_file(self, path: Path, key: str, *, content_type: str | None = None) -> None:
        """Stream a local file to *key*."""

    def upload_fileobj(self, source: BinaryIO, key: str, *, content_type: str | None = None) -> None:
        """Stream an open file to *key* (what was checked is what is stored: no second open by name)."""

    def download_file(self, key: str, path: Path, *, if_match: str | None = None) -> None:
        """Stream *key* to a local file; NotFound if it does not exist. With *if_match* (an
        ETag from :meth:`head`), only that content: SourceChanged, and no file, if the object
        is another one, before or at any moment of the download."""

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under *prefix*, page by page."""

    def delete_keys(self, keys: Iterable[str]) -> int:
        """Delete keys in batches of at most 1 000; absent keys count as done."""

    def exists(self, key: str) -> bool:
        """Whether *key* exists."""

    def size(self, key: str) -> int | None:
        """The object's size, or None if it does not exist."""

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or None if it does not exist (locally this reads the
        file, to hash it)."""

    def url_for(self, key: str) -> str:
        """Where a person or a player finds *key*."""

    def open_read(self, key: str) -> BinaryIO:
        """*key* opened for reading (the caller closes it); NotFound if it does not exist."""

    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str | None:
        """A short-lived URL a browser may GET *key* at directly, or None when the store has none
        (a local directory: the reader serves :meth:`open_read` itself)."""


@runtime_checkable
class PresignedUploads(Protocol):
    """A store a browser uploads to directly, with URLs we sign (R2, S3).

    Every URL is for one key and one operation, and expires: the client can write
    that object and nothing else.
    """

    def presign_put(self, key: str, *, content_type: str, expires_s: int) -> str:
        """A URL for one PUT of *key*, sent with exactly *content_type*."""

    def start_multipart(self, key: str, *, content_type: str) -> str:
        """Open a multipart upload of *key*; returns its upload id."""

    def presign_part(self, key: str, upload_id: str, number: int, *, expires_s: int) -> str:
        """A URL for one PUT of part *number* (1-based) of the upload."""

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        """The parts the store holds for the upload, with their sizes; NotFound once it is
        completed or aborted."""

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        """Join *parts* (numbers and ETags, in part order) into the object; NotFound once the
        upload is completed or aborted."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; one already gone counts as done."""


@runtime_checkable
class LocalUploads(Protocol):
    """A local store: the client writes the file to a path we name."""

    def upload_path(self, key: str) -> Path:
        """Where to write *key*, its folders made (without following a link)."""


def delete_prefix(store: ObjectStore, prefix: str) -> int:
    """Delete everything under *prefix* (validated); returns the number deleted."""
    validate_prefix(prefix)
    return store.delete_keys(info.key for info in store.list_prefix(prefix))
