"""`videoctl stats`: what an operator checks first."""

from __future__ import annotations

from typing import Any

from videoctl.db.repositories import StatsRepository


def collect_stats(stats: StatsRepository, *, hours: int = 24) -> dict[str, Any]:
    return stats.collect(hours)
