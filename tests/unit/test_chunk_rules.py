"""scan-stuck's rules for the chunks of a long video: each chunk retried alone, under the job's policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videoctl.domain.chunk_rules import ChunkAction, ChunkCandidate, after_chunk_failure, decide_chunk
from videoctl.domain.executor import Remote
from videoctl.domain.retry import RetryPolicy
from videoctl.domain.scan import Thresholds

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(stale_after_s=300, unknown_after_s=900, runnable_after_s=1800, queued_after_s=120)
POLICY = RetryPolicy(base_s=30, cap_s=3600, max_attempts=3)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def chunk(state="RUNNING", *, tries=1, executor="array:3", heartbeat=5, error=None, failure=None, repeats=0,
          next_try=None, updated=5, submitted=5, max_attempts=3) -> ChunkCandidate:
    return ChunkCandidate(job_id=7, video_id=2, attempt=1, idx=3, state=state, tries=tries, executor_job_id=executor,
                          heartbeat_at=ago(heartbeat) if heartbeat is not None else None, next_try_at=next_try,
                          error_code=error, error_message="x" if error else None, failure_code=failure or error,
                          failure_repeats=repeats or (1 if error else 0), updated_at=ago(updated),
                          submitted_at=ago(submitted) if submitted is not None else None, max_attempts=max_attempts,
                          priority=None)


def decide(row, remote=None, *, sent=1, slots=None):
    return decide_chunk(row, remote, NOW, LIMITS, POLICY, lambda: 0.5, sent_in_attempt=sent, slots=slots)


def test_a_running_chunk_with_a_fresh_heartbeat_and_a_live_container_is_left_alone():
    assert decide(chunk(), Remote("RUNNING")) is None


def test_a_failed_try_is_retried_alone_after_a_backoff_while_tries_remain():
    decision = decide(chunk("FAILED", error="media_error"))
    assert decision.action is ChunkAction.RETRY and decision.delay_s == pytest.approx(22.5)
    assert "chunk 3 again" in decision.reason and "try 1/3" in decision.reason


@pytest.mark.parametrize(("row", "why"), [
    (chunk("FAILED", tries=3, error="media_error"), "tries are used up (3/3)"),
    (chunk("FAILED", error="invalid_input"), "permanent error"),
    (chunk("FAILED", tries=2, error="verify_failed", repeats=2), "permanent error"),
])
def test_a_chunk_that_cannot_succeed_fails_the_attempt(row, why):
    decision = decide(row)
    assert decision.action is ChunkAction.FAIL_ATTEMPT and why in decision.reason
    assert decision.error_code == row.error_code


def test_the_jobs_own_attempt_limit_is_the_chunks():
    assert decide(chunk("FAILED", tries=1, error="media_error", max_attempts=1)).action is ChunkAction.FAIL_ATTEMPT


def test_a_due_retry_is_sent_and_one_not_due_waits():
    assert decide(chunk("RETRY_WAIT", next_try=ago(1))).action is ChunkAction.SEND
    assert decide(chunk("RETRY_WAIT", next_try=NOW + timedelta(seconds=10))) is None


@pytest.mark.parametrize(("row", "remote", "code"), [
    (chunk(heartbeat=301), Remote("RUNNING"), "stale"),
    (chunk(heartbeat=None), None, "stale"),
    (chunk(), Remote("MISSING", "the local process is gone"), "executor_failed"),
    (chunk("SUBMITTED", heartbeat=None), Remote("FAILED", "Host EC2 terminated"), "executor_failed"),
    (chunk(), Remote("SUCCEEDED", exit_code=0), "exited_early"),
    (chunk("SUBMITTED", heartbeat=None, submitted=901), None, "lost"),
])
def test_a_try_whose_container_went_quiet_died_or_ended_failed(row, remote, code):
    decision = decide(row, remote)
    assert decision.action is ChunkAction.FAIL_TRY and decision.error_code == code
    assert decision.reason.startswith("chunk 3")


def test_a_chunk_its_executor_does_not_know_yet_or_waiting_for_capacity_is_reported():
    assert decide(chunk("SUBMITTED", heartbeat=None, submitted=30), None).action is ChunkAction.REPORT
    waiting = decide(chunk("SUBMITTED", heartbeat=None, submitted=1801), Remote("RUNNABLE"))
    assert waiting.action is ChunkAction.REPORT and "capacity" in waiting.reason


def test_a_try_never_sent_is_sent_once_it_has_waited():
    unsent = chunk("PENDING", executor=None, heartbeat=None, submitted=None, updated=121)
    assert decide(unsent, slots=None).action is ChunkAction.SEND
    assert decide(unsent._replace(updated_at=ago(60))) is None
    reserved = chunk("SUBMITTED", executor=None, heartbeat=None, updated=121)
    assert decide(reserved).action is ChunkAction.SEND


def test_a_chunk_waiting_in_the_local_queue_is_left_to_the_chunks_that_start_it():
    waiting = chunk("PENDING", executor=None, heartbeat=None, submitted=None, updated=3600)
    assert decide(waiting, sent=2, slots=2) is None
    assert decide(waiting, sent=1, slots=2).action is ChunkAction.SEND  # a slot is free: nobody will start it


def test_after_a_failure_the_count_of_the_same_error_in_a_row_decides():
    row = chunk("FAILED", tries=2, error="verify_failed", repeats=1)
    assert after_chunk_failure(row, "verify_failed", POLICY, lambda: 0.5).action is ChunkAction.RETRY
    assert after_chunk_failure(row._replace(failure_repeats=2), "verify_failed", POLICY,
                               lambda: 0.5).action is ChunkAction.FAIL_ATTEMPT
