"""A small parser for the HLS playlists this project writes (RFC 8216).

Only what verification and the master rewrite need: variant streams and renditions of a
master playlist, and the segments, target duration, end marker and initialization section
(``EXT-X-MAP``, the init segment of fragmented MP4) of a media playlist.
Unknown tags are ignored, as the RFC requires of clients. Malformed input raises
VerifyFailed, since a playlist we cannot read is a ladder we cannot publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from videoctl.domain.errors import VerifyFailed

_Num = TypeVar("_Num", int, float)

# NAME=value pairs of an attribute list; quoted values may contain commas (CODECS="a,b").
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class Segment:
    uri: str
    duration_s: float


@dataclass(frozen=True)
class MediaPlaylist:
    target_duration: int | None
    segments: tuple[Segment, ...]
    ended: bool
    #: URI of the ``EXT-X-MAP`` initialization section: set for fragmented MP4 (CMAF), None for MPEG-TS.
    map_uri: str | None = None

    @property
    def duration_s(self) -> float:
        return sum(segment.duration_s for segment in self.segments)


@dataclass(frozen=True)
class Variant:
    """An ``#EXT-X-STREAM-INF`` entry: its attributes and the media playlist URI after it."""

    uri: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class MasterPlaylist:
    variants: tuple[Variant, ...]
    #: Attributes of each ``#EXT-X-MEDIA`` tag (alternative renditions such as audio).
    media: tuple[dict[str, str], ...]


def parse_attributes(text: str) -> dict[str, str]:
    """``BANDWIDTH=1,CODECS="a,b"`` → ``{"BANDWIDTH": "1", "CODECS": "a,b"}`` (quotes removed)."""
    return {name: value.strip('"') for name, value in _ATTRIBUTE.findall(text)}


def _lines(text: str, what: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise VerifyFailed(f"{what} is not an HLS playlist: it does not start with #EXTM3U")
    return lines[1:]


def parse_media_playlist(text: str, what: str = "media playlist") -> MediaPlaylist:
    target: int | None = None
    segments: list[Segment] = []
    ended = False
    map_uri: str | None = None
    pending: float | None = None
    for line in _lines(text, what):
        if line.startswith("#EXT-X-MAP:"):
            map_uri = parse_attributes(line.partition(":")[2]).get("URI")
            if not map_uri:
                raise VerifyFailed(f"{what}: #EXT-X-MAP has no URI")
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = _number(line.partition(":")[2], int, what)
        elif line.startswith("#EXTINF:"):
            pending = _number(line.partition(":")[2].split(",")[0], float, what)
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            if pending is None:
                raise VerifyFailed(f"{what}: segment {line!r} has no #EXTINF duration")
            segments.append(Segment(uri=line, duration_s=pending))
            pending = None
    if pending is not None:
        raise VerifyFailed(f"{what}: the last #EXTINF has no segment URI after it")
    return MediaPlaylist(target_duration=target, segments=tuple(segments), ended=ended, map_uri=map_uri)


def parse_master_playlist(text: str, what: str = "master playlist") -> MasterPlaylist:
    variants: list[Variant] = []
    media: list[dict[str, str]] = []
    pending: dict[str, str] | None = None
    for line in _lines(text, what):
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.partition(":")[2])
        elif line.startswith("#EXT-X-MEDIA:"):
            media.append(parse_attributes(line.partition(":")[2]))
        elif not line.startswith("#") and pending is not None:
            variants.append(Variant(uri=line, attributes=pending))
            pending = None
    if pending is not None:
        raise VerifyFailed(f"{what}: the last #EXT-X-STREAM-INF has no URI after it")
    return MasterPlaylist(variants=tuple(variants), media=tuple(media))


def _number(text: str, kind: type[_Num], what: str) -> _Num:
    try:
        return kind(text.strip())
    except ValueError:
        raise VerifyFailed(f"{what}: {text.strip()!r} is not a number") from None
