"""scan-stuck's decisions, rule by rule, without a database."""

from datetime import UTC, datetime, timedelta

import pytest

from videoctl.domain.executor import Remote
from videoctl.domain.models import Job
from videoctl.domain.retry import RetryPolicy
from videoctl.domain.scan import Candidate, Thresholds, decide
from videoctl.domain.states import JobState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(stale_after_s=300, unknown_after_s=900, runnable_after_s=1800, queued_after_s=120)
POLICY = RetryPolicy(base_s=30, cap_s=3600, max_attempts=3)


def job(state: JobState, **fields) -> Job:
    base = dict(id=1, video_id=1, state=state, attempt=1, max_attempts=3, reencode=False, priority=None,
                executor_job_id="b-1", runner_id=None, heartbeat_at=NOW, progress=0, next_attempt_at=None,
                error_code=None, error_message=None, output_prefix=None, created_at=NOW, updated_at=NOW,
                submitted_at=NOW, started_at=None, finished_at=None)
    return Job(**{**base, **fields})


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def run(j: Job, remote: Remote | None = None):
    decision = decide(j, remote, NOW, LIMITS, POLICY, rand=lambda: 1.0)
    # scan-stuck reads Candidates whose state is the column's text: same rules, same answer.
    candidate = Candidate._make(str(j.state) if name == "state" else getattr(j, name) for name in Candidate._fields)
    assert type(candidate.state) is str
    assert decide(candidate, remote, NOW, LIMITS, POLICY, rand=lambda: 1.0) == decision
    return decision


def test_failed_transient_is_retried_with_backoff():
    d = run(job(JobState.FAILED, error_code="media_error", attempt=2))
    assert (d.action, d.delay_s) == ("retry", 60)


def test_failed_with_attempts_used_up_is_dead():
    d = run(job(JobState.FAILED, error_code="media_error", attempt=3))
    assert d.action == "dead" and "attempts used up" in d.reason


def test_jobs_own_max_attempts_wins():
    assert run(job(JobState.FAILED, error_code="media_error", attempt=3, max_attempts=5)).action == "retry"


def test_permanent_error_is_dead_at_once():
    d = run(job(JobState.FAILED, error_code="invalid_input", attempt=1))
    assert d.action == "dead" and d.reason == "permanent error"


def test_a_verify_failure_is_retried_once_then_dead():
    first = run(job(JobState.FAILED, error_code="verify_failed", failure_code="verify_failed", failure_repeats=1,
                    attempt=1, max_attempts=5))
    assert first.action == "retry"
    second = run(job(JobState.FAILED, error_code="verify_failed", failure_code="verify_failed", failure_repeats=2,
                     attempt=2, max_attempts=5))
    assert second.action == "dead" and second.reason == "permanent error: verify_failed on 2 attempts in a row"
    # Another failure in between starts the count again.
    after_other = run(job(JobState.FAILED, error_code="verify_failed", failure_code="verify_failed",
                          failure_repeats=1, attempt=3, max_attempts=5))
    assert after_other.action == "retry"


def test_retry_wait_due_and_not_due():
    assert run(job(JobState.RETRY_WAIT, next_attempt_at=ago(1))).action == "submit"
    assert run(job(JobState.RETRY_WAIT, next_attempt_at=NOW + timedelta(seconds=5))) is None


def test_stale_heartbeat_fails_the_attempt():
    d = run(job(JobState.RUNNING, heartbeat_at=ago(301)), Remote("RUNNING"))
    assert (d.rule, d.action, d.error_code) == ("stale_heartbeat", "fail_attempt", "stale")
    assert run(job(JobState.RUNNING, heartbeat_at=ago(10)), Remote("RUNNING")) is None


@pytest.mark.parametrize("state", [JobState.SUBMITTED, JobState.RUNNING])
def test_executor_failed_keeps_its_reason(state):
    d = run(job(state), Remote("FAILED", "Host EC2 (instance i-1) terminated."))
    assert d.action == "fail_attempt" and d.reason == "Host EC2 (instance i-1) terminated."


def test_local_process_gone():
    d = run(job(JobState.RUNNING), Remote("MISSING", "the local process is gone"))
    assert d.action == "fail_attempt" and d.error_code == "executor_failed"


def test_unknown_batch_job_is_not_failed_until_the_threshold():
    assert run(job(JobState.SUBMITTED, submitted_at=ago(60))).action == "report"
    d = run(job(JobState.SUBMITTED, submitted_at=ago(901)))
    assert (d.rule, d.action) == ("lost", "fail_attempt")


def test_runnable_too_long_is_reported_not_failed():
    d = run(job(JobState.SUBMITTED, submitted_at=ago(1801)), Remote("RUNNABLE"))
    assert (d.rule, d.action) == ("waiting_for_capacity", "report")
    assert run(job(JobState.SUBMITTED, submitted_at=ago(60)), Remote("RUNNABLE")) is None


@pytest.mark.parametrize("state", [JobState.SUBMITTED, JobState.RUNNING])
def test_a_container_that_ended_without_completing_is_a_failed_attempt(state):
    # At once: the executor was asked before the row was read, so nothing is still on its way.
    d = run(job(state), Remote("SUCCEEDED", stopped_at=ago(1), exit_code=0))
    assert (d.rule, d.action, d.error_code) == ("exited_early", "fail_attempt", "exited_early")
    assert d.reason == "the container ended (SUCCEEDED, exit 0) without completing the job"
    failed = run(job(state), Remote("FAILED", "Essential container in task exited", ago(1), exit_code=137))
    assert (failed.action, failed.reason) == ("fail_attempt", "Essential container in task exited")


def test_queued_never_submitted():
    assert run(job(JobState.QUEUED, attempt=0, updated_at=ago(121))).action == "submit"
    assert run(job(JobState.QUEUED, attempt=0, updated_at=ago(10))) is None
    # begun but never sent (crash between begin_attempt and SubmitJob)
    assert run(job(JobState.RETRY_WAIT, next_attempt_at=None, updated_at=ago(121))).action == "submit"


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED])
def test_terminal_jobs_are_left_alone(state):
    assert run(job(state, heartbeat_at=ago(10_000)), Remote("FAILED")) is None


def test_a_begun_attempt_without_an_executor_id_is_looked_up_before_a_new_one():
    begun = run(job(JobState.QUEUED, attempt=1, executor_job_id=None, updated_at=ago(121)))
    assert (begun.rule, begun.action) == ("never_submitted", "submit") and "looked up first" in begun.reason
    never_begun = run(job(JobState.QUEUED, attempt=0, executor_job_id=None, updated_at=ago(121)))
    assert never_begun.action == "submit" and "looked up" not in never_begun.reason
