"""How values read on a page: durations, ETAs, sizes, ages. Jinja2 filters; pure."""

from __future__ import annotations

from datetime import UTC, datetime

from videoctl.domain.text import clock_position


def clock(seconds: float | None) -> str:
    """A duration as a player shows it: ``0:06``, ``12:34``, ``1:02:03``."""
    return "–" if seconds is None else clock_position(seconds)


def span(seconds: float | None) -> str:
    """A time left or an age: ``45 s``, ``3 min 20 s``, ``2 h 5 min``."""
    if seconds is None:
        return "–"
    whole = max(int(round(seconds)), 0)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def size(count: int | None) -> str:
    if count is None:
        return "–"
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "–"
    return f"{span(((now or datetime.now(UTC)) - moment).total_seconds())} ago"


def when(moment: datetime | None) -> str:
    """A timestamp in UTC to the second, as the CLI prints them."""
    return "–" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS = {"clock": clock, "span": span, "size": size, "ago": ago, "when": when}
