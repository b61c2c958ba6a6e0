"""The job and video state machines: which transitions are allowed, and the refusals."""

import itertools

import pytest

from videoctl.domain.errors import InvalidState
from videoctl.domain.states import (
    ACTIVE_JOB_STATES,
    JOB_TRANSITIONS,
    TERMINAL_JOB_STATES,
    JobState,
    VideoStatus,
    can_transition,
    can_video_transition,
    check_transition,
    sources_of,
)

J = JobState

# The state machine of DESIGN.md section 3, written out edge by edge so a
# change to the table in the code has to be a deliberate change here too.
ALLOWED = {
    (J.QUEUED, J.SUBMITTED), (J.RETRY_WAIT, J.SUBMITTED),
    (J.QUEUED, J.RUNNING), (J.SUBMITTED, J.RUNNING), (J.RETRY_WAIT, J.RUNNING),
    (J.RUNNING, J.SUCCEEDED),
    (J.SUBMITTED, J.FAILED), (J.RUNNING, J.FAILED),
    (J.FAILED, J.RETRY_WAIT),
    (J.FAILED, J.DEAD), (J.RETRY_WAIT, J.DEAD), (J.QUEUED, J.DEAD),
    (J.DEAD, J.QUEUED), (J.CANCELLED, J.QUEUED),
} | {(s, J.CANCELLED) for s in ACTIVE_JOB_STATES}

ALL_PAIRS = list(itertools.product(JobState, JobState))


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition(current, target):
    assert can_transition(current, target)
    check_transition(current, target)  # does not raise


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_forbidden_transition(current, target):
    assert not can_transition(current, target)
    with pytest.raises(InvalidState) as info:
        check_transition(current, target)
    assert info.value.code == "invalid_state"
    assert str(current) in info.value.message and str(target) in info.value.message


def test_terminal_states_only_leave_by_operator_retry():
    for state in TERMINAL_JOB_STATES:
        targets = {t for t in JobState if can_transition(state, t)}
        assert targets <= {J.QUEUED}
    assert not any(can_transition(J.SUCCEEDED, t) for t in JobState)


def test_sources_are_sql_ready_strings():
    assert sources_of(J.SUCCEEDED) == ["RUNNING"]
    assert all(isinstance(s, str) for target in JOB_TRANSITIONS for s in sources_of(target))


V = VideoStatus

VIDEO_ALLOWED = {
    (V.PENDING, V.UPLOADED), (V.FAILED, V.UPLOADED), (V.PROCESSING, V.UPLOADED),
    (V.UPLOADED, V.PROCESSING), (V.READY, V.PROCESSING), (V.FAILED, V.PROCESSING),
    (V.PROCESSING, V.READY), (V.UPLOADED, V.READY), (V.READY, V.READY),
    (V.PROCESSING, V.FAILED), (V.UPLOADED, V.FAILED), (V.PENDING, V.FAILED),  # an upload that expired
} | {(s, V.DELETED) for s in VideoStatus if s is not V.DELETED}  # `video delete`; nothing leaves DELETED


@pytest.mark.parametrize(("current", "target"), list(itertools.product(VideoStatus, VideoStatus)))
def test_video_transitions(current, target):
    assert can_video_transition(current, target) == ((current, target) in VIDEO_ALLOWED)


@pytest.mark.parametrize("state", [J.FAILED, J.DEAD, J.CANCELLED])
def test_a_wait_that_ends_otherwise_than_succeeded_is_job_failed(state):
    from datetime import UTC, datetime

    from videoctl.domain.errors import JobFailed
    from videoctl.domain.models import Job, require_success

    now = datetime(2026, 1, 1, tzinfo=UTC)
    fields = dict(id=7, video_id=1, attempt=3, max_attempts=3, reencode=False, priority=None, executor_job_id=None,
                  runner_id=None, heartbeat_at=None, progress=0, next_attempt_at=None, error_code="media_error",
                  error_message="no video stream", output_prefix=None, created_at=now, updated_at=now,
                  submitted_at=None, started_at=None, finished_at=now)
    done = Job(state=J.SUCCEEDED, **fields)
    assert require_success(done) is done
    with pytest.raises(JobFailed, match=f"job 7 ended {state}: media_error: no video stream") as caught:
        require_success(Job(state=state, **fields))
    assert caught.value.code == "job_failed" and "videoctl jobs show 7" in caught.value.hint
