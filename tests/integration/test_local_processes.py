"""The local executor's processes: ids that survive pid reuse, and cancel stops a whole job group.

Real processes only: a recorded id whose start time is not the live process's is a
stranger that got the pid, and must be neither reported running nor signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from videoctl.domain.executor import Remote
from videoctl.domain.states import JobState
from videoctl.executor.local import LocalExecutor, LocalId, group_alive, own_id, parse_id, pid_alive, start_ticks
from videoctl.services.scan import scan_pass

#: A process group like run-job's: a leader in its own session and a child that shrugs off SIGTERM.
STUBBORN_GROUP = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE, text=True)
print(child.pid, flush=True)
child.stdout.readline()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_ids_carry_the_start_time_and_old_ids_still_parse(sleeper):
    ticks = start_ticks(sleeper.pid)
    assert ticks is not None and ticks > 0
    assert parse_id(f"local:{sleeper.pid}:{ticks}") == LocalId(sleeper.pid, ticks)
    assert parse_id(f"local:{sleeper.pid}") == LocalId(sleeper.pid, None)
    assert str(LocalId(sleeper.pid, ticks)) == f"local:{sleeper.pid}:{ticks}"
    assert parse_id("local:12:x") is None and parse_id("batch-1") is None


def test_submit_records_the_child_start_time(tmp_path):
    executor_id = LocalExecutor(tmp_path).submit("video-1-job-999-a1", job_id=999, video_id=1, attempt=1)
    local = parse_id(executor_id)
    # Not reaped yet (nobody waited for it), so /proc still has the child, alive or not.
    assert local.start is not None and local.start == start_ticks(local.pid)
    deadline = time.monotonic() + 30
    while pid_alive(local.pid):  # job 999 does not exist: run-job says so and exits
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_run_job_names_itself_as_the_executor_recorded_it():
    child = subprocess.Popen(
        [sys.executable, "-c", "from videoctl.services.run_job import Runner; "
                               "print(Runner.from_environment({}).batch_job_id, flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        recorded = f"local:{child.pid}:{start_ticks(child.pid)}"  # what submit records for it
        assert child.stdout.readline().strip() == recorded  # what its claim compares with
    finally:
        child.communicate("\n", timeout=10)
    assert own_id() == f"local:{os.getpid()}:{start_ticks(os.getpid())}"


def test_a_pid_with_another_start_time_is_missing_and_never_signalled(tmp_path, sleeper):
    executor = LocalExecutor(tmp_path)
    ticks = start_ticks(sleeper.pid)
    mine, stranger = f"local:{sleeper.pid}:{ticks}", f"local:{sleeper.pid}:{ticks + 1}"
    assert executor.describe([mine, stranger, f"local:{sleeper.pid}"]) == {
        mine: Remote("RUNNING"),
        stranger: Remote("MISSING", "the local process is gone"),
        f"local:{sleeper.pid}": Remote("RUNNING"),  # the old format: pid only, as before
    }
    executor.cancel(stranger, "cancelled by operator")
    time.sleep(0.2)
    assert sleeper.poll() is None  # the stranger lives on


def test_cancel_terminates_the_whole_group_and_kills_what_ignores_sigterm(tmp_path):
    leader = subprocess.Popen([sys.executable, "-c", STUBBORN_GROUP], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        child_pid = int(leader.stdout.readline())
        assert leader.stdout.readline().strip() == "ready"
        executor = LocalExecutor(tmp_path, grace_s=0.5)
        started = time.monotonic()
        executor.cancel(f"local:{leader.pid}:{start_ticks(leader.pid)}", "cancelled by operator")
        assert leader.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - started >= 0.5  # SIGTERM first; SIGKILL only after the grace period
        assert not pid_alive(child_pid) and not group_alive(leader.pid)
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
            leader.wait()


def test_cancel_returns_as_soon_as_the_group_has_stopped(tmp_path, sleeper):
    executor = LocalExecutor(tmp_path, grace_s=30)
    started = time.monotonic()
    executor.cancel(f"local:{sleeper.pid}:{start_ticks(sleeper.pid)}", "cancelled by operator")
    assert sleeper.wait(timeout=5) == -signal.SIGTERM
    assert time.monotonic() - started < 10  # did not sit out the 30 s grace period


def test_scan_stuck_fails_a_running_job_whose_pid_now_belongs_to_a_stranger(ctx, env, tmp_path, sleeper):
    """The heartbeat is fresh, the pid is alive, and still the job's process is gone: the pid says so."""
    video = ctx.videos.add(ctx.videos.next_id(), title="clip", source_key="videos/1/source/a.mp4", size_bytes=10)
    recorded = f"local:{sleeper.pid}:{start_ticks(sleeper.pid) - 1}"  # our run-job started a tick earlier
    job = ctx.jobs.mark_submitted(ctx.jobs.create(video.id, max_attempts=3, begin=True), recorded)
    ctx.jobs.claim(job, f"{recorded}@host", batch_job_id=recorded)  # heartbeat_at = now
    report = scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=LocalExecutor(tmp_path), settings=ctx.settings)
    assert [(i.rule, i.outcome) for i in report.items] == [("executor_failed", "done")]
    after = ctx.jobs.get(job.id)
    assert after.state is JobState.RETRY_WAIT and after.error_message == "the local process is gone"
    assert sleeper.poll() is None  # the stranger was not signalled
