"""Plain records for the tables; built from database rows by the repositories."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, ClassVar

from videoctl.domain.chunks import ChunkState
from videoctl.domain.errors import JobFailed
from videoctl.domain.sizing import ContainerSize, SourceFacts
from videoctl.domain.states import JobState, VideoStatus
from videoctl.domain.uploads import UPLOAD_EXPIRED


class _Record:
    @classmethod
    def from_row(cls, row: dict[str, Any]):
        """Build from a row that may carry extra columns (e.g. RETURNING v.*, x)."""
        names = _field_names(cls)
        if row.keys() == names:  # SELECT * of the record's own table: the common case
            return cls(**row)
        return cls(**{k: v for k, v in row.items() if k in names})

    #: JSON names kept for a release after a field was renamed: old name → field.
    JSON_ALIASES: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, values as they are (nested records stay records)."""
        record = {name: getattr(self, name) for name in _field_order(type(self))}
        for old, current in self.JSON_ALIASES.items():
            record[old] = record[current]
        return record


@cache
def _field_order(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))  # scan-stuck builds thousands of these a pass


@dataclass(frozen=True)
class Video(_Record):
    id: int
    title: str
    source_key: str
    status: VideoStatus
    hls_path: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    has_audio: bool | None
    size_bytes: int | None
    created_at: datetime
    updated_at: datetime
    #: Beside hls_path, where the rest of a READY video's outputs are (domain/outputs.py).
    mpd_path: str | None = None
    poster_path: str | None = None
    poster_small_path: str | None = None
    storyboard_path: str | None = None
    download_path: str | None = None
    caption_languages: list[str] = field(default_factory=list)
    #: A direct upload (docs/api.md): the type the client must send, the open multipart
    #: upload, and when a PENDING upload expires.
    content_type: str | None = None
    upload_id: str | None = None
    upload_expires_at: datetime | None = None
    #: Set while the video waits for the job VIDEOCTL_AUTO_SUBMIT promised it.
    auto_submit_at: datetime | None = None
    #: Why the video itself FAILED when no job says so (upload_expired).
    error_code: str | None = None
    error_message: str | None = None
    #: The source's ETag when its upload completed or its key was registered: run-job
    #: encodes that object or none (None for a video from before it was recorded).
    source_etag: str | None = None
    #: A multipart upload's part size while it is open: with size_bytes, its plan.
    upload_part_size: int | None = None
    #: The source's nominal frame rate, beside its other probe facts (duration_s, width, height).
    fps: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", VideoStatus(self.status))

    @property
    def source_facts(self) -> SourceFacts:
        """What is known of the source: what its encode's container is sized for."""
        return SourceFacts(self.duration_s, self.width, self.height, self.fps)

    @property
    def upload_abandoned(self) -> bool:
        """An upload that never completed: its source objects are leftovers, not an upload to keep."""
        return self.status is VideoStatus.FAILED and self.error_code == UPLOAD_EXPIRED


@dataclass(frozen=True)
class Job(_Record):
    id: int
    video_id: int
    state: JobState
    attempt: int
    max_attempts: int
    reencode: bool
    priority: int | None
    executor_job_id: str | None
    runner_id: str | None
    heartbeat_at: datetime | None
    progress: int
    next_attempt_at: datetime | None
    error_code: str | None
    error_message: str | None
    output_prefix: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    #: The code of the last failed attempt, and how many attempts in a row failed with it.
    failure_code: str | None = None
    failure_repeats: int = 0
    #: What the job decided about its source before encoding (domain/decision.py), and what
    #: the encode measured of its outputs (each audio rendition's loudness).
    decision: dict[str, Any] | None = None
    measurements: dict[str, Any] | None = None
    #: The size the current attempt's container asked for (SubmitJob's containerOverrides,
    #: domain/sizing.py); None when it asked for none: the job definition's size, or a local process.
    size_vcpus: float | None = None
    size_memory_mib: int | None = None
    #: For a chunked attempt (#23): how many chunks, how many have succeeded (the fenced
    #: counter), and the plan with what the lead made for the whole video.
    chunks: int | None = None
    chunks_done: int = 0
    chunking: dict[str, Any] | None = None

    #: The column was aws_batch_job_id in 0.1 (it holds `local:PID` too); scripts
    #: reading the old JSON name keep working for this release. Removed in the next.
    JSON_ALIASES: ClassVar[dict[str, str]] = {"aws_batch_job_id": "executor_job_id"}

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", JobState(self.state))

    @property
    def size(self) -> ContainerSize | None:
        return ContainerSize.recorded(self.size_vcpus, self.size_memory_mib)

    @property
    def begun_unsent(self) -> bool:
        """See :func:`attempt_begun_unsent`."""
        return attempt_begun_unsent(self.attempt, self.executor_job_id, self.next_attempt_at)


@dataclass(frozen=True)
class JobChunk(_Record):
    """One chunk of a chunked attempt (domain/chunks.py): a job_chunk row."""

    job_id: int
    attempt: int
    idx: int
    state: ChunkState
    tries: int
    start_s: float
    duration_s: float | None
    executor_job_id: str | None
    runner_id: str | None
    heartbeat_at: datetime | None
    progress: int
    next_try_at: datetime | None
    error_code: str | None
    error_message: str | None
    failure_code: str | None
    failure_repeats: int
    result: dict[str, Any] | None
    created_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    #: The size the current try's container asked for: the sizing table applied to the chunk's
    #: part of the video (an array's children share the longest chunk's); None when it asked
    #: for none: the job definition's size, or a local process.
    size_vcpus: float | None = None
    size_memory_mib: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ChunkState(self.state))

    @property
    def size(self) -> ContainerSize | None:
        return ContainerSize.recorded(self.size_vcpus, self.size_memory_mib)

    @property
    def unsent(self) -> bool:
        """Its current try was begun but no executor id is recorded for it."""
        return self.state in (ChunkState.PENDING, ChunkState.SUBMITTED) and self.executor_job_id is None


def attempt_begun_unsent(attempt: int, executor_job_id: str | None, next_attempt_at: datetime | None) -> bool:
    """Attempt begun (N ≥ 1) but no executor id recorded, and not waiting for a retry:
    its SubmitJob may have gone through before the submitter died, or its reply was
    lost for good. scan-stuck looks its container up by name before sending another."""
    return attempt >= 1 and executor_job_id is None and next_attempt_at is None


def require_success(job: Job) -> Job:
    """The job, if it SUCCEEDED; else JobFailed saying how it ended (the exit code of a wait)."""
    if job.state is not JobState.SUCCEEDED:
        detail = f": {job.error_code}: {job.error_message}" if job.error_code else ""
        raise JobFailed(f"job {job.id} ended {job.state}{detail}",
                        hint=f"see `videoctl jobs show {job.id}`")
    return job


@dataclass(frozen=True)
class DeleteRequest(_Record):
    """A prefix waiting for the delete-r2 path (the transactional outbox of deletions)."""

    id: int
    prefix: str
    reason: str
    video_id: int | None
    requested_at: datetime
    sent_at: datetime | None
    discarded_at: datetime | None
    discard_reason: str | None


@dataclass(frozen=True)
class Event(_Record):
    """A transition recorded for the app (the transactional outbox of events; docs/events.md)."""

    #: The row's number: the envelope's "sequence", what `events discard` takes.
    id: int
    #: The stable id receivers deduplicate on (a UUID), the same on every resend.
    event_id: str
    type: str
    video_id: int | None
    job_id: int | None
    data: dict[str, Any]
    created_at: datetime
    attempts: int
    last_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    delivered_to: str | None
    receipt: str | None
    discarded_at: datetime | None
    discard_reason: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_id", str(self.event_id))  # psycopg reads uuid as UUID

    @property
    def pending(self) -> bool:
        return self.delivered_at is None and self.discarded_at is None
