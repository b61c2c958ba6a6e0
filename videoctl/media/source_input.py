"""Opening a source, in PyAV or on an ffmpeg command line: as the media file it claims to be.

Every place that reads the source (probe, the ladder encode with its poster and storyboard,
the captions' extraction) opens it through here, so they all take the same allowlist
(``domain.containers``):

- ``format_whitelist``: ffmpeg refuses to open the file with any demuxer but the allowed
  containers, so an HLS playlist, a DASH manifest, a concat list or an image sequence is
  never read as one, whatever its content or name;
- ``protocol_whitelist=file``: only the local file is opened, never ``data:``, ``http:``,
  ``concat:``, ``subfile:``, ``tee:`` … (also not by a demuxer on the source's behalf);
- the URL is ``file:`` and the absolute path, so no part of the path is read as a protocol.

After opening, PyAV says which demuxer ffmpeg chose, and it is checked against the same
allowlist. A refused source is ``InvalidInput`` with the reason: for that, the file is
identified once more with nothing but its own bytes readable (``_identify``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import ffmpeg
from av.container import InputContainer

from videoctl.domain import containers
from videoctl.domain.errors import InvalidInput

#: The only protocol a source is read with.
PROTOCOLS = "file"
#: How much of the file names a list of other files (``containers.list_kind``).
_HEAD_BYTES = 4096
#: A protocol whitelist no protocol is on: identifying a refused file opens nothing else.
_NO_PROTOCOL = "none"


def input_options() -> dict[str, str]:
    """ffmpeg's input options for a source, for PyAV's container options and the command line."""
    return {"format_whitelist": containers.format_whitelist(), "protocol_whitelist": PROTOCOLS}


def source_url(path: Path | str) -> str:
    """``file:/abs/path``: a path starting ``concat:`` or ``data:`` is a file name, nothing else."""
    return f"file:{Path(path).absolute()}"


def ffmpeg_input(path: Path | str, **options: Any) -> Any:
    """The source as an ffmpeg-python input node (``options`` such as ``threads`` added)."""
    return ffmpeg.input(source_url(path), **input_options(), **options)


def input_args(path: Path | str) -> list[str]:
    """The source as ffmpeg command-line arguments: its input options, then ``-i URL``."""
    args = []
    for name, value in input_options().items():
        args += [f"-{name}", value]
    return [*args, "-i", source_url(path)]


def open_source(path: Path | str) -> InputContainer:
    """The source opened by PyAV with an allowed demuxer; InvalidInput saying why not."""
    path = Path(path)
    try:
        # Phones write odd metadata bytes; a tag must never make a playable file "invalid".
        container = av.open(source_url(path), container_options=input_options(), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise InvalidInput(_refused_reason(path, exc)) from None
    reason = containers.refusal(container.format.name)
    if reason is not None:
        container.close()
        raise InvalidInput(reason)
    return container


def _refused_reason(path: Path, exc: av.error.FFmpegError) -> str:
    """Why ``path`` could not be opened as an allowed container, for the operator."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    kind = containers.list_kind(head)
    if kind is not None:
        return containers.list_refusal(kind)
    identity = _identify(path)
    reason = containers.refusal(identity.demuxer) if identity.demuxer is not None else None
    if reason is not None:
        return reason
    if identity.names_others:
        return containers.list_refusal(None)
    if head[4:8] == b"ftyp":
        return ("the MP4 file is truncated or damaged: its index (moov atom) is missing, "
                "typically because the upload was cut off")
    return f"not a media file: it cannot be read as audio or video ({exc.strerror})"


@dataclass(frozen=True)
class _Identity:
    #: The demuxer that reads the file by itself; None when none does.
    demuxer: str | None
    #: The demuxer ffmpeg picked wanted to open another file or stream.
    names_others: bool = False


class _NestedOpen(Exception):
    """A demuxer tried to open a file or stream other than the source."""


def _refuse_nested(url: str, flags: int, options: dict) -> None:
    raise _NestedOpen


def _identify(path: Path) -> _Identity:
    """What ffmpeg makes of ``path`` with every demuxer allowed but nothing else readable.

    The file's own bytes come from a Python file; any other open a demuxer makes is refused,
    through PyAV's ``io_open`` (HLS, DASH) or, for demuxers that open files themselves
    (concat), by a protocol whitelist no protocol is on, which ffmpeg answers with EINVAL.
    """
    with path.open("rb") as handle:
        try:
            with av.open(handle, io_open=_refuse_nested, container_options={"protocol_whitelist": _NO_PROTOCOL},
                         metadata_errors="replace") as container:
                return _Identity(container.format.name)
        except _NestedOpen:
            return _Identity(None, names_others=True)
        except av.error.FFmpegError as exc:
            return _Identity(None, names_others=exc.errno == errno.EINVAL)
