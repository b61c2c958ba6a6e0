"""scan-stuck's maintenance tasks each run on their own: one that raises spares the others.

The database, the store and the webhook receiver are real; only the executor is replaced, by
one that raises on every call (a bug, an AWS outage): the jobs task fails with that error,
and the uploads, usage, deletions and events tasks still do their work in the same pass.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from tests.events_receiver import Receiver
from tests.integration.test_events import pending_events
from videoctl.api import Client
from videoctl.domain.errors import ExecutorError
from videoctl.services.maintenance import MaintenanceTask, run_tasks
from videoctl.services.scan import ScanReport, next_pass_in, scan_loop

SECRET = "whsec-maintenance-tests-0123456789"


class RaisingExecutor:
    """An executor whose every call fails."""

    kind = "local"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            self.calls += 1
            raise self.error

        return fail


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


@pytest.mark.parametrize("error", [RuntimeError("describe exploded"),
                                   ExecutorError("DescribeJobs failed: endpoint down", transient=True)])
def test_an_executor_that_raises_fails_the_jobs_task_only(ctx, conn, monkeypatch, receiver, error):
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url)
    monkeypatch.setenv("VIDEOCTL_EVENTS_WEBHOOK_SECRET", SECRET)
    pending_events(conn, 2)
    request = ctx.delete_requests.add("videos/1/hls/1-1/", "abandoned attempt", None)
    executor = RaisingExecutor(error)
    ctx.__dict__["executor"] = executor

    report = Client(context=ctx).scan()

    outcomes = {t.name: t for t in report.tasks}
    assert [t.name for t in report.tasks] == ["jobs", "uploads", "usage", "deletions", "events"]
    assert outcomes["jobs"].status == "failed" and executor.calls >= 1
    assert str(error).split(":")[0] in outcomes["jobs"].error.message
    assert all(outcomes[name].status == "done" for name in ("uploads", "usage", "deletions", "events"))
    # The tasks after the failed one did their work in the same pass.
    assert (report.events_sent, report.events_pending) == (2, 0) and len(receiver.processed) == 2
    assert report.deletions_sent == 1 and ctx.delete_requests.get(request.id).sent_at is not None
    summary = report.summary()
    assert summary["tasks_failed"] == 1 and summary["errors"] == 1
    document = report.to_dict()["tasks"]
    assert document[0]["name"] == "jobs" and document[0]["status"] == "failed"
    assert document[0]["error"]["code"] == ("executor_error" if isinstance(error, ExecutorError) else "internal_error")


def test_a_task_past_its_timeout_has_its_statement_cancelled(ctx, conn):
    """A task stuck on the server (here: pg_sleep standing for a lock wait) is stopped at its
    timeout, and the next task runs on the same connection."""
    ctx.jobs.now()  # the connection exists
    stuck = MaintenanceTask("stuck", lambda r: ctx.conn.execute("SELECT pg_sleep(60)"), timeout_s=0.5)
    after = MaintenanceTask("after", lambda r: ctx.jobs.now(), timeout_s=5)

    outcomes = run_tasks([stuck, after], ScanReport(), prepare=ctx.db_ready, cancel=ctx.cancel_statement)

    assert [(o.name, o.status) for o in outcomes] == [("stuck", "failed"), ("after", "done")]
    assert "timeout was reached" in outcomes[0].error.message
    assert outcomes[0].seconds < 60  # ended by the cancel, not by the sleep


def test_after_a_failed_pass_the_next_comes_sooner_backing_off_up_to_the_interval():
    waits = [next_pass_in(60, failed, rand=lambda: 1.0) for failed in range(9)]
    assert waits[0] == 60  # all was well: the interval
    assert waits[1:] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert 0.5 <= next_pass_in(60, 1, rand=lambda: 0.0) <= 1  # jittered


def test_a_pass_that_raises_is_reported_and_the_loop_goes_on_until_sigterm():
    passes: list[ScanReport] = []

    def one_pass() -> ScanReport:
        if len(passes) < 2:
            raise RuntimeError("could not even start")
        return ScanReport()

    def on_pass(number: int, report: ScanReport) -> None:
        passes.append(report)
        if number == 3:  # SIGTERM arrives during a pass: that pass is the last
            threading.Timer(0, os.kill, (os.getpid(), signal.SIGTERM)).start()

    summary = scan_loop(one_pass, 0.05, on_pass)

    assert summary.passes == 3 and summary.errors == 2
    assert [p.tasks_failed for p in passes] == [1, 1, 0]
    assert passes[0].tasks[0].name == "pass" and "could not even start" in passes[0].tasks[0].error.message


def test_a_configuration_mistake_met_by_a_task_stops_the_pass_as_at_start(ctx, monkeypatch):
    """Not an outage: no pass can go better until a human fixes it, so it is the command's error."""
    from videoctl.domain.errors import ConfigError

    def unbuildable():
        raise ConfigError("cannot build the batch client: Invalid endpoint")

    monkeypatch.setattr(type(ctx), "executor", property(lambda self: unbuildable()))
    with pytest.raises(ConfigError, match="Invalid endpoint"):
        Client(context=ctx).scan()
