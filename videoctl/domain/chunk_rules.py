"""scan-stuck's rules for the chunks of a chunked attempt (#23): the retry contract, per chunk. Pure.

A chunk is retried alone, as a job's attempt is: a failed try (its runner said so, its heartbeat
went quiet, its container is gone or ended) is followed by another try of that chunk alone after
a backoff, under the job's attempt policy (``max_attempts`` tries, permanent errors not retried,
``verify_failed`` once). A chunk that cannot succeed fails the job's attempt, and the job's own
rules decide what follows. The lead and the assembler are the job's own runners, watched by the
job's rules (``domain.scan``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from videoctl.domain.chunks import ChunkState
from videoctl.domain.errors import ScanFailure, is_permanent
from videoctl.domain.executor import REMOTE_FAILED, Remote
from videoctl.domain.retry import RetryPolicy
from videoctl.domain.scan import Thresholds


class ChunkCandidate(NamedTuple):
    """The columns of a chunk row (and of its job) that scan-stuck's chunk rules read."""

    job_id: int
    video_id: int
    attempt: int
    idx: int
    state: str
    tries: int
    executor_job_id: str | None
    heartbeat_at: datetime | None
    next_try_at: datetime | None
    error_code: str | None
    error_message: str | None
    failure_code: str | None
    failure_repeats: int
    updated_at: datetime
    submitted_at: datetime | None
    #: The job's attempt policy applies to each chunk's tries.
    max_attempts: int
    priority: int | None

    @property
    def unsent(self) -> bool:
        return self.state in (ChunkState.PENDING, ChunkState.SUBMITTED) and self.executor_job_id is None

    @property
    def sent(self) -> bool:
        """Out there: sent to the executor (or claimed), not finished."""
        return self.state in (ChunkState.SUBMITTED, ChunkState.RUNNING) and not self.unsent


class ChunkAction(StrEnum):
    #: The chunk's try failed (stale, its container gone or ended): then as a failed chunk.
    FAIL_TRY = "fail_chunk"
    #: RETRY_WAIT with a backoff.
    RETRY = "retry_chunk"
    #: The chunk's next try, sent alone (a due retry), or a try begun and never sent
    #: (its container looked up by name first and adopted if it exists).
    SEND = "send_chunk"
    #: The chunk cannot succeed (a permanent error, its tries used up): the job's attempt fails.
    FAIL_ATTEMPT = "fail_attempt"
    REPORT = "report"


class ChunkDecision(NamedTuple):
    rule: str
    action: ChunkAction
    reason: str
    error_code: str | None = None
    delay_s: float = 0.0


def after_chunk_failure(chunk: ChunkCandidate, error_code: str | None, policy: RetryPolicy, rand) -> ChunkDecision:
    """What a failed try leads to: the chunk again after a backoff, or the attempt fails."""
    repeats = chunk.failure_repeats if error_code == chunk.failure_code else 1
    if policy.decide(chunk.tries, error_code, chunk.max_attempts, repeats) == "dead":
        why = ("a permanent error" if is_permanent(error_code, repeats)
               else f"its tries are used up ({chunk.tries}/{chunk.max_attempts})")
        return ChunkDecision("chunk_failed", ChunkAction.FAIL_ATTEMPT,
                             f"chunk {chunk.idx} cannot succeed: {why}", error_code)
    delay = policy.backoff_s(chunk.tries, rand)
    return ChunkDecision("chunk_failed", ChunkAction.RETRY,
                         f"chunk {chunk.idx} again in {delay:.0f}s (try {chunk.tries}/{chunk.max_attempts})",
                         error_code, delay)


def decide_chunk(chunk: ChunkCandidate, remote: Remote | None, now: datetime, limits: Thresholds,
                 policy: RetryPolicy, rand, *, sent_in_attempt: int, slots: int | None) -> ChunkDecision | None:
    """The rule for a chunk of a running chunked attempt that applies now, if any.

    ``sent_in_attempt`` counts the attempt's chunks out there; ``slots`` is how many the
    executor runs at once (None: no limit), so a chunk waiting in the local queue for a CPU
    is left to the chunk processes that start it, unless none is left to.
    """
    state = chunk.state
    if state == ChunkState.FAILED:
        return after_chunk_failure(chunk, chunk.error_code, policy, rand)
    if state == ChunkState.RETRY_WAIT:
        due = chunk.next_try_at
        if due is not None and due <= now:
            return ChunkDecision("chunk_retry_due", ChunkAction.SEND, f"chunk {chunk.idx}'s retry is due")
        return None
    if chunk.unsent:
        waited = (now - chunk.updated_at).total_seconds()
        if waited < limits.queued_after_s or (slots is not None and sent_in_attempt >= slots):
            return None
        return ChunkDecision("chunk_never_sent", ChunkAction.SEND,
                             f"chunk {chunk.idx} begun {waited:.0f}s ago and never sent; its container is looked "
                             "up first, and adopted if found")
    if state == ChunkState.RUNNING:
        quiet = (now - chunk.heartbeat_at).total_seconds() if chunk.heartbeat_at else float("inf")
        if quiet >= limits.stale_after_s:
            return ChunkDecision("chunk_stale", ChunkAction.FAIL_TRY, f"chunk {chunk.idx}: no heartbeat for {quiet:.0f}s",
                                 ScanFailure.STALE)
    return _chunk_remote(chunk, remote, now, limits)


def _chunk_remote(chunk: ChunkCandidate, remote: Remote | None, now: datetime,
                  limits: Thresholds) -> ChunkDecision | None:
    if remote is None:
        if chunk.state != ChunkState.SUBMITTED:
            return None
        age = (now - chunk.submitted_at).total_seconds() if chunk.submitted_at else float("inf")
        if age >= limits.unknown_after_s:
            return ChunkDecision("chunk_lost", ChunkAction.FAIL_TRY,
                                 f"chunk {chunk.idx}: executor job {chunk.executor_job_id} not found for {age:.0f}s",
                                 ScanFailure.LOST)
        return ChunkDecision("chunk_unknown", ChunkAction.REPORT,
                             f"chunk {chunk.idx}: executor job {chunk.executor_job_id} not found yet")
    if remote.status in REMOTE_FAILED:
        return ChunkDecision("chunk_executor_failed", ChunkAction.FAIL_TRY,
                             f"chunk {chunk.idx}: {remote.reason or f'executor reports {remote.status}'}",
                             ScanFailure.EXECUTOR_FAILED)
    if remote.status == "SUCCEEDED":
        return ChunkDecision("chunk_exited_early", ChunkAction.FAIL_TRY,
                             f"chunk {chunk.idx}: its container ended (SUCCEEDED) without the chunk succeeding",
                             ScanFailure.EXITED_EARLY)
    if chunk.state == ChunkState.SUBMITTED and remote.status == "RUNNABLE":
        waiting = (now - chunk.submitted_at).total_seconds() if chunk.submitted_at else 0.0
        if waiting >= limits.runnable_after_s:
            return ChunkDecision("chunk_waiting_for_capacity", ChunkAction.REPORT,
                                 f"chunk {chunk.idx}: RUNNABLE for {waiting:.0f}s: waiting for compute capacity")
    return None
