"""How big a Fargate container an encode gets: chosen from how much video it works through. Pure.

An encode is CPU-bound, and its CPU time grows with the pixels it decodes and encodes: the
source's duration × width × height × frame rate, counted here in gigapixels (Gpx). An hour of
1080p30 is 224 Gpx, an hour of 720p30 100 Gpx. ``benchmarks/encode_ladder.py`` measured about
33 CPU-seconds per Gpx for the default ladder at veryfast (61 s of CPU for 30 s of a grainy
1080p30 source; a lecture's slides and still camera take less). The wall time is that ÷ the
vCPUs, so a long lecture on a fixed size runs for hours while a short clip pays for vCPUs it
leaves idle. ``VIDEOCTL_SIZING`` is a table of steps, ``GPX:VCPU/MEMORY_MIB`` from 0 Gpx up: a
source gets the size of the last step it reaches. Every pair must be one Fargate offers; AWS
refuses any other at SubmitJob, and moto accepts them all, so it is checked here.

The same choice sizes a whole video or one part of it (a chunk of a long one): give it the
part's duration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from videoctl.domain.errors import InvalidInput

#: Fargate's task sizes: vCPU → the MEMORY values it may have, in MiB (the Batch and ECS
#: "task CPU and memory" table). 8 and 16 vCPU need Linux platform 1.4.0, which LATEST is.
FARGATE_MEMORY: dict[Decimal, tuple[int, ...]] = {
    Decimal("0.25"): (512, 1024, 2048),
    Decimal("0.5"): tuple(range(1024, 4096 + 1, 1024)),
    Decimal("1"): tuple(range(2048, 8192 + 1, 1024)),
    Decimal("2"): tuple(range(4096, 16384 + 1, 1024)),
    Decimal("4"): tuple(range(8192, 30720 + 1, 1024)),
    Decimal("8"): tuple(range(16384, 61440 + 1, 4096)),
    Decimal("16"): tuple(range(32768, 122880 + 1, 8192)),
}

#: A frame rate not known yet counts as this (most lectures are 25 or 30 fps).
NOMINAL_FPS = 30.0
GIGA = 1e9

#: ``VIDEOCTL_SIZING``'s value for no sizing: every container gets the job definition's size.
SIZING_OFF = "off"
#: Each size keeps an encode under about half an hour at the measured 33 CPU-seconds per Gpx:
#: below 50 Gpx (13 minutes of 1080p30) 2 vCPU; to 200 Gpx (53 minutes) 4; to 500 Gpx (2 h 14
#: min) 8; beyond, 16. Memory is Fargate's least for those vCPUs, 2 GiB each: the ladder needs
#: far less (ffmpeg peaked at 1.1 GiB with the 16-vCPU thread plan on a 1080p source; README).
DEFAULT_SIZING = "0:2/4096,50:4/8192,200:8/16384,500:16/32768"


def fargate_problem(vcpus: Decimal, memory_mib: Decimal) -> str | None:
    """Why Fargate would refuse this pair, or None when it offers it."""
    valid = FARGATE_MEMORY.get(vcpus) if vcpus.is_finite() and vcpus > 0 else None
    if valid is None:
        return f"Fargate has no {vcpus} vCPU size; it offers {', '.join(str(v) for v in FARGATE_MEMORY)}"
    if not memory_mib.is_finite() or memory_mib != memory_mib.to_integral_value() or int(memory_mib) not in valid:
        return f"Fargate does not offer {memory_mib} MiB with {vcpus} vCPU; valid: {memory_choices(valid)} MiB"
    return None


def memory_choices(valid: tuple[int, ...]) -> str:
    """A memory range as people write it: ``4096–16384 in steps of 1024`` or ``512, 1024, 2048``."""
    if len(valid) > 4:
        return f"{valid[0]}–{valid[-1]} in steps of {valid[1] - valid[0]}"
    return ", ".join(str(v) for v in valid)


@dataclass(frozen=True)
class ContainerSize:
    """A Fargate task size: what SubmitJob's containerOverrides.resourceRequirements carries."""

    vcpus: float
    memory_mib: int

    @property
    def vcpu_value(self) -> str:
        """vCPUs as Batch's VCPU takes them: ``0.25``, ``4``."""
        return f"{self.vcpus:g}"

    def __str__(self) -> str:
        return f"{self.vcpu_value} vCPU, {self.memory_mib} MiB"

    @classmethod
    def recorded(cls, vcpus: float | None, memory_mib: int | None) -> ContainerSize | None:
        """The size a row records (``size_vcpus``, ``size_memory_mib``), or None where it records none."""
        return None if vcpus is None or memory_mib is None else cls(vcpus, memory_mib)


@dataclass(frozen=True)
class SizingStep:
    """Sources of at least ``from_gpx`` gigapixels get ``size`` (until the next step)."""

    from_gpx: float
    size: ContainerSize

    def __str__(self) -> str:
        return f"{self.from_gpx:g}:{self.size.vcpu_value}/{self.size.memory_mib}"


@dataclass(frozen=True)
class SizingTable:
    """Steps from 0 Gpx up, their thresholds rising; every size a Fargate size."""

    steps: tuple[SizingStep, ...]

    def size_for(self, gigapixels: float) -> ContainerSize:
        """The size of the last step ``gigapixels`` reaches."""
        chosen = self.steps[0].size
        for step in self.steps[1:]:
            if gigapixels < step.from_gpx:
                break
            chosen = step.size
        return chosen

    @property
    def largest_vcpus(self) -> float:
        """The most vCPUs one container may get: the compute environment must allow that many."""
        return max(step.size.vcpus for step in self.steps)

    def __str__(self) -> str:
        return ",".join(str(step) for step in self.steps)


@dataclass(frozen=True)
class SourceFacts:
    """What is known of a source (or of one part of it) before it is encoded: its probe facts."""

    duration_s: float | None
    width: int | None
    height: int | None
    fps: float | None = None

    @property
    def gigapixels(self) -> float | None:
        """Duration × width × height × frame rate ÷ 10⁹; None while any of the first three is unknown."""
        known = (self.duration_s, self.width, self.height)
        if any(value is None or not math.isfinite(value) or value <= 0 for value in known):
            return None
        fps = self.fps if self.fps is not None and math.isfinite(self.fps) and self.fps > 0 else NOMINAL_FPS
        return self.duration_s * self.width * self.height * fps / GIGA  # type: ignore[operator]


def choose_size(table: SizingTable | None, facts: SourceFacts) -> ContainerSize | None:
    """The container size for this source; None for the job definition's own (no table, or
    a source not probed yet)."""
    work = facts.gigapixels
    if table is None or work is None:
        return None
    return table.size_for(work)


def chunk_size(table: SizingTable | None, source: SourceFacts,
               parts: Iterable[tuple[float, float | None]]) -> ContainerSize | None:
    """The size of the container(s) that encode these chunks of a source, each chunk given as
    (start_s, duration_s), duration None for the last one (it runs to the source's end).

    The table is applied to the longest part, with the source's pixels and frame rate: the
    children of one array job share one containerOverrides, so they all get the size of the
    longest chunk; a chunk sent alone is a part of one. None as :func:`choose_size` gives it
    (no table, a source not probed), or when no part's length is known.
    """
    lengths = [duration if duration is not None else _rest_s(source.duration_s, start) for start, duration in parts]
    known = [length for length in lengths if length is not None and length > 0]
    if not known:
        return None
    return choose_size(table, SourceFacts(max(known), source.width, source.height, source.fps))


def _rest_s(duration_s: float | None, start_s: float) -> float | None:
    """What is left of a source of ``duration_s`` from ``start_s``."""
    return None if duration_s is None else duration_s - start_s


def parse_sizing(text: str) -> SizingTable | None:
    """``VIDEOCTL_SIZING``: ``GPX:VCPU/MEMORY_MIB`` steps, comma-separated, or ``off`` (None).

    InvalidInput for an entry that is not of that form, a pair Fargate does not offer, a
    table that does not start at 0 Gpx, or thresholds that do not rise.
    """
    value = text.strip()
    if value.lower() == SIZING_OFF:
        return None
    steps = [_step(entry.strip()) for entry in value.split(",")]
    if steps[0].from_gpx != 0:
        raise InvalidInput(f"the first step starts at {steps[0].from_gpx:g} Gpx; it must start at 0, "
                           "so that every source has a size")
    for before, after in pairwise(steps):
        if after.from_gpx <= before.from_gpx:
            raise InvalidInput(f"the thresholds must rise: {after} comes after {before}")
    return SizingTable(tuple(steps))


def _step(entry: str) -> SizingStep:
    threshold, colon, pair = entry.partition(":")
    vcpus, slash, memory = pair.partition("/")
    if not (colon and slash and threshold.strip() and vcpus.strip() and memory.strip()):
        raise InvalidInput(f"{entry!r} is not GPX:VCPU/MEMORY_MIB")
    try:
        from_gpx, cpu, mib = (Decimal(part.strip()) for part in (threshold, vcpus, memory))
    except InvalidOperation:
        raise InvalidInput(f"{entry!r} is not GPX:VCPU/MEMORY_MIB with three numbers") from None
    if not from_gpx.is_finite() or from_gpx < 0:
        raise InvalidInput(f"{entry!r}: the threshold must be a number of Gpx from 0 up")
    problem = fargate_problem(cpu, mib)
    if problem is not None:
        raise InvalidInput(f"{entry!r}: {problem}")
    return SizingStep(float(from_gpx), ContainerSize(float(cpu), int(mib)))
