"""`videoctl stats`: what an operator checks first."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from videoctl.domain.cost import Prices
from videoctl.domain.errors import InvalidInput
from videoctl.domain.ranges import MAX_STATS_HOURS
from videoctl.domain.repositories import StatsRepository, UsageRepository
from videoctl.services.cost import DayCost, cost_by_day


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


class Stats(TypedDict):
    by_state: dict[str, int]
    oldest_active: OldestActive | None
    failure_reasons: list[FailureReason]
    hourly: list[HourCounts]
    mean_encode_s: float | None
    encodes: int
    hours: int
    cost: CostSummary


def collect_stats(stats: StatsRepository, usage: UsageRepository, prices: Prices, *, hours: int = 24) -> Stats:
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
    return {**stats.collect(hours), "cost": summary}  # type: ignore[typeddict-item]
