"""Just enough ISO BMFF (MP4) box reading for packaging and verification.

Three questions are answered here, none of which PyAV exposes:

- A CMAF fragment's timing, exactly: its ``tfdt`` (base media decode time) and the sum of
  its samples' durations, in the track's timescale.
  The MPD's SegmentTimeline is written from these, so DASH players place each segment
  where its media really is (EXTINF durations are rounded to microseconds).
- A track's timescale (``mdhd``) from its init segment.
- The order of a file's top-level boxes: a progressive download must have its ``moov``
  before its ``mdat`` (``+faststart``), or a browser must fetch the end of the file first.

The parsers work on bytes and raise ``VerifyFailed`` on anything malformed; the two readers
at the end take from a file only the bytes they need (a fragment's head, box headers).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from videoctl.domain.errors import VerifyFailed

#: Boxes whose payload is a sequence of boxes (the ones on the paths we walk).
_CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl", "moof", "traf", "mvex", "edts"})

# tfhd flags (ISO/IEC 14496-12 8.8.7) and trun flags (8.8.8).
_TFHD_BASE_DATA_OFFSET = 0x000001
_TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002
_TFHD_DEFAULT_DURATION = 0x000008
_TRUN_DATA_OFFSET = 0x000001
_TRUN_FIRST_SAMPLE_FLAGS = 0x000004
_TRUN_DURATION = 0x000100
_TRUN_SIZE = 0x000200
_TRUN_FLAGS = 0x000400
_TRUN_COMPOSITION_OFFSET = 0x000800
_TRUN_SAMPLE_FIELDS = (_TRUN_DURATION, _TRUN_SIZE, _TRUN_FLAGS, _TRUN_COMPOSITION_OFFSET)


@dataclass(frozen=True)
class Box:
    type: str
    #: Offsets in the data: where the box starts, where its payload starts, where it ends.
    start: int
    payload: int
    end: int


@dataclass(frozen=True)
class Fragment:
    """One ``moof``'s timing, in its track's timescale."""

    decode_time: int
    duration: int
    samples: int


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes laid end to end in ``data[start:end]``; VerifyFailed if one overruns."""
    end = len(data) if end is None else end
    offset = start
    while offset < end:
        if end - offset < 8:
            raise VerifyFailed(f"truncated MP4 box header at byte {offset}")
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if end - offset < 16:
                raise VerifyFailed(f"truncated MP4 box header at byte {offset}")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:  # extends to the end
            size = end - offset
        if size < header or offset + size > end:
            raise VerifyFailed(f"MP4 box {kind.decode('latin-1')!r} at byte {offset} overruns its container")
        yield Box(kind.decode("latin-1"), offset, offset + header, offset + size)
        offset += size


def find_boxes(data: bytes, path: str, start: int = 0, end: int | None = None) -> list[Box]:
    """Every box at ``path`` (e.g. ``"moof/traf/tfdt"``) below ``data[start:end]``."""
    first, _, rest = path.partition("/")
    found = []
    for box in iter_boxes(data, start, end):
        if box.type != first:
            continue
        if not rest:
            found.append(box)
        elif first in _CONTAINERS:
            found += find_boxes(data, rest, box.payload, box.end)
    return found


def fragment_timing(data: bytes, default_duration: int = 0) -> Fragment:
    """The timing of the fragment (``moof`` + its samples' table) at the head of ``data``.

    ``default_duration`` is the track's ``trex`` default, used only when neither ``trun`` nor
    ``tfhd`` gives the samples' durations.
    """
    trafs = find_boxes(data, "moof/traf")
    if len(trafs) != 1:
        raise VerifyFailed(f"a CMAF fragment has one track fragment, this one has {len(trafs)}")
    traf = trafs[0]
    decode_time = _tfdt(data, traf)
    default = _tfhd_default_duration(data, traf) or default_duration
    duration = samples = 0
    for trun in find_boxes(data, "trun", traf.payload, traf.end):
        durations = _trun_durations(data, trun, default)
        samples += len(durations)
        duration += sum(durations)
    if samples == 0:
        raise VerifyFailed("the fragment has no samples")
    return Fragment(decode_time, duration, samples)


def track_timescale(init: bytes) -> int:
    """The media timescale (``mdhd``) of the one track of an init segment."""
    mdhds = find_boxes(init, "moov/trak/mdia/mdhd")
    if len(mdhds) != 1:
        raise VerifyFailed(f"an init segment has one track, this one has {len(mdhds)}")
    box = mdhds[0]
    version = _byte(init, box.payload)
    offset = box.payload + (20 if version == 1 else 12)
    (timescale,) = _unpack(init, ">I", offset, box.end)
    if timescale == 0:
        raise VerifyFailed("the track's timescale is 0")
    return timescale


def trex_default_duration(init: bytes) -> int:
    """The default sample duration of the track's ``trex`` (0 when absent)."""
    for box in find_boxes(init, "moov/mvex/trex"):
        (duration,) = _unpack(init, ">I", box.payload + 12, box.end)
        return duration
    return 0


def _byte(data: bytes, offset: int) -> int:
    if offset >= len(data):
        raise VerifyFailed("truncated MP4 box")
    return data[offset]


def _unpack(data: bytes, fmt: str, offset: int, end: int) -> tuple[int, ...]:
    if offset + struct.calcsize(fmt) > end:
        raise VerifyFailed("truncated MP4 box")
    return struct.unpack_from(fmt, data, offset)


def _tfdt(data: bytes, traf: Box) -> int:
    boxes = find_boxes(data, "tfdt", traf.payload, traf.end)
    if len(boxes) != 1:
        raise VerifyFailed("the track fragment has no tfdt (base media decode time)")
    box = boxes[0]
    version = _byte(data, box.payload)
    (value,) = _unpack(data, ">Q" if version == 1 else ">I", box.payload + 4, box.end)
    return value


def _tfhd_default_duration(data: bytes, traf: Box) -> int:
    boxes = find_boxes(data, "tfhd", traf.payload, traf.end)
    if len(boxes) != 1:
        raise VerifyFailed("the track fragment has no tfhd")
    box = boxes[0]
    (flags,) = _unpack(data, ">I", box.payload, box.end)
    offset = box.payload + 8  # version/flags, track_ID
    if flags & _TFHD_BASE_DATA_OFFSET:
        offset += 8
    if flags & _TFHD_SAMPLE_DESCRIPTION_INDEX:
        offset += 4
    if not flags & _TFHD_DEFAULT_DURATION:
        return 0
    (duration,) = _unpack(data, ">I", offset, box.end)
    return duration


def _trun_durations(data: bytes, box: Box, default_duration: int) -> list[int]:
    """The durations of one ``trun``'s samples: its own, or the default for all of them."""
    (flags, count) = _unpack(data, ">II", box.payload, box.end)
    flags &= 0xFFFFFF
    offset = box.payload + 8
    offset += 4 if flags & _TRUN_DATA_OFFSET else 0
    offset += 4 if flags & _TRUN_FIRST_SAMPLE_FLAGS else 0
    fields = sum(1 for flag in _TRUN_SAMPLE_FIELDS if flags & flag)
    if offset + 4 * fields * count > box.end:
        raise VerifyFailed("truncated trun box")
    if not flags & _TRUN_DURATION:
        if default_duration == 0:
            raise VerifyFailed("the fragment does not say how long its samples last")
        return [default_duration] * count
    # The duration is the first of each sample's fields when present.
    return [struct.unpack_from(">I", data, offset + 4 * fields * index)[0] for index in range(count)]


def shift_fragment(data: bytearray, ticks: int, sequences: int) -> None:
    """Move a CMAF fragment ``ticks`` later on its track's timeline and ``sequences`` on in
    numbering, in place: its ``tfdt`` (decode time), the ``sidx``'s earliest presentation time
    and the ``mfhd`` sequence number. Nothing changes size, so every offset stays valid.

    A chunk of a long video is encoded from its own time 0 (its init segment then equals one
    pass's byte for byte, edit list included); this puts its fragments where they belong.
    """
    if ticks < 0 or sequences < 0:
        raise ValueError("a fragment only moves later")
    _add(data, find_boxes(data, "moof/traf/tfdt"), ticks, "tfdt")
    _add(data, find_boxes(data, "sidx"), ticks, "sidx")
    for box in find_boxes(data, "moof/mfhd"):
        (number,) = _unpack(data, ">I", box.payload + 4, box.end)
        if number + sequences > 0xFFFFFFFF:
            raise VerifyFailed("a fragment's sequence number would overflow")
        struct.pack_into(">I", data, box.payload + 4, number + sequences)


def _add(data: bytearray, boxes: list[Box], ticks: int, kind: str) -> None:
    """Add ``ticks`` to the time field of each ``tfdt`` or ``sidx`` box (32 or 64 bits by version)."""
    for box in boxes:
        version = _byte(data, box.payload)
        # tfdt: version/flags, then the time; sidx: version/flags, reference_ID, timescale, then it.
        offset = box.payload + (4 if kind == "tfdt" else 12)
        fmt = ">Q" if version == 1 else ">I"
        (value,) = _unpack(data, fmt, offset, box.end)
        if value + ticks > (0xFFFFFFFFFFFFFFFF if version == 1 else 0xFFFFFFFF):
            raise VerifyFailed(f"a fragment's {kind} time would overflow its {32 if version == 0 else 64} bits")
        struct.pack_into(fmt, data, offset, value + ticks)


# ------------------------------------------------------------------ readers (IO)

#: Enough for any moof we write (a 4 s segment at 60 fps has 240 samples, ~4 KiB of table).
_HEAD_LIMIT = 4 * 1024 * 1024


def read_fragment_head(path: Path) -> bytes:
    """The bytes of ``path`` up to the start of its first ``mdat`` (styp, sidx, moof)."""
    head = bytearray()
    with Path(path).open("rb") as handle:
        while len(head) < _HEAD_LIMIT:
            header = handle.read(8)
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if kind == b"mdat":
                break
            if size == 1:
                extended = handle.read(8)
                header += extended
                (size,) = struct.unpack(">Q", extended) if len(extended) == 8 else (0,)
            if size < len(header):
                raise VerifyFailed(f"{Path(path).name}: malformed MP4 box {kind.decode('latin-1')!r}")
            body = handle.read(size - len(header))
            head += header + body
    return bytes(head)


def top_level_types(path: Path) -> list[str]:
    """The types of a file's top-level boxes, in order, reading only their headers."""
    types = []
    with Path(path).open("rb") as handle:
        handle.seek(0, 2)
        length = handle.tell()
        offset = 0
        while offset < length:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                raise VerifyFailed(f"{Path(path).name}: truncated MP4 box header at byte {offset}")
            size, kind = struct.unpack_from(">I4s", header)
            if size == 1 and len(header) == 16:
                (size,) = struct.unpack_from(">Q", header, 8)
            elif size == 0:
                size = length - offset
            if size < 8 or offset + size > length:
                raise VerifyFailed(f"{Path(path).name}: MP4 box {kind.decode('latin-1')!r} at byte {offset} overruns the file")
            types.append(kind.decode("latin-1"))
            offset += size
    return types
