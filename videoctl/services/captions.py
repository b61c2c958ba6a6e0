"""Sidecar caption files: checked and stored at ``video add``, fetched again for each encode.

A sidecar is stored as WebVTT (converted from SRT when need be, and from the text encoding
it was saved in to UTF-8 without a byte order mark) under the video's captions prefix,
``videos/{id}/captions/{n}.{lang}.vtt``, beside the source and outside every attempt prefix,
so every encode of the video (a ``--force`` re-encode too) packages it again. ``n`` is its
place on the command line: the first is the default track.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from videoctl.domain import captions, keys
from videoctl.domain.errors import InvalidInput
from videoctl.media.captions import CONTENT_TYPE, read_caption_file
from videoctl.storage import ObjectStore


@dataclass(frozen=True)
class Sidecar:
    """A checked caption file, ready to store: its language and its WebVTT text."""

    language: str
    webvtt: str


def read_sidecars(files: Mapping[str, Path]) -> list[Sidecar]:
    """Every file parsed and converted, in order, before anything is stored; InvalidInput for the
    first bad language tag, repeated language or malformed file."""
    sidecars: list[Sidecar] = []
    for given, path in files.items():
        language = captions.check_language(given)
        if any(sidecar.language == language for sidecar in sidecars):
            raise InvalidInput(f"captions for {language!r} are given twice")
        cues = read_caption_file(Path(path), f"captions {language!r} ({Path(path).name})")
        sidecars.append(Sidecar(language, captions.write_webvtt(cues)))
    return sidecars


def store_sidecars(store: ObjectStore, videos_root: str, video_id: int, sidecars: list[Sidecar]) -> list[str]:
    """Upload each sidecar under the video's captions prefix; returns the keys, in order."""
    stored = []
    with tempfile.TemporaryDirectory(prefix="videoctl-captions-") as tmp:
        for position, sidecar in enumerate(sidecars, start=1):
            local = Path(tmp) / f"{sidecar.language}.vtt"
            local.write_text(sidecar.webvtt, encoding="utf-8")
            key = keys.caption_key(videos_root, video_id, position, sidecar.language)
            store.upload_file(local, key, content_type=CONTENT_TYPE)
            stored.append(key)
    return stored


def fetch_sidecars(store: ObjectStore, videos_root: str, video_id: int, workdir: Path) -> dict[str, Path]:
    """The video's stored sidecars downloaded into *workdir*: language → file, in the order given."""
    found = sorted(parsed + (info.key,) for info in store.list_prefix(keys.captions_prefix(videos_root, video_id))
                   if (parsed := keys.caption_of_key(info.key)) is not None)
    target = workdir / "captions"
    files: dict[str, Path] = {}
    for _, language, key in found:
        target.mkdir(parents=True, exist_ok=True)
        local = target / f"{language}.vtt"  # a canonical tag: letters, digits, hyphens
        store.download_file(key, local)
        files[language] = local
    return files
