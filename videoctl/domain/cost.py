"""What an encode costs, and what MediaConvert would charge for the same outputs. Pure.

Fargate bills a task's vCPUs and memory by the second for as long as it runs; Batch's
``startedAt`` → ``stoppedAt`` is that span (the runner's own wall time stands in until the
executor has told it). A local process costs nothing here: its usage is still counted in
vCPU-hours, but no price applies.

MediaConvert bills per output minute of each rendition, HD (720 lines and up) at a
higher rate than SD: the ladder's rungs are the renditions it would have made.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Capacities an attempt ran on; a Batch attempt's is the compute environment's type.
FARGATE, FARGATE_SPOT, LOCAL = "fargate", "fargate_spot", "local"

#: MediaConvert's HD tier starts at 720 lines.
HD_LINES = 720


@dataclass(frozen=True)
class Prices:
    """USD prices, from settings (their defaults are dated us-east-1 list prices)."""

    fargate_vcpu_hour: float
    fargate_gb_hour: float
    spot_vcpu_hour: float
    spot_gb_hour: float
    mediaconvert_sd_minute: float
    mediaconvert_hd_minute: float


@dataclass(frozen=True)
class Usage:
    """What one container of an attempt held, for how long: the attempt's own, or one try of
    one of its chunks (``chunk``, a chunked attempt's)."""

    capacity: str
    vcpus: float
    memory_mib: int
    runtime_s: float
    attempt: int = 1
    chunk: int | None = None

    @property
    def vcpu_hours(self) -> float:
        return self.vcpus * self.runtime_s / 3600

    @property
    def gb_hours(self) -> float:
        return self.memory_mib / 1024 * self.runtime_s / 3600


def usage_cost(usage: Usage, prices: Prices) -> float:
    """USD for one container's usage; 0 for a local process."""
    return hours_cost(usage.capacity, usage.vcpu_hours, usage.gb_hours, prices)


def hours_cost(capacity: str, vcpu_hours: float, gb_hours: float, prices: Prices) -> float:
    """USD for vCPU- and GB-hours on *capacity*; 0 for a local process."""
    if capacity == FARGATE:
        return vcpu_hours * prices.fargate_vcpu_hour + gb_hours * prices.fargate_gb_hour
    if capacity == FARGATE_SPOT:
        return vcpu_hours * prices.spot_vcpu_hour + gb_hours * prices.spot_gb_hour
    return 0.0


def renditions(rung_heights: list[int] | tuple[int, ...]) -> tuple[int, int]:
    """(HD, SD) renditions of a ladder, as MediaConvert counts them."""
    hd = sum(1 for height in rung_heights if height >= HD_LINES)
    return hd, len(rung_heights) - hd


def mediaconvert_cost(hd_minutes: float, sd_minutes: float, prices: Prices) -> float:
    """What MediaConvert would charge for these output minutes (each rendition's, summed)."""
    return hd_minutes * prices.mediaconvert_hd_minute + sd_minutes * prices.mediaconvert_sd_minute


def per_source_minute(cost: float, source_s: float) -> float | None:
    """Cost per minute of source encoded; None when nothing was."""
    return cost / (source_s / 60) if source_s > 0 else None
