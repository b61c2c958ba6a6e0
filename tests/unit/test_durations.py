"""Durations and windows are refused before any query when PostgreSQL or Python could not hold them."""

from __future__ import annotations

import math

import pytest

from videoctl.domain import ranges
from videoctl.domain.errors import InvalidInput, UsageError
from videoctl.domain.selection import JobFilter, parse_duration


def test_up_to_a_hundred_years_is_a_duration():
    assert parse_duration("36500d", "--older-than") == ranges.MAX_DURATION_S == 36_500 * 86_400
    assert parse_duration("5214w", "--since") == 5214 * 7 * 86_400


@pytest.mark.parametrize("text", ["36501d", "99999999d", "99999999w", "876001h", "9" * 400 + "s"])
def test_longer_is_a_usage_error_naming_the_option(text):
    with pytest.raises(UsageError, match=f"--older-than '{text}' is longer than 36500d") as refused:
        parse_duration(text, "--older-than")
    assert "--older-than" in refused.value.hint


def test_not_a_duration_names_the_option_too():
    with pytest.raises(UsageError, match="--since '1e400d' is not a duration"):
        parse_duration("1e400d", "--since")


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf, ranges.MAX_DURATION_S + 1, 1e300, "90", True])
def test_the_library_refuses_what_no_interval_or_timedelta_holds(seconds):
    assert ranges.duration_problem(seconds) is not None
    with pytest.raises(InvalidInput, match="^older_than_s: "):
        ranges.check_duration_s(seconds, "older_than_s")


def test_a_job_filter_refuses_a_since_out_of_range():
    assert JobFilter(since_s=ranges.MAX_DURATION_S).since_s == ranges.MAX_DURATION_S
    for since_s in (1e15, math.inf, math.nan, -1.0):
        with pytest.raises(InvalidInput, match="since_s"):
            JobFilter(since_s=since_s)
