"""Reading the manifests an encode writes, and checking the files they name.

Every manifest (media playlists, the master, the MPD, the storyboard's WebVTT) may only name
files beside or below it in the output: a name that is a URL, an absolute path or climbs
out with ``..`` would make a player fetch something that is not part of this video.
"""

from __future__ import annotations

from pathlib import Path

from videoctl.domain.errors import VerifyFailed


def read_manifest(path: Path, what: str | None = None) -> str:
    """The text of a manifest; VerifyFailed naming it (``what``, else folder/name) if it is missing or unreadable."""
    what = what or f"{path.parent.name}/{path.name}"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VerifyFailed(f"{what} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VerifyFailed(f"{what} cannot be read: {exc}") from None


def check_local_uri(uri: str, what: str) -> None:
    """A manifest may only name files beside or below it: never a URL, an absolute path or ``..``."""
    parts = uri.split("/")
    if ":" in uri or uri.startswith("/") or "\\" in uri or any(part in ("", ".", "..") for part in parts):
        raise VerifyFailed(f"{what} names {uri!r}, which is not a relative path inside the output")


def check_named_file(directory: Path, uri: str, what: str) -> Path:
    """A file the manifest ``what`` names, relative to ``directory``: inside it, present and not empty."""
    check_local_uri(uri, what)
    path = directory / uri
    if not path.is_file():
        raise VerifyFailed(f"{what} names {uri}, which is missing")
    if path.stat().st_size == 0:
        raise VerifyFailed(f"{what} names {uri}, which is empty")
    return path
