"""A store's object as an HTTP response, for the pages' media (``/videos/ID/media/…``) and the
viewers' signed playback route (``/t/…``) alike.

From a local store: the file streamed, whole or one byte range (206, 416), with an ETag so that
a revisit costs a 304, and the type a player expects; a file with more than one hard link is
refused. From R2: playlists and WebVTT (small) relayed, so that their relative URIs resolve
against this server; anything else a redirect to a presigned GET.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from videoctl.api import Client
from videoctl.domain.errors import NotFound, StorageError
from videoctl.web.media import TEXT_SUFFIXES, Unsatisfiable, content_type, etag_matches, parse_range

#: How long a presigned R2 URL handed to a browser stays good: long enough to fetch one
#: segment or image (each request gets a fresh one), short enough to be worthless when shared.
PRESIGN_S = 300
#: A playlist or WebVTT file relayed from R2 is read whole; nothing videoctl writes comes near.
MAX_RELAYED_BYTES = 16 << 20
_CHUNK = 256 << 10


def store_object(client: Client, key: str, request: Request, *, cache_control: str,
                 download: str | None = None) -> Response:
    """*key* of the store as the answer to *request* (GET or HEAD); NotFound if it is absent,
    StorageError (not transient) for a link where it should be."""
    name = PurePosixPath(key).name
    presigned = client.presigned_url(key, expires_s=PRESIGN_S, download_name=download)
    if presigned is not None and PurePosixPath(key).suffix.lower() not in TEXT_SUFFIXES:
        return RedirectResponse(presigned, status_code=307, headers={"Cache-Control": "no-store"})
    body = client.open_object(key)
    if presigned is not None:
        return relayed(body, name, cache_control=cache_control, head=request.method == "HEAD")
    return file_response(body, request, name, cache_control=cache_control, download=download)


def relayed(body: BinaryIO, name: str, *, cache_control: str, head: bool = False) -> Response:
    try:
        data = body.read(MAX_RELAYED_BYTES + 1)
    finally:
        body.close()
    if len(data) > MAX_RELAYED_BYTES:
        raise NotFound(f"{name} is larger than a playlist or caption file can be")
    if head:
        return Response(status_code=200, media_type=content_type(name),
                        headers={"Cache-Control": cache_control, "Content-Length": str(len(data))})
    return Response(data, media_type=content_type(name), headers={"Cache-Control": cache_control})


def file_response(body: BinaryIO, request: Request, name: str, *, cache_control: str,
                  download: str | None = None) -> Response:
    """A local file, whole or one byte range, with its ETag: If-None-Match (304) and If-Range
    as RFC 9110 reads them; a file with more than one hard link is refused (StorageError)."""
    try:
        found = os.fstat(body.fileno())
        if found.st_nlink > 1:
            # videoctl writes every output as a file of its own; a second name for it means
            # someone linked a file from elsewhere (a source, a secret) into the ladder. The
            # store refuses symbolic links; a hard link it cannot tell from the file, so here.
            raise StorageError(f"{name} has {found.st_nlink} hard links; a file linked into a ladder is never served",
                               hint="videoctl never writes links: find out who planted it, then remove it")
        etag = f'"{found.st_mtime_ns:x}-{found.st_size:x}"'
        headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": cache_control,
                   "Content-Type": content_type(name)}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="{download}"'
        if etag_matches(request.headers.get("if-none-match"), etag):
            body.close()
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})
        if_range = request.headers.get("if-range")
        asked = request.headers.get("range") if if_range is None or if_range.strip() == etag else None
        try:
            wanted = parse_range(asked, found.st_size)
        except Unsatisfiable:
            body.close()
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{found.st_size}"})
        start, length, status = 0, found.st_size, 200
        if wanted is not None:
            start, length, status = wanted.start, wanted.length, 206
            headers["Content-Range"] = wanted.content_range
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            body.close()
            return Response(status_code=status, headers=headers)
        body.seek(start)
    except BaseException:
        body.close()
        raise
    return _FileStream(body, length, status_code=status, headers=headers)


class _FileStream(StreamingResponse):
    """A file's bytes, the file closed however the response ends: a browser that goes away
    mid-download (a player seeking, a closed tab) cancels the response between two chunks,
    where a generator's own ``finally`` would wait for the garbage collector."""

    def __init__(self, body: BinaryIO, length: int, **options: Any) -> None:
        self._body = body
        super().__init__(_chunks(body, length), **options)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._body.close()


def _chunks(body: BinaryIO, length: int) -> Iterator[bytes]:
    """*length* bytes from where *body* stands, then it is closed (also when the browser goes away)."""
    try:
        while length > 0:
            chunk = body.read(min(_CHUNK, length))
            if not chunk:  # shorter than its size said: the file was truncated while being read
                raise OSError("the file ended early")
            length -= len(chunk)
            yield chunk
    finally:
        body.close()
