"""How long a job has left, and where a waiting job stands in line. Pure.

A running job's ETA comes from its own progress rate once it has made some (the encode
phase dominates, and progress is reported by ffmpeg's clock against the probed
duration); before that, from the probed duration times how fast recent encodes went.
"""

from __future__ import annotations

from datetime import datetime

#: Below this much progress the rate says more about start-up (download, probe) than the encode.
MIN_PROGRESS = 5


def eta_s(progress: int, started_at: datetime | None, now: datetime, *, duration_s: float | None,
          seconds_per_source_second: float | None) -> float | None:
    """Seconds left for a RUNNING job, or None when nothing says."""
    if started_at is None:
        return None
    elapsed = max((now - started_at).total_seconds(), 0.0)
    if progress >= 100:
        return 0.0
    if progress >= MIN_PROGRESS:
        return elapsed * (100 - progress) / progress
    if duration_s and seconds_per_source_second:
        return max(duration_s * seconds_per_source_second - elapsed, 0.0)
    return None
