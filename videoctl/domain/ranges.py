"""The ranges ids and durations keep to. Pure.

A value outside them is refused as input (`invalid_input` from the library, a usage
error naming the option on the command line) before any query is built: otherwise
PostgreSQL (a bigint, an interval, a timestamp) or Python (timedelta, datetime,
a sleep) would be the one to refuse it, as a `db_error` or an internal error.
"""

from __future__ import annotations

import math

from videoctl.domain.errors import InvalidInput

#: Every id is a PostgreSQL bigint (videos, jobs, delete requests, events): 1 … 2⁶³−1.
MAX_ID = 2**63 - 1

DAY_S = 86_400
#: The longest duration videoctl takes, as a look-back (`--older-than`, `--since`)
#: or a wait (`scan-stuck --loop`): 100 years, VIDEOCTL_RETENTION_DAYS's own maximum.
#: ``now - 100 years`` is a timestamp PostgreSQL and Python both hold with centuries to spare,
#: and 100 years of seconds is an interval and a sleep neither refuses.
MAX_DURATION_S = 36_500 * DAY_S
MAX_DURATION_TEXT = "36500d (100 years)"
#: The widest `stats` window: 30 days, the hourly counts having a row per hour.
MAX_STATS_HOURS = 30 * 24


def duration_problem(seconds: float) -> str | None:
    """Why *seconds* is not a duration videoctl takes, or None: a number from 0 up to
    :data:`MAX_DURATION_S` (so not NaN or infinite either)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
        return f"{seconds!r} is not a number of seconds"
    if seconds < 0:
        return f"{seconds!r} s is negative"
    if seconds > MAX_DURATION_S:
        return f"{seconds!r} s is longer than {MAX_DURATION_TEXT}, the longest duration videoctl takes"
    return None


def check_duration_s(seconds: float, what: str) -> float:
    """*seconds* if it is a duration videoctl takes, else InvalidInput naming *what*."""
    problem = duration_problem(seconds)
    if problem is not None:
        raise InvalidInput(f"{what}: {problem}")
    return seconds
