"""Which jobs an operator means: filters for bulk retry and cancel, and durations like 2h. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from videoctl.domain.errors import UsageError
from videoctl.domain.ranges import MAX_DURATION_S, MAX_DURATION_TEXT, check_duration_s
from videoctl.domain.states import JobState

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: Above this many jobs a bulk action asks first (or needs --yes).
CONFIRM_ABOVE = 10


def parse_duration(text: str, option: str = "DURATION") -> float:
    """'90s', '15m', '2h', '7d', '2w' → seconds; a usage error naming *option* (``--since``)
    for anything else, and for more than 100 years (see videoctl.domain.ranges)."""
    match = _DURATION.match(text.strip().lower())
    if not match or float(match[1]) <= 0:
        raise UsageError(f"{option} {text!r} is not a duration", hint="use a number and a unit: 90s, 15m, 2h, 7d or 2w")
    seconds = float(match[1]) * _UNIT_S[match[2]]
    if seconds > MAX_DURATION_S:
        raise UsageError(f"{option} {text!r} is longer than {MAX_DURATION_TEXT}, the longest duration videoctl takes",
                         hint=f"give {option} at most 36500d")
    return seconds


@dataclass(frozen=True)
class JobFilter:
    """Jobs in any of *states*, failed with any of *error_codes*, changed in the last
    *since_s* seconds, of any of *video_ids*; an empty filter field matches everything."""

    states: tuple[JobState, ...] = ()
    error_codes: tuple[str, ...] = ()
    since_s: float | None = None
    video_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.since_s is not None:
            check_duration_s(self.since_s, "since_s")

    def params(self) -> dict[str, object]:
        """The bound parameters of the select_jobs query (NULL where a field is empty)."""
        return {"states": [str(s) for s in self.states] or None, "error_codes": list(self.error_codes) or None,
                "since_s": self.since_s, "video_ids": list(self.video_ids) or None}

    def within(self, allowed: frozenset[JobState], action: str) -> JobFilter:
        """This filter for an action that applies only to *allowed* states (all of them if none given)."""
        wrong = [s for s in self.states if s not in allowed]
        if wrong:
            raise UsageError(f"cannot {action} {', '.join(wrong)} jobs",
                             hint=f"{action} applies to: {', '.join(sorted(allowed))}")
        return JobFilter(self.states or tuple(sorted(allowed)), self.error_codes, self.since_s, self.video_ids)
