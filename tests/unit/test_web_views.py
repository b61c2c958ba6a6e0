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


def test_every_value_a_page_prints_has_its_control_characters_written_out():
    from videoctl.web.app import templates

    page = templates().get_template("error.html").render(
        nav=None, status_code=500, title="Error", styled=True, login="/login", login_next=None,
        reason="job \x1b[2J\x07 failed <b>",
        hint="a title with \u202eevil and a CR\r")
    assert "\x1b" not in page and "\x07" not in page and "\u202e" not in page and "\r" not in page
    assert r"job \x1b[2J\x07 failed &lt;b&gt;" in page and r"with \u202eevil and a CR\x0d" in page
