"""Everything one encode produces, by name inside its attempt prefix. Pure.

All outputs of an attempt live under ``videos/{video}/hls/{job}-{attempt}/`` (DESIGN.md
section 4), so the switch to READY and the deletion of a replaced encode cover all of
them. A video records where each one is, so a player page needs no listing:
:func:`outputs_from_keys` reads that record off the keys an upload left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MASTER = "master.m3u8"
MPD = "manifest.mpd"
POSTER = "poster.jpg"
POSTER_SMALL = "poster-320.jpg"
STORYBOARD = "storyboard.vtt"
DOWNLOAD = "download.mp4"
#: One HLS subtitle playlist per language: ``subs/{lang}.m3u8``, its segments beside it.
SUBTITLES = "subs/"


@dataclass(frozen=True)
class Outputs:
    """Where a READY video's outputs are in the store (keys), beyond its master playlist."""

    mpd_path: str | None = None
    poster_path: str | None = None
    poster_small_path: str | None = None
    storyboard_path: str | None = None
    download_path: str | None = None
    caption_languages: tuple[str, ...] = ()


def outputs_from_keys(prefix: str, keys: Iterable[str]) -> Outputs:
    """The outputs an attempt left under *prefix*, from the keys found there."""
    names = {key.removeprefix(prefix) for key in keys if key.startswith(prefix)}

    def found(name: str) -> str | None:
        return prefix + name if name in names else None

    languages = sorted(name.removeprefix(SUBTITLES).removesuffix(".m3u8") for name in names
                       if name.startswith(SUBTITLES) and name.endswith(".m3u8") and name.count("/") == 1)
    return Outputs(found(MPD), found(POSTER), found(POSTER_SMALL), found(STORYBOARD), found(DOWNLOAD),
                   tuple(languages))


@dataclass(frozen=True)
class SubtitleRendition:
    """One caption language as packaged beside the ladder: what the master playlist's
    SUBTITLES group and the MPD's text AdaptationSet name. Paths are relative to the prefix."""

    #: BCP 47 language tag, e.g. "ko", "en", "pt-BR".
    language: str
    #: What a player's menu shows, e.g. "한국어", "English".
    name: str
    default: bool
    #: The HLS media playlist of segmented WebVTT: subs/{language}.m3u8.
    playlist: str
    #: The whole track as one WebVTT file, for DASH: subs/{language}.vtt.
    vtt: str
