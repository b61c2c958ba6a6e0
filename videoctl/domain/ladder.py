"""The encoding ladder: which renditions a source gets, and at what size and frame rate.

Pure policy, no IO: the media layer turns these decisions into an ffmpeg command.

- A ladder is a set of rungs (height + bitrate cap), configured as a string like
  ``"1080:5000,720:3000,480:1500,360:800"`` (height:maxrate_kbps).
- A rung's height is its nominal size, the short side of the picture, as the big
  platforms count: a portrait 720p rung is 720x1280, the same pixels and bits as a
  landscape 1280x720 one. Keyed on the height instead, a 720x1280 phone video would get
  rungs 608x1080 … 202x360, every one narrower than it should be.
- A source never gets a rung above its displayed short side (upscaling only wastes bits);
  a source smaller than every rung gets one rung at its own (even) short side.
- The long side follows the source's displayed aspect ratio, rounded to an even number
  because 4:2:0 chroma needs even dimensions.
- Frame rate: sources above ``MAX_FPS`` are decimated by the smallest whole factor that
  brings them to ``MAX_FPS`` or below (120 → 60, 100 → 50, 144 → 48, 240 → 60). Keeping
  every k-th frame gives even motion; a plain cap (100 → 60) would drop frames unevenly
  and judder. Everything at or below ``MAX_FPS`` keeps its rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from videoctl.domain.errors import InvalidInput

#: Highest output frame rate; HLS players and H.264 levels for 1080p are comfortable up to here.
MAX_FPS = 60

#: Smallest and largest rung height accepted in a ladder spec.
MIN_RUNG_HEIGHT = 16
MAX_RUNG_HEIGHT = 8192


@dataclass(frozen=True)
class Rung:
    """One video rendition: its nominal height (the short side) and the VBV cap of the capped-CRF encode."""

    height: int
    maxrate_kbps: int
    bufsize_kbps: int
    audio_kbps: int = 128

    @property
    def name(self) -> str:
        """Directory and variant name, e.g. ``"720p"``."""
        return f"{self.height}p"


def _rung(height: int, maxrate_kbps: int) -> Rung:
    # A buffer of twice the maxrate lets x264 spend bits on hard scenes while the
    # average stays capped (docs/encoding.md, "Rate control").
    return Rung(height=height, maxrate_kbps=maxrate_kbps, bufsize_kbps=2 * maxrate_kbps)


DEFAULT_LADDER: tuple[Rung, ...] = (
    _rung(1080, 5000),
    _rung(720, 3000),
    _rung(480, 1500),
    _rung(360, 800),
)


def parse_ladder(spec: str) -> tuple[Rung, ...]:
    """Parse ``"1080:5000,720:3000"`` (height:maxrate_kbps, comma separated) into rungs.

    Returns the rungs sorted by height, highest first. Raises InvalidInput naming the
    offending entry for anything that is not a well-formed, positive, even, unique height.
    """
    entries = [part.strip() for part in spec.split(",")]
    if not spec.strip() or any(not part for part in entries):
        raise InvalidInput(
            f"ladder {spec!r} is empty or has an empty entry",
            hint='use height:maxrate_kbps pairs, e.g. "1080:5000,720:3000,480:1500,360:800"',
        )
    rungs: dict[int, Rung] = {}
    for entry in entries:
        height, maxrate = _parse_entry(entry)
        if height in rungs:
            raise InvalidInput(f"ladder entry {entry!r}: height {height} appears twice")
        rungs[height] = _rung(height, maxrate)
    return tuple(sorted(rungs.values(), key=lambda rung: rung.height, reverse=True))


def _parse_entry(entry: str) -> tuple[int, int]:
    fields = [field.strip() for field in entry.split(":")]
    if len(fields) != 2:
        raise InvalidInput(f"ladder entry {entry!r} is not height:maxrate_kbps")
    try:
        height, maxrate = int(fields[0]), int(fields[1])
    except ValueError:
        raise InvalidInput(f"ladder entry {entry!r}: height and maxrate must be whole numbers") from None
    if not MIN_RUNG_HEIGHT <= height <= MAX_RUNG_HEIGHT:
        raise InvalidInput(
            f"ladder entry {entry!r}: height must be between {MIN_RUNG_HEIGHT} and {MAX_RUNG_HEIGHT}"
        )
    if height % 2:
        raise InvalidInput(f"ladder entry {entry!r}: height must be even (4:2:0 video needs even sizes)")
    if maxrate <= 0:
        raise InvalidInput(f"ladder entry {entry!r}: maxrate must be positive")
    return height, maxrate


def choose_rungs(ladder: tuple[Rung, ...], short_side: int) -> tuple[Rung, ...]:
    """The rungs a source whose displayed short side is ``short_side`` gets, highest first.

    The short side is the height of a landscape source and the width of a portrait one,
    after rotation (``SourceInfo.short_side``). Never above it. A source smaller than the
    smallest rung gets one rung at its own short side rounded down to even, with the
    smallest rung's bitrate cap.
    """
    if not ladder:
        raise ValueError("the ladder has no rungs")
    even_side = short_side - short_side % 2
    if even_side < 2:
        raise InvalidInput(f"source short side {short_side} is too small to encode")
    ordered = sorted(ladder, key=lambda rung: rung.height, reverse=True)
    chosen = tuple(rung for rung in ordered if rung.height <= short_side)
    if chosen:
        return chosen
    smallest = ordered[-1]
    return (
        Rung(
            height=even_side,
            maxrate_kbps=smallest.maxrate_kbps,
            bufsize_kbps=smallest.bufsize_kbps,
            audio_kbps=smallest.audio_kbps,
        ),
    )


def rung_size(source_w: int, source_h: int, rung_height: int) -> tuple[int, int]:
    """Width and height of a rung for a source displayed at ``source_w`` x ``source_h``.

    The rung's nominal height is the short side; the long side keeps the source's
    displayed aspect ratio, rounded to even. A rung above the source's short side is a
    caller's mistake (rungs come from ``choose_rungs``): it raises rather than upscale.
    """
    if source_w <= 0 or source_h <= 0 or rung_height <= 0:
        raise ValueError(f"dimensions must be positive, got {source_w}x{source_h} → {rung_height}")
    short, long = sorted((source_w, source_h))
    if rung_height > short:
        raise ValueError(
            f"a {rung_height}p rung is above the short side of a {source_w}x{source_h} source: "
            "choose rungs with choose_rungs(ladder, short side)"
        )
    # Integer arithmetic, halves rounded up (like ffmpeg's -2), so no float can tip it.
    long_side = 2 * ((long * rung_height + short) // (2 * short))
    return (rung_height, long_side) if source_w < source_h else (long_side, rung_height)


def output_fps(source_fps: float) -> Fraction:
    """The constant output frame rate for a source, as an exact fraction.

    Common NTSC rates come back exact (29.97 → 30000/1001). Above MAX_FPS the rate is
    divided by the smallest whole number that brings it to MAX_FPS or below.
    """
    if not math.isfinite(source_fps) or source_fps <= 0:
        raise ValueError(f"frame rate must be positive, got {source_fps}")
    rate = Fraction(source_fps).limit_denominator(1001)
    factor = math.ceil(rate / MAX_FPS)
    return rate / factor if factor > 1 else rate


def gop_frames(fps: Fraction, segment_s: int) -> int:
    """Frames per GOP so that every segment starts on a keyframe at the same timestamp."""
    return max(1, round(fps * segment_s))
