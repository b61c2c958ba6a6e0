"""`videoctl stats`: what an operator checks first."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from videoctl.domain.cost import Prices
from videoctl.domain.errors import InvalidInput
from videoctl.domain.quality import BANDS, Distribution
from videoctl.domain.ranges import MAX_STATS_HOURS
from videoctl.domain.repositories import QualityRepository, StatsRepository, UsageRepository
from videoctl.services.cost import DayCost, cost_by_day
from videoctl.services.quality import top_rung_distribution


class OldestActive(TypedDict):
    id: int
    state: str
    created_at: datetime
    age_s: float


class FailureReason(TypedDict):
    error_code: str
    jobs: int
    #: One of the messages (the greatest), to recognise the failure by.
    example: str | None


class HourCounts(TypedDict):
    hour: datetime
    completed: int
    failed: int


class CostSummary(TypedDict):
    """Usage and cost per day in the window, and what MediaConvert would have charged."""

    days: list[DayCost]
    cost_usd: float
    mediaconvert_usd: float
    source_minutes: float
    cost_per_source_minute_usd: float | None


class QualityStats(TypedDict):
    """The top rung's mean VMAF over the ladders measured in the window (`videoctl quality`, run-job)."""

    ladders: int
    min: float | None
    p5: float | None
    p50: float | None
    p95: float | None
    max: float | None
    #: Ladders per 10-point VMAF band: 0–10, 10–20, … 90–100.
    histogram: list[int]


class Stats(TypedDict):
    by_state: dict[str, int]
    oldest_active: OldestActive | None
    failure_reasons: list[FailureReason]
    hourly: list[HourCounts]
    mean_encode_s: float | None
    encodes: int
    hours: int
    cost: CostSummary
    quality: QualityStats


def collect_stats(stats: StatsRepository, usage: UsageRepository, quality: QualityRepository, prices: Prices, *,
                  hours: int = 24) -> Stats:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_STATS_HOURS:
        raise InvalidInput(f"hours: the window is a whole number of hours from 1 to {MAX_STATS_HOURS} (30 days), "
                           f"not {hours!r}")
    days = cost_by_day(usage, hours=hours, prices=prices)
    spent = round(sum(d["cost_usd"] for d in days), 6)
    minutes = round(sum(d["source_minutes"] for d in days), 3)
    summary: CostSummary = {
        "days": days, "cost_usd": spent, "mediaconvert_usd": round(sum(d["mediaconvert_usd"] for d in days), 6),
        "source_minutes": minutes,
        "cost_per_source_minute_usd": round(spent / minutes, 6) if minutes else None}
    return {**stats.collect(hours), "cost": summary,  # type: ignore[typeddict-item]
            "quality": _quality_stats(top_rung_distribution(quality, hours=hours))}


def _quality_stats(spread: Distribution | None) -> QualityStats:
    if spread is None:
        return {"ladders": 0, "min": None, "p5": None, "p50": None, "p95": None, "max": None,
                "histogram": [0] * BANDS}
    return {"ladders": spread.ladders, "min": spread.min, "p5": spread.p5, "p50": spread.p50, "p95": spread.p95,
            "max": spread.max, "histogram": spread.histogram}
