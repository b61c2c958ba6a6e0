"""Video and job states and the transitions allowed between them.

The tables here are the single statement of the state machine; the
repositories turn each transition into a guarded ``UPDATE … WHERE state =
ANY(%(from)s)`` using :func:`sources_of`, so the database refuses exactly
what this module forbids.
"""

from __future__ import annotations

from enum import StrEnum

from videoctl.domain.errors import InvalidState


class VideoStatus(StrEnum):
    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"
    #: Retired by `video delete`: terminal, serves nothing (no hls_path), never encoded again.
    DELETED = "DELETED"


class JobState(StrEnum):
    QUEUED = "QUEUED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RETRY_WAIT = "RETRY_WAIT"
    DEAD = "DEAD"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_JOB_STATES


TERMINAL_JOB_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})
ACTIVE_JOB_STATES = frozenset(set(JobState) - TERMINAL_JOB_STATES)

_J = JobState

#: Where a new attempt may begin (attempt N → N + 1, state unchanged until SUBMITTED),
#: and where a refused submission leaves it when the attempt is undone.
ATTEMPT_BEGINS_FROM = frozenset({_J.QUEUED, _J.RETRY_WAIT})

#: target state → the states a job may move there from.
JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # send_attempt: first submission, a retry that came due, or a lost
    # submission found again by scan-stuck (QUEUED that never reached Batch).
    _J.SUBMITTED: ATTEMPT_BEGINS_FROM,
    # The container's claim. QUEUED and RETRY_WAIT are allowed because a
    # container can start before its SubmitJob response is recorded (the
    # local executor always does; Batch can when the response is slow).
    _J.RUNNING: frozenset({_J.QUEUED, _J.SUBMITTED, _J.RETRY_WAIT}),
    _J.SUCCEEDED: frozenset({_J.RUNNING}),
    # A failed attempt: the container reports it, or scan-stuck finds a stale
    # heartbeat / a Batch job that died / a submission that was lost.
    _J.FAILED: frozenset({_J.SUBMITTED, _J.RUNNING}),
    _J.RETRY_WAIT: frozenset({_J.FAILED}),
    # Attempts exhausted, a permanent error, or an operator giving up.
    _J.DEAD: frozenset({_J.FAILED, _J.RETRY_WAIT, _J.QUEUED}),
    _J.CANCELLED: frozenset(ACTIVE_JOB_STATES),
    # An operator's `jobs retry`: a finished-without-success job gets a new attempt.
    _J.QUEUED: frozenset({_J.DEAD, _J.CANCELLED}),
}

_V = VideoStatus

VIDEO_TRANSITIONS: dict[VideoStatus, frozenset[VideoStatus]] = {
    # PROCESSING → UPLOADED: its job was cancelled; the video waits for a new submit.
    _V.UPLOADED: frozenset({_V.PENDING, _V.FAILED, _V.PROCESSING}),
    _V.PROCESSING: frozenset({_V.UPLOADED, _V.READY, _V.FAILED}),
    # READY → READY is a re-encode replacing the ladder.
    _V.READY: frozenset({_V.PROCESSING, _V.UPLOADED, _V.READY}),
    # PENDING → FAILED: a direct upload that never completed expired (upload_expired).
    _V.FAILED: frozenset({_V.PROCESSING, _V.UPLOADED, _V.PENDING}),
    _V.PENDING: frozenset(),
    # `video delete`, from anywhere; nothing leaves DELETED.
    _V.DELETED: frozenset(set(VideoStatus) - {VideoStatus.DELETED}),
}


def sources_of(target: JobState) -> list[str]:
    """The states a job may leave to reach *target*, as SQL parameters."""
    return sorted(JOB_TRANSITIONS[target])


def can_transition(current: JobState, target: JobState) -> bool:
    return current in JOB_TRANSITIONS[target]


def check_transition(current: JobState, target: JobState) -> None:
    if not can_transition(current, target):
        allowed = ", ".join(sorted(JOB_TRANSITIONS[target])) or "nothing"
        raise InvalidState(
            f"a job in state {current} cannot move to {target}",
            hint=f"{target} is reachable only from: {allowed}",
        )


def video_deleted(video_id: int, what: str = "it is never encoded again") -> InvalidState:
    """The refusal for anything that would give a DELETED video work or objects again."""
    return InvalidState(f"video {video_id} is DELETED: its objects are gone and {what}",
                        hint="add the file again with `videoctl video add FILE`: that is a new video")


def video_already_deleted(video_id: int) -> InvalidState:
    return InvalidState(f"video {video_id} is already DELETED",
                        hint=f"`videoctl r2 delete --video {video_id}` removes objects left under its prefix")


def video_sources_of(target: VideoStatus) -> list[str]:
    return sorted(VIDEO_TRANSITIONS[target])


def can_video_transition(current: VideoStatus, target: VideoStatus) -> bool:
    return current in VIDEO_TRANSITIONS[target]
