"""Plain records for the two tables; built from database rows by the repositories."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any

from videoctl.domain.states import JobState, VideoStatus


class _Record:
    @classmethod
    def from_row(cls, row: dict[str, Any]):
        """Build from a row that may carry extra columns (e.g. RETURNING v.*, x)."""
        names = _field_names(cls)
        if row.keys() == names:  # SELECT * of the record's own table: the common case
            return cls(**row)
        return cls(**{k: v for k, v in row.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", VideoStatus(self.status))


@dataclass(frozen=True)
class Job(_Record):
    id: int
    video_id: int
    state: JobState
    attempt: int
    max_attempts: int
    reencode: bool
    priority: int | None
    aws_batch_job_id: str | None
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", JobState(self.state))
