"""How values read on the web page: durations as a player shows them, ETAs, sizes, ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videoctl.web.views import ago, clock, size, span, when


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (0, "0:00"), (6.02, "0:06"), (59.6, "1:00"),
                                              (754, "12:34"), (3723, "1:02:03")])
def test_clock(seconds, text):
    assert clock(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (-3, "0 s"), (44.6, "45 s"), (60, "1 min"),
                                              (200, "3 min 20 s"), (7200, "2 h"), (7500, "2 h 5 min")])
def test_span(seconds, text):
    assert span(seconds) == text


@pytest.mark.parametrize(("count", "text"), [(None, "–"), (512, "512 B"), (2_100_000, "2.1 MB"),
                                            (3_400_000_000, "3.4 GB"), (5 * 10**16, "50000.0 TB")])
def test_size(count, text):
    assert size(count) == text


def test_ago_and_when_in_utc():
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert ago(now - timedelta(seconds=95), now) == "1 min 35 s ago"
    assert ago(None) == "–"
    assert when(now.astimezone(UTC)) == "2026-11-29 12:00:00 UTC"
