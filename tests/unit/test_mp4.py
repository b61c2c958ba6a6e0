"""The ISO BMFF box reading of media/mp4.py, on boxes built here byte by byte (no ffmpeg)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from videoctl.domain.errors import VerifyFailed
from videoctl.media.mp4 import (
    find_boxes,
    fragment_timing,
    iter_boxes,
    read_fragment_head,
    top_level_types,
    track_timescale,
    trex_default_duration,
)


def box(kind: str, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind.encode()) + body


def full(kind: str, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *payload)


def tfhd(default_duration: int | None) -> bytes:
    flags = 0x020000 | (0x08 if default_duration is not None else 0)
    extra = struct.pack(">I", default_duration) if default_duration is not None else b""
    return full("tfhd", 0, flags, struct.pack(">I", 1), extra)


def trun(durations: list[int] | None, count: int, *, sizes: bool = True) -> bytes:
    """A trun with a data offset, and per sample: duration (if given), size (if asked), a CTS offset."""
    flags = 0x001 | 0x800 | (0x100 if durations is not None else 0) | (0x200 if sizes else 0)
    samples = b""
    for index in range(count):
        if durations is not None:
            samples += struct.pack(">I", durations[index])
        if sizes:
            samples += struct.pack(">I", 1000 + index)
        samples += struct.pack(">I", 512)
    return full("trun", 0, flags, struct.pack(">Ii", count, 0), samples)


def fragment(decode_time: int, *runs: bytes, default_duration: int | None = 512, tfdt_version: int = 1) -> bytes:
    tfdt = full("tfdt", tfdt_version, 0, struct.pack(">Q" if tfdt_version == 1 else ">I", decode_time))
    return (box("styp", b"msdh\x00\x00\x00\x00")
            + box("moof", full("mfhd", 0, 0, struct.pack(">I", 1)), box("traf", tfhd(default_duration), tfdt, *runs))
            + box("mdat", b"\x00" * 64))


def init(timescale: int, *, mdhd_version: int = 0, trex_duration: int = 0) -> bytes:
    if mdhd_version == 1:
        mdhd = full("mdhd", 1, 0, struct.pack(">QQII", 0, 0, timescale, 0), b"\x55\xc4\x00\x00")
    else:
        mdhd = full("mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, 0), b"\x55\xc4\x00\x00")
    trex = full("trex", 0, 0, struct.pack(">IIIII", 1, 1, trex_duration, 0, 0))
    return box("ftyp", b"iso6") + box("moov", box("trak", box("mdia", mdhd)), box("mvex", trex))


def test_boxes_laid_end_to_end_and_found_by_path() -> None:
    data = fragment(0, trun(None, 3))
    assert [found.type for found in iter_boxes(data)] == ["styp", "moof", "mdat"]
    assert [found.type for found in find_boxes(data, "moof/traf/tfdt")] == ["tfdt"]
    assert find_boxes(data, "moov/trak") == []


def test_fragment_timing_from_the_default_duration() -> None:
    timing = fragment_timing(fragment(61440, trun(None, 120)))
    assert (timing.decode_time, timing.duration, timing.samples) == (61440, 120 * 512, 120)


def test_fragment_timing_from_each_samples_own_duration() -> None:
    timing = fragment_timing(fragment(0, trun([1024, 1024, 512], 3), default_duration=None, tfdt_version=0))
    assert (timing.decode_time, timing.duration, timing.samples) == (0, 2560, 3)


def test_fragment_timing_sums_every_trun_and_falls_back_to_trex() -> None:
    data = fragment(7, trun(None, 2, sizes=False), trun(None, 3), default_duration=None)
    assert fragment_timing(data, default_duration=1024).duration == 5 * 1024
    with pytest.raises(VerifyFailed, match="does not say how long"):
        fragment_timing(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (box("styp", b"x") + box("mdat", b""), "one track fragment, this one has 0"),
        (box("moof", box("traf", tfhd(512), trun(None, 1))), "no tfdt"),
        (box("moof", box("traf", tfhd(512), full("tfdt", 0, 0, struct.pack(">I", 0)))), "no samples"),
        (fragment(0, trun(None, 4))[:-80], "overruns"),
        (struct.pack(">I4s", 4, b"moof"), "overruns"),
        (b"\x00\x00\x00", "truncated MP4 box header"),
    ],
)
def test_malformed_fragments_fail_verification(data: bytes, message: str) -> None:
    with pytest.raises(VerifyFailed, match=message):
        fragment_timing(data)


def test_a_trun_whose_table_is_cut_short_is_refused() -> None:
    run = trun(None, 10)
    cut = struct.pack(">I", len(run) - 8) + run[4:-8]  # the box claims less than its 10 samples need
    with pytest.raises(VerifyFailed, match="truncated trun"):
        fragment_timing(box("moof", box("traf", tfhd(512), full("tfdt", 0, 0, struct.pack(">I", 0)), cut)))


@pytest.mark.parametrize("version", [0, 1])
def test_track_timescale_of_an_init_segment(version: int) -> None:
    assert track_timescale(init(15360, mdhd_version=version)) == 15360
    assert trex_default_duration(init(48000, trex_duration=1024)) == 1024


def test_an_init_segment_without_a_track_or_with_timescale_0_is_refused() -> None:
    with pytest.raises(VerifyFailed, match="has 0"):
        track_timescale(box("ftyp", b"iso6") + box("moov", b""))
    with pytest.raises(VerifyFailed, match="timescale is 0"):
        track_timescale(init(0))


def test_read_fragment_head_stops_at_the_media(tmp_path: Path) -> None:
    data = fragment(0, trun(None, 3))
    path = tmp_path / "seg.m4s"
    path.write_bytes(data + b"\xff" * 100_000)
    head = read_fragment_head(path)
    assert head == data[: data.index(b"mdat") - 4]
    assert fragment_timing(head).samples == 3


def test_top_level_types_read_only_headers(tmp_path: Path) -> None:
    path = tmp_path / "file.mp4"
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 5000) + b"\x00" * 5000  # a 64-bit size
    path.write_bytes(box("ftyp", b"isom") + box("moov", box("mvhd", b"\x00" * 100)) + large + box("free", b""))
    assert top_level_types(path) == ["ftyp", "moov", "mdat", "free"]
    path.write_bytes(box("ftyp", b"isom") + struct.pack(">I4s", 1000, b"mdat"))
    with pytest.raises(VerifyFailed, match="overruns the file"):
        top_level_types(path)
