"""`videoctl stats`: what an operator checks first."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from videoctl.db.repositories import StatsRepository


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


class Stats(TypedDict):
    by_state: dict[str, int]
    oldest_active: OldestActive | None
    failure_reasons: list[FailureReason]
    hourly: list[HourCounts]
    mean_encode_s: float | None
    encodes: int
    hours: int


def collect_stats(stats: StatsRepository, *, hours: int = 24) -> Stats:
    return stats.collect(hours)
