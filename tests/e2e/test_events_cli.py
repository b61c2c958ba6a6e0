"""`videoctl events list|drain|discard` and the events' settings, end to end through the CLI.

With no target, events are recorded, listed, and kept pending (`events drain` says why, exit
6); with a webhook target (a real receiver on 127.0.0.1) `events drain` and every scan-stuck
pass deliver them; a refusal is `delivery_error` (exit 14) naming the event; a bad setting
stops every command with `config_error` naming the variable, and the secret is never shown.
"""

from __future__ import annotations

import time

import pytest

from tests.cli import run_cli
from tests.events_receiver import Receiver
from tests.integration.test_events import pending_events
from videoctl.domain.errors import EXIT_CODES

SECRET = "whsec-cli-tests-0123456789abcdef"


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


def use_webhook(monkeypatch, receiver: Receiver) -> None:
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url)
    monkeypatch.setenv("VIDEOCTL_EVENTS_WEBHOOK_SECRET", SECRET)


def test_without_a_target_events_are_listed_and_kept(capsys, env, conn, monkeypatch):
    from videoctl.commands import _render

    monkeypatch.setattr(_render.stdout, "_width", 250)  # rows on one line each, for the assertions
    jobs = pending_events(conn, 2)
    listed = run_cli(capsys, "--json", "events", "list")
    assert listed.exit_code == 0, listed.stdout
    page = listed.json()["data"]
    assert (page["total"], page["pending"]) == (2, 2)
    assert [(e["type"], e["job_id"]) for e in page["events"]] == [("job.cancelled", j.id) for j in reversed(jobs)]

    drain = run_cli(capsys, "--json", "events", "drain")
    assert drain.exit_code == EXIT_CODES["config_error"] == 6
    error = drain.json()["error"]
    assert "2 event(s) stay pending" in error["message"] and "VIDEOCTL_EVENTS_TARGET" in error["hint"]
    assert run_cli(capsys, "--json", "events", "list", "--pending").json()["data"]["total"] == 2

    human = run_cli(capsys, "events", "list", "--video", str(jobs[0].video_id))
    assert human.exit_code == 0 and "job.cancelled" in human.stdout and "pending" in human.stdout
    assert "1 event(s), 2 pending in all" in human.stdout


def test_drain_delivers_and_the_list_says_where(capsys, env, conn, receiver, monkeypatch):
    from videoctl.commands import _render

    monkeypatch.setattr(_render.stdout, "_width", 250)
    pending_events(conn, 2)
    use_webhook(monkeypatch, receiver)
    drain = run_cli(capsys, "--json", "events", "drain")
    assert drain.exit_code == 0, drain.stdout
    assert drain.json()["data"] == {"target": receiver.url, "sent": 2, "failed": 0, "pending": 0,
                                    "stopped_early": False, "failures": []}
    assert len(receiver.processed) == 2
    page = run_cli(capsys, "--json", "events", "list").json()["data"]
    assert page["pending"] == 0 and {e["delivered_to"] for e in page["events"]} == {receiver.url}
    human = run_cli(capsys, "events", "drain")
    assert human.exit_code == 0 and f"0 event(s) delivered to {receiver.url}; 0 pending" in human.stdout


def test_a_refused_event_fails_the_drain_naming_it_and_stays(capsys, env, conn, receiver, monkeypatch):
    pending_events(conn, 1)
    use_webhook(monkeypatch, receiver)
    receiver.script = [410]
    drain = run_cli(capsys, "--json", "events", "drain")
    assert drain.exit_code == EXIT_CODES["delivery_error"] == 14
    error = drain.json()["error"]
    assert "HTTP 410" in error["message"] and "1 stay pending" in error["message"]
    assert "events discard" in error["hint"]
    [event] = run_cli(capsys, "--json", "events", "list").json()["data"]["events"]
    assert event["attempts"] == 1 and "HTTP 410" in event["last_error"] and event["delivered_at"] is None

    discard = run_cli(capsys, "--json", "events", "discard", str(event["id"]), "--reason", "app gone")
    assert discard.exit_code == 0 and discard.json()["data"]["discard_reason"] == "app gone"
    again = run_cli(capsys, "--json", "events", "discard", event["event_id"])
    assert again.exit_code == EXIT_CODES["invalid_state"] and "already discarded" in again.json()["error"]["message"]
    assert run_cli(capsys, "--json", "events", "drain").json()["data"]["sent"] == 0  # never sent now


@pytest.mark.parametrize(("ref", "code"), [("99999999999999999999", "usage_error"), ("0", "usage_error"),
                                           ("12345", "not_found"), ("7e2b1c9a-0000-4000-8000-000000000000", "not_found"),
                                           ("latest", "not_found")])
def test_discard_of_an_id_no_event_has(capsys, env, ref, code):
    result = run_cli(capsys, "--json", "events", "discard", ref)
    assert result.exit_code == EXIT_CODES[code], result.stdout
    assert result.json()["error"]["code"] == code


def test_every_scan_pass_delivers_what_is_pending_and_counts_it(capsys, env, conn, receiver, monkeypatch):
    pending_events(conn, 3)
    before = run_cli(capsys, "--json", "scan-stuck").json()["data"]
    assert (before["summary"]["events_sent"], before["summary"]["events_pending"]) == (0, 3)
    use_webhook(monkeypatch, receiver)
    receiver.script = [503] * 3  # down: the pass reports it, and the events wait
    down = run_cli(capsys, "--json", "scan-stuck")
    assert down.exit_code == EXIT_CODES["job_failed"]
    report = down.json()["data"]
    assert report["summary"]["events_pending"] == 3 and "HTTP 503" in report["event_errors"][0]
    up = run_cli(capsys, "--json", "scan-stuck").json()["data"]
    assert (up["summary"]["events_sent"], up["summary"]["events_pending"], up["event_errors"]) == (3, 0, [])
    assert len(receiver.processed) == 3 and receiver.duplicates == 0


@pytest.mark.parametrize(("env_values", "variable"), [
    ({"VIDEOCTL_EVENTS_TARGET": "sqs:events"}, "VIDEOCTL_EVENTS_TARGET"),
    ({"VIDEOCTL_EVENTS_TARGET": "http://app.example.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": SECRET},
     "VIDEOCTL_EVENTS_TARGET"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook"}, "VIDEOCTL_EVENTS_WEBHOOK_SECRET"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.exa mple.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": SECRET},
     "VIDEOCTL_EVENTS_TARGET"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": "tiny-secret"},
     "VIDEOCTL_EVENTS_WEBHOOK_SECRET"),
])
def test_a_bad_event_setting_stops_every_command_naming_it(capsys, env, monkeypatch, env_values, variable):
    for name, value in env_values.items():
        monkeypatch.setenv(name, value)
    for args in (("events", "list"), ("jobs", "list")):
        result = run_cli(capsys, "--json", *args)
        assert result.exit_code == EXIT_CODES["config_error"], result.stdout
        assert variable in result.json()["error"]["message"]
        assert "tiny-secret" not in result.stdout + result.stderr


def test_config_show_masks_the_webhook_secret(capsys, env, monkeypatch, receiver):
    use_webhook(monkeypatch, receiver)
    shown = run_cli(capsys, "--json", "config", "show")
    assert shown.exit_code == 0 and SECRET not in shown.stdout
    rows = {row["env"]: row for row in shown.json()["data"]}
    assert rows["VIDEOCTL_EVENTS_TARGET"]["value"] == receiver.url
    assert rows["VIDEOCTL_EVENTS_WEBHOOK_SECRET"]["secret"] is True


def test_config_show_masks_the_query_string_of_the_webhook(capsys, env, monkeypatch, receiver):
    use_webhook(monkeypatch, receiver)
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url + "?token=query-token-of-the-app")
    for args in (("--json", "config", "show"), ("config", "show")):
        shown = run_cli(capsys, *args)
        assert shown.exit_code == 0 and "query-token-of-the-app" not in shown.stdout + shown.stderr
    rows = {row["env"]: row for row in run_cli(capsys, "--json", "config", "show").json()["data"]}
    assert rows["VIDEOCTL_EVENTS_TARGET"]["value"] == receiver.url + "?****"


def test_a_receiver_that_drips_holds_neither_events_drain_nor_scan_stuck(capsys, env, conn, receiver, monkeypatch):
    """The receiver answers one byte a second (its 204 would take ~45 s): each read gets
    something, so only a total deadline ends the delivery. The bound is the test's own clock."""
    use_webhook(monkeypatch, receiver)
    monkeypatch.setenv("VIDEOCTL_DELIVERY_TIMEOUT_SECONDS", "2")
    receiver.drip_every_s = 1.0
    pending_events(conn, 2)
    margin_s = 5  # process start, the database, the first try's connect: far below the ~45 s drip

    started = time.monotonic()
    drained = run_cli(capsys, "--json", "events", "drain")
    assert time.monotonic() - started < 2 + margin_s
    assert drained.exit_code == EXIT_CODES["delivery_error"], drained.stdout
    assert "timed out" in drained.json()["error"]["message"]

    started = time.monotonic()
    scanned = run_cli(capsys, "--json", "scan-stuck")
    assert time.monotonic() - started < 2 + margin_s
    report = scanned.json()["data"]
    assert report["summary"]["events_pending"] == 2 and "timed out" in report["event_errors"][0]
    assert len(receiver.arrivals) == 2  # one try each time: the deadline leaves no time for another
