"""scan-stuck's rules: given a job, what its executor says, and the time, decide.

Pure: the service reads rows and executor statuses, asks :func:`decide`,
and applies the decision with guarded transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from videoctl.domain.errors import ScanFailure, is_permanent
from videoctl.domain.executor import REMOTE_FAILED, Remote
from videoctl.domain.models import Job, attempt_begun_unsent
from videoctl.domain.retry import RetryPolicy
from videoctl.domain.states import JobState


class Candidate(NamedTuple):
    """The columns of a job row that the rules read, and nothing more.

    A pass reads up to ``--limit`` of these; a tuple of 13 columns loads several
    times faster than a full :class:`Job` (and ``Job`` itself fits wherever a
    Candidate is expected, e.g. in tests).
    """

    id: int
    video_id: int
    #: The state's text as read (a JobState member compares equal to it).
    state: str
    attempt: int
    max_attempts: int
    executor_job_id: str | None
    heartbeat_at: datetime | None
    next_attempt_at: datetime | None
    error_code: str | None
    updated_at: datetime
    submitted_at: datetime | None
    #: The code of the last failed attempt, and how many attempts in a row failed with it.
    failure_code: str | None
    failure_repeats: int

    @property
    def begun_unsent(self) -> bool:
        """See :func:`videoctl.domain.models.attempt_begun_unsent`."""
        return attempt_begun_unsent(self.attempt, self.executor_job_id, self.next_attempt_at)


@dataclass(frozen=True)
class Thresholds:
    stale_after_s: float
    unknown_after_s: float
    runnable_after_s: float
    queued_after_s: float


class Action(StrEnum):
    """What a pass does with a job (a member compares equal to its text)."""

    #: A failed attempt, followed at once by RETRY or DEAD.
    FAIL_ATTEMPT = "fail_attempt"
    #: RETRY_WAIT with a backoff.
    RETRY = "retry"
    DEAD = "dead"
    #: Begin and send the next attempt.
    SUBMIT = "submit"
    #: A begun attempt's container was found by name and adopted (set after the lookup).
    ADOPT = "adopt"
    #: Nothing to change; tell the operator.
    REPORT = "report"


class Decision(NamedTuple):
    rule: str
    action: Action
    reason: str
    error_code: str | None = None
    delay_s: float = 0.0


def _age_s(now: datetime, then: datetime | None) -> float:
    return (now - then).total_seconds() if then else float("inf")


def after_failure(job: Candidate | Job, error_code: str | None, policy: RetryPolicy, rand) -> Decision:
    """What a failed attempt leads to: backoff and another attempt, or DEAD.

    The job's own max_attempts (fixed when it was created) wins over the policy's default.
    """
    repeats = job.failure_repeats if error_code == job.failure_code else 1
    if policy.decide(job.attempt, error_code, job.max_attempts, repeats) == "dead":
        if not is_permanent(error_code, repeats):
            why = f"attempts used up ({job.attempt}/{job.max_attempts})"
        elif repeats > 1 and not is_permanent(error_code):
            why = f"permanent error: {error_code} on {repeats} attempts in a row"
        else:
            why = "permanent error"
        return Decision("failed", Action.DEAD, why, error_code)
    delay = policy.backoff_s(job.attempt, rand)
    return Decision("failed", Action.RETRY, f"retry in {delay:.0f}s (attempt {job.attempt}/{job.max_attempts})",
                    error_code, delay)


def decide(job: Candidate | Job, remote: Remote | None, now: datetime, limits: Thresholds,
           policy: RetryPolicy, rand) -> Decision | None:
    """The rule for the job's state that applies now, if any."""
    rules = _RULES_BY_STATE.get(job.state)
    return rules(job, remote, now, limits, policy, rand) if rules else None


def _failed(job, remote, now, limits, policy, rand) -> Decision:
    return after_failure(job, job.error_code, policy, rand)


def _retry_wait(job, remote, now, limits, policy, rand) -> Decision | None:
    due = job.next_attempt_at
    if due is None:  # begun again but never sent: see _queued
        return _queued(job, remote, now, limits, policy, rand)
    if due <= now:
        return Decision("retry_due", Action.SUBMIT, f"retry due since {(now - due).total_seconds():.0f}s")
    return None


def _queued(job, remote, now, limits, policy, rand) -> Decision | None:
    # Never reached the executor: the process died between insert (or
    # begin_attempt) and SubmitJob, or SubmitJob was refused.
    age = _age_s(now, job.updated_at)
    if age < limits.queued_after_s:
        return None
    why = f"{job.state} without a submission for {age:.0f}s"
    if job.begun_unsent:
        why += f"; attempt {job.attempt}'s container is looked up first, and adopted if found"
    return Decision("never_submitted", Action.SUBMIT, why)


def _running(job, remote, now, limits, policy, rand) -> Decision | None:
    quiet = _age_s(now, job.heartbeat_at)
    if quiet >= limits.stale_after_s:
        return Decision("stale_heartbeat", Action.FAIL_ATTEMPT, f"no heartbeat for {quiet:.0f}s", ScanFailure.STALE)
    return _decide_remote(job, remote, now, limits, submitted=False)


def _submitted(job, remote, now, limits, policy, rand) -> Decision | None:
    return _decide_remote(job, remote, now, limits, submitted=True)


# Each takes decide()'s arguments. A StrEnum member hashes and compares like its text,
# so a state read as text finds its rules too.
_RULES_BY_STATE: dict[str, Callable[..., Decision | None]] = {
    JobState.FAILED: _failed,
    JobState.RETRY_WAIT: _retry_wait,
    JobState.QUEUED: _queued,
    JobState.RUNNING: _running,
    JobState.SUBMITTED: _submitted,
}


def _decide_remote(job: Candidate | Job, remote: Remote | None, now: datetime, limits: Thresholds, *,
                   submitted: bool) -> Decision | None:
    if remote is None:
        if not (submitted and job.executor_job_id):
            return None
        age = _age_s(now, job.submitted_at)
        if age >= limits.unknown_after_s:
            return Decision("lost", Action.FAIL_ATTEMPT,
                            f"executor job {job.executor_job_id} not found for {age:.0f}s", ScanFailure.LOST)
        return Decision("unknown", Action.REPORT, f"executor job {job.executor_job_id} not found yet")
    status = remote.status
    if status in REMOTE_FAILED:
        return Decision("executor_failed", Action.FAIL_ATTEMPT,
                        remote.reason or f"executor reports {status}", ScanFailure.EXECUTOR_FAILED)
    if status == "SUCCEEDED":
        # The executor was asked before the row was read, so everything the container
        # wrote before it ended is in the row already: it ended without completing.
        code = "" if remote.exit_code is None else f", exit {remote.exit_code}"
        return Decision("exited_early", Action.FAIL_ATTEMPT,
                        f"the container ended (SUCCEEDED{code}) without completing the job",
                        ScanFailure.EXITED_EARLY)
    if submitted and status == "RUNNABLE":
        waiting = _age_s(now, job.submitted_at)
        if waiting >= limits.runnable_after_s:
            return Decision("waiting_for_capacity", Action.REPORT,
                            f"RUNNABLE for {waiting:.0f}s: waiting for compute capacity")
    return None
