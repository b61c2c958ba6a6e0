"""The store's objects to a browser: which key a media URL names, HTTP byte ranges, content types.

A video's media URLs are ``/videos/{id}/media/{path}``, *path* relative to the folder of its
master playlist, so the relative URIs inside the playlists resolve to further media URLs and
nothing outside that folder (the source, another video) can be named. Pure: no IO here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

#: What a player expects for each output; anything else goes as bytes.
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".ts": "video/mp2t",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
#: Small text read by the page's own scripts: served by this process even from R2, so that the
#: relative URIs inside resolve against this server (a presigned URL is good for one key only).
TEXT_SUFFIXES = frozenset({".m3u8", ".mpd", ".vtt"})

_RANGE = re.compile(r"([0-9]*)-([0-9]*)")
#: The longest position taken: 18 digits is past any object a store holds (an exabyte), and
#: Python refuses to read a number of more than 4300 digits at all (ValueError).
_MAX_DIGITS = 18


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def relative_media_path(path: str) -> str | None:
    """*path* as a relative key below the master's folder, or None if it could name anything
    else: an empty, ``.`` or ``..`` segment, a leading ``/``, a backslash or a control character."""
    if not path or len(path) > 1024 or "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return None
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return None
    return path


@dataclass(frozen=True)
class ByteRange:
    """Bytes *start* to *end*, both included, of an object of *size* bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(ValueError):
    """A Range this object cannot answer: 416, with ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a ``Range`` header asks for, or None to send the whole object.

    ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` are answered (an end past the object is cut to
    it); several ranges at once are answered with the whole object, which RFC 9110 allows and no
    player needs otherwise. The unit is case-insensitive, and a unit other than ``bytes``
    (``items=0-1``) is ignored, as RFC 9110 says: the whole object. A range that starts past the
    end, ends before it starts, has a position of more than 18 digits, or is not ``bytes=…``
    syntax is Unsatisfiable.
    """
    if header is None:
        return None
    unit, equals, ranges = header.strip().partition("=")
    if not equals:
        raise Unsatisfiable(header)
    if unit.strip().lower() != "bytes":
        return None
    ranges = ranges.strip()
    if "," in ranges:
        return None
    match = _RANGE.fullmatch(ranges)
    if match is None or not (match[1] or match[2]) or max(len(match[1]), len(match[2])) > _MAX_DIGITS:
        raise Unsatisfiable(header)
    if not match[1]:  # the last n bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(size - suffix, 0), size - 1, size)
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or (match[2] and int(match[2]) < start):
        raise Unsatisfiable(header)
    return ByteRange(start, end, size)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names *etag*: ``*``, or any tag of its list compared
    weakly (``W/"x"`` and ``"x"`` are the same), as RFC 9110 says a cache revalidates."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))
