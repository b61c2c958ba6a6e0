"""Repositories: the only code that runs SQL, all of it named in queries.sql.

Every state change goes through :meth:`JobRepository._transition`, which
runs a guarded UPDATE and turns "zero rows" into a typed error that says
why: unknown job, wrong state, or a runner that no longer holds the claim.

The transitions the app hears of (video READY or FAILED, job FAILED, DEAD or
CANCELLED) record their event here, in the same transaction as the UPDATE
(:func:`record_event`): no caller can make one without the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any
from uuid import UUID

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from videoctl.db.queries import sql
from videoctl.db.reconnect import db_error
from videoctl.domain import events
from videoctl.domain.cost import Usage
from videoctl.domain.errors import Fenced, InvalidState, NotFound
from videoctl.domain.keys import job_of_ladder
from videoctl.domain.models import DeleteRequest, Event, Job, Video
from videoctl.domain.ranges import MAX_ID
from videoctl.domain.outputs import Outputs
from videoctl.domain.reconcile import JobAttempt, VideoRow, covering_prefixes
from videoctl.domain.scan import Candidate
from videoctl.domain.selection import JobFilter
from videoctl.domain.sizing import ContainerSize, SourceFacts
from videoctl.domain.states import (
    ATTEMPT_BEGINS_FROM,
    JobState,
    VideoStatus,
    sources_of,
    video_already_deleted,
    video_deleted,
    video_sources_of,
)


def _one(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return conn.execute(sql(name), params).fetchone()
    except psycopg.errors.UniqueViolation:
        raise
    except psycopg.Error as exc:
        raise db_error(name, exc) from exc


def _candidate_rows(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], Candidate]:
    """Row factory: each row straight into a Candidate, checked once per query."""
    if tuple(column.name for column in cursor.description or ()) != Candidate._fields:
        raise AssertionError("stuck_jobs must select Candidate's columns in its order")
    return Candidate._make


def _bigint_array_text(ids: list[int]) -> str:
    """A bigint[] parameter in its text form: one string to send instead of a list that
    psycopg dumps element by element (hundreds of ids in a scan pass). Still a bound
    parameter; int() refuses anything but integers."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


#: The id columns are bigint: an id outside this range names no row (and would make
#: PostgreSQL refuse the query instead of answering "none").
_ID_RANGE = range(1, MAX_ID + 1)


def _known_id(value: int | None) -> bool:
    return value is None or value in _ID_RANGE


def _all(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return conn.execute(sql(name), params).fetchall()
    except psycopg.Error as exc:
        raise db_error(name, exc) from exc


class _Repository:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Transaction]:
        """Group several changes; they commit together or not at all.

        A BEGIN, COMMIT or ROLLBACK that fails (the server went away) is a DbError
        like any statement's: transient, and of unknown outcome if the link broke.
        """
        try:
            with self.conn.transaction() as transaction:
                yield transaction
        except psycopg.Error as exc:
            raise db_error("transaction", exc) from exc

    @contextmanager
    def _atomically(self) -> Iterator[None]:
        """One transaction for a transition and its event: the caller's if one is open
        (no savepoint: it commits or rolls back whole anyway), else a new one."""
        if self.conn.info.transaction_status is TransactionStatus.IDLE:
            with self.transaction():
                yield
        else:
            yield


def record_event(conn: psycopg.Connection, event: events.NewEvent) -> Event:
    """Write *event* in the caller's transaction: the outbox row the drains send after the commit.

    For a transition of its own (the lead example: a video FAILED with ``upload_expired``),
    call this inside the transaction that makes the change, or use a repository method that
    does (:meth:`VideoRepository.mark_failed`)."""
    return Event.from_row(_one(conn, "insert_event", {
        "type": event.type, "video_id": event.video_id, "job_id": event.job_id, "data": Jsonb(event.data)}))


class VideoRepository(_Repository):

    def next_id(self) -> int:
        """The id of a new video: the sequence's next one that no video has (a registered key
        takes its id without moving the sequence; see queries.sql, next_video_id)."""
        return _one(self.conn, "next_video_id", {})["id"]

    def add(self, video_id: int, *, title: str, source_key: str, size_bytes: int | None,
            status: VideoStatus = VideoStatus.UPLOADED, auto_submit: bool = False,
            content_type: str | None = None, upload_id: str | None = None,
            upload_expires_in_s: float | None = None) -> Video:
        """A new video; *auto_submit* marks an UPLOADED one as waiting for its job."""
        try:
            row = _one(self.conn, "insert_video", {
                "id": video_id, "title": title, "source_key": source_key, "status": status,
                "size_bytes": size_bytes, "auto_submit": auto_submit, "content_type": content_type,
                "upload_id": upload_id, "expires_in_s": upload_expires_in_s})
        except pg_errors.UniqueViolation:
            raise InvalidState(f"video {video_id} exists already",
                               hint=f"see it with `videoctl video show {video_id}`") from None
        return Video.from_row(row)

    def mark_uploaded(self, video_id: int, *, size_bytes: int, auto_submit: bool) -> Video:
        """PENDING → UPLOADED with the size found; InvalidState naming the status otherwise."""
        row = _one(self.conn, "mark_uploaded", {"id": video_id, "size_bytes": size_bytes,
                                                "auto_submit": auto_submit})
        if row is None:
            current = self.get(video_id)
            raise InvalidState(f"video {video_id} is {current.status}, not PENDING: its upload is not open",
                               hint="create a new upload with `videoctl upload create`")
        return Video.from_row(row)

    def expired_uploads(self, limit: int) -> list[Video]:
        """PENDING videos past their upload expiry, oldest first."""
        return [Video.from_row(r) for r in _all(self.conn, "expired_uploads", {"limit": limit})]

    def expire_upload(self, video_id: int, *, error_code: str, error_message: str) -> Video | None:
        """PENDING → FAILED with why, and its video.failed event in the same transaction;
        None if it is PENDING no more."""
        with self._atomically():
            row = _one(self.conn, "expire_upload", {"id": video_id, "error_code": error_code,
                                                    "error_message": error_message})
            if row is None:
                return None
            record_event(self.conn, events.video_failed(video_id, error_code=error_code,
                                                         error_message=error_message, job_id=None))
        return Video.from_row(row)

    def auto_submit_due(self, *, older_than_s: float, limit: int) -> list[Video]:
        """UPLOADED videos that have waited longer than *older_than_s* for their auto-submit."""
        return [Video.from_row(r) for r in _all(self.conn, "auto_submit_due",
                                                  {"older_than_s": older_than_s, "limit": limit})]

    def clear_auto_submit(self, video_id: int) -> None:
        _one(self.conn, "clear_auto_submit", {"id": video_id})

    def get(self, video_id: int) -> Video:
        row = _one(self.conn, "get_video", {"id": video_id}) if _known_id(video_id) else None
        if row is None:
            raise NotFound(f"video {video_id} not found", hint="list videos with `videoctl video list`")
        return Video.from_row(row)

    def list(self, *, status: VideoStatus | None = None, limit: int = 50) -> list[Video]:
        rows = _all(self.conn, "list_videos", {"status": status, "limit": limit})
        return [Video.from_row(r) for r in rows]

    def without_job(self, status: VideoStatus, limit: int) -> list[Video]:
        """Videos in *status* with no active job, oldest first: what bulk submit takes."""
        return [Video.from_row(r) for r in _all(self.conn, "videos_without_job", {"status": status, "limit": limit})]

    def set_status(self, video_id: int, target: VideoStatus) -> Video | None:
        """Move the video to *target* if allowed from where it is; None if not.

        READY and FAILED are not for this: :meth:`set_ready` and :meth:`mark_failed`
        record the event the app waits for with them."""
        if target in (VideoStatus.READY, VideoStatus.FAILED):
            raise AssertionError(f"a video becomes {target} through set_ready or mark_failed (they record its event)")
        row = _one(self.conn, "set_video_status",
                   {"id": video_id, "to": target, "from": video_sources_of(target)})
        return Video.from_row(row) if row else None

    def set_media_info(self, video_id: int, *, duration_s: float, width: int, height: int,
                       has_audio: bool, fps: float | None = None) -> Video:
        row = _one(self.conn, "set_video_media_info", {
            "id": video_id, "duration_s": duration_s, "width": width, "height": height,
            "has_audio": has_audio, "fps": fps})
        if row is None:
            raise NotFound(f"video {video_id} not found")
        return Video.from_row(row)

    def mark_deleted(self, video_id: int) -> tuple[Video, VideoStatus]:
        """DELETED with no ladder; returns the video and the status it had. Locks the row."""
        row = _one(self.conn, "mark_video_deleted", {
            "id": video_id, "from": video_sources_of(VideoStatus.DELETED)})
        if row is None:
            self.get(video_id)  # NotFound for an unknown id
            raise video_already_deleted(video_id)
        return Video.from_row(row), VideoStatus(row["previous_status"])

    def set_ready(self, video_id: int, hls_path: str, outputs: Outputs = Outputs(), *,
                  job: Job | None = None) -> tuple[Video, str | None]:
        """READY with the new ladder and its outputs, and its video.ready event; returns the ladder it
        replaced, if any. *job* is the job whose attempt made the ladder (else read from its key)."""
        with self._atomically():
            row = _one(self.conn, "set_video_ready", {
                "id": video_id, "hls_path": hls_path, **asdict(outputs),
                "caption_languages": list(outputs.caption_languages), "from": video_sources_of(VideoStatus.READY)})
            if row is None:
                current = self.get(video_id)
                raise InvalidState(f"video {video_id} is {current.status} and cannot become READY")
            previous = row["previous_hls_path"]
            replaced = previous if previous != hls_path else None
            video = Video.from_row(row)
            record_event(self.conn, events.video_ready(
                video, job_id=job.id if job else job_of_ladder(hls_path), attempt=job.attempt if job else None,
                reencode=job.reencode if job else previous is not None, replaced_hls_path=replaced))
        return video, replaced

    def mark_failed(self, video_id: int, *, error_code: str, error_message: str | None,
                    job_id: int | None = None) -> Video | None:
        """FAILED, if allowed from where the video is, with its video.failed event in the same
        transaction; None if not allowed (a READY video keeps the ladder it has)."""
        with self._atomically():
            row = _one(self.conn, "set_video_status",
                       {"id": video_id, "to": VideoStatus.FAILED, "from": video_sources_of(VideoStatus.FAILED)})
            if row is None:
                return None
            record_event(self.conn, events.video_failed(video_id, error_code=error_code,
                                                         error_message=error_message, job_id=job_id))
        return Video.from_row(row)

    def for_reconcile(self, after_id: int, last_id: int, limit: int) -> list[VideoRow]:
        """Videos with after_id < id <= last_id in id order, with their active job (reconcile)."""
        return [VideoRow(**r) for r in _all(self.conn, "reconcile_videos",
                                              {"after_id": after_id, "last_id": last_id, "limit": limit})]

    def processing_without_job(self, *, after_id: int, limit: int) -> list[Video]:
        """Videos left PROCESSING with no active job, in id order after *after_id*."""
        return [Video.from_row(r) for r in _all(self.conn, "processing_without_job",
                                                  {"after_id": after_id, "limit": limit})]

    def using_prefix(self, prefix: str) -> int | None:
        """The id of a video whose source or ladder lies under *prefix*, if any."""
        row = _one(self.conn, "video_using_prefix", {"prefix": prefix})
        return row["id"] if row else None


class JobRepository(_Repository):
    # ------------------------------------------------------------ reads

    def get(self, job_id: int) -> Job:
        row = _one(self.conn, "get_job", {"id": job_id}) if _known_id(job_id) else None
        if row is None:
            raise NotFound(f"job {job_id} not found", hint="list jobs with `videoctl jobs list`")
        return Job.from_row(row)

    def active_for_video(self, video_id: int) -> Job | None:
        row = _one(self.conn, "get_active_job_for_video", {"video_id": video_id})
        return Job.from_row(row) if row else None

    def list(self, *, state: JobState | None = None, video_id: int | None = None,
             limit: int = 50) -> list[Job]:
        if not _known_id(video_id):
            return []
        rows = _all(self.conn, "list_jobs", {"state": state, "video_id": video_id, "limit": limit})
        return [Job.from_row(r) for r in rows]

    def select(self, selection: JobFilter, limit: int) -> list[Job]:
        """The jobs a bulk action's filter names (its states must be set), oldest first."""
        if not all(_known_id(v) for v in selection.video_ids):
            return []
        rows = _all(self.conn, "select_jobs", {**selection.params(), "limit": limit})
        return [Job.from_row(r) for r in rows]

    def prunable(self, older_than_s: float, *, after_id: int, limit: int, lock: bool) -> list[int]:
        """Ids of finished jobs retention may delete (see queries.sql); with lock=True claimed
        until the transaction ends, skipping rows another pruner holds."""
        query = sql("prunable_jobs")
        if lock:
            query = query.rstrip().rstrip(";") + "\n" + sql("claim_rows_skip_locked")
        params = {"older_than_s": older_than_s, "after_id": after_id, "limit": limit}
        try:
            return [row[0] for row in self.conn.cursor(row_factory=tuple_row).execute(query, params)]
        except psycopg.Error as exc:
            raise db_error("prunable_jobs", exc) from exc

    def delete(self, job_ids: list[int]) -> int:
        return len(_all(self.conn, "delete_jobs", {"ids": _bigint_array_text(job_ids)}))

    def queue_positions(self, job_ids: list[int]) -> dict[int, int]:
        """job id → its place in line among waiting jobs (1 is next), for those waiting."""
        rows = _all(self.conn, "queue_positions", {"ids": _bigint_array_text(job_ids)})
        return {row["id"]: row["position"] for row in rows}

    def encode_speed(self) -> float | None:
        """Median seconds of encode per second of source over the last week, if any."""
        return _one(self.conn, "encode_speed", {})["speed"]

    def on_executors(self) -> list[tuple[int, str]]:
        """(job id, executor job id) of every SUBMITTED or RUNNING job."""
        try:
            return self.conn.cursor(row_factory=tuple_row).execute(sql("jobs_on_executors")).fetchall()
        except psycopg.Error as exc:
            raise db_error("jobs_on_executors", exc) from exc

    def stuck(self, *, queued_after_s: float, stale_after_s: float, flagged_ids: list[int],
              limit: int, lock: bool) -> list[Candidate]:
        """Candidates of a scan pass; with lock=True claimed until the transaction ends.

        Tuples in binary format: a pass may read thousands of rows, and their
        timestamps load several times faster that way than as text into dicts.
        """
        query = sql("stuck_jobs")
        if lock:
            query = query.rstrip().rstrip(";") + "\n" + sql("claim_rows_skip_locked")
        params = {"queued_after_s": queued_after_s, "stale_after_s": stale_after_s,
                  "flagged_ids": _bigint_array_text(flagged_ids), "limit": limit}
        try:
            cursor = self.conn.cursor(row_factory=_candidate_rows, binary=True).execute(query, params)
            return cursor.fetchall()
        except psycopg.Error as exc:
            raise db_error("stuck_jobs", exc) from exc

    def now(self):
        return _one(self.conn, "db_now", {})["now"]

    # ------------------------------------------------------------ create

    def create(self, video_id: int, *, max_attempts: int, reencode: bool = False,
               priority: int | None = None, begin: bool = False) -> Job:
        """A QUEUED job; refused, naming the active job, if the video has one.

        ``begin=True`` creates it with its first attempt already begun (what
        begin_attempt would do next), saving a commit on the submit path.
        """
        try:
            row = _one(self.conn, "insert_job", {
                "video_id": video_id, "max_attempts": max_attempts, "reencode": reencode,
                "priority": priority, "attempt": 1 if begin else 0})
        except pg_errors.UniqueViolation:
            active = self.active_for_video(video_id)
            name = f"job {active.id} ({active.state}, attempt {active.attempt})" if active else "a job"
            raise InvalidState(
                f"video {video_id} already has an active job: {name}",
                hint=f"follow it with `videoctl jobs show {active.id}`" if active else None,
            ) from None
        if row is None:  # no such video, or a DELETED one
            self._refuse_deleted_video(video_id)
        return Job.from_row(row)

    def _refuse_deleted_video(self, video_id: int) -> None:
        VideoRepository(self.conn).get(video_id)  # NotFound for an unknown id
        raise video_deleted(video_id)

    # ------------------------------------------------------------ transitions

    def _transition(self, query: str, target: JobState, params: dict[str, Any]) -> Job:
        """A guarded move to *target*, from the states the state machine allows."""
        return self._guarded(query, params, sources_of(target), f"move to {target}")

    def _guarded(self, query: str, params: dict[str, Any], sources: list[str], intent: str) -> Job:
        """Run a guarded UPDATE; zero rows becomes an error that says why."""
        if not _known_id(params["id"]):
            self.get(params["id"])  # NotFound, as for any id no job has
        params = {"from": sources, **params}
        row = _one(self.conn, query, params)
        if row is not None:
            return Job.from_row(row)
        self._explain_refusal(params, intent)
        raise AssertionError("unreachable")  # _explain_refusal always raises

    def _explain_refusal(self, params: dict[str, Any], intent: str) -> None:
        job = self.get(params["id"])  # NotFound for an unknown id
        attempt, runner = params.get("attempt"), params.get("runner_id")
        if attempt is not None and job.attempt != attempt:
            raise Fenced(f"job {job.id} is on attempt {job.attempt}, not {attempt}; "
                         f"this runner's writes are refused")
        if runner is not None and job.runner_id not in (None, runner):
            raise Fenced(f"job {job.id} attempt {job.attempt} is held by runner {job.runner_id}")
        if job.state not in params["from"]:
            raise InvalidState(
                f"job {job.id} is {job.state}; it cannot {intent}",
                hint=f"allowed from: {', '.join(params['from'])}")
        raise Fenced(f"job {job.id} attempt {job.attempt} cannot be claimed by this runner "
                     f"(it was submitted as executor job {job.executor_job_id})")

    def begin_attempt(self, job: Job | Candidate) -> Job:
        """Attempt N → N + 1, before SubmitJob; only one caller wins per attempt."""
        return self._guarded("begin_attempt", {"id": job.id, "attempt": job.attempt},
                             sorted(ATTEMPT_BEGINS_FROM), "begin a new attempt")

    def undo_attempt(self, job: Job, *, error_code: str, error_message: str) -> Job:
        """Attempt N → N − 1: its submission was refused, so it never ran."""
        return self._guarded("undo_attempt", {
            "id": job.id, "attempt": job.attempt, "error_code": error_code,
            "error_message": error_message}, sorted(ATTEMPT_BEGINS_FROM), "undo its attempt")

    def note_error(self, job: Job, *, error_code: str, error_message: str) -> None:
        _one(self.conn, "note_job_error", {
            "id": job.id, "attempt": job.attempt, "error_code": error_code,
            "error_message": error_message[:2000]})

    def mark_submitted(self, job: Job, executor_job_id: str, size: ContainerSize | None = None) -> Job:
        """SUBMITTED with the executor's id, and the size this attempt's container asked for (None: none)."""
        # Inside a caller's transaction the relaxed commit would cover its other changes too.
        own_transaction = self.conn.info.transaction_status is TransactionStatus.IDLE
        return self._transition("mark_submitted", JobState.SUBMITTED, {
            "id": job.id, "attempt": job.attempt, "executor_job_id": executor_job_id,
            "size_vcpus": size.vcpus if size else None, "size_memory_mib": size.memory_mib if size else None,
            "own_transaction": own_transaction})

    def source_facts(self, video_id: int) -> SourceFacts:
        """The probe facts of the job's source, for sizing its container (all None until probed)."""
        row = _one(self.conn, "video_source_facts", {"id": video_id}) if _known_id(video_id) else None
        return SourceFacts(**row) if row else SourceFacts(None, None, None)

    def claim(self, job: Job, runner_id: str, *, batch_job_id: str | None) -> Job:
        return self._transition("claim_job", JobState.RUNNING, {
            "id": job.id, "attempt": job.attempt, "runner_id": runner_id,
            "batch_job_id": batch_job_id})

    def heartbeat(self, job: Job, progress: int) -> int:
        """Fenced liveness + progress; returns the stored progress."""
        row = _one(self.conn, "heartbeat", {
            "id": job.id, "attempt": job.attempt, "runner_id": job.runner_id,
            "progress": max(0, min(100, int(progress)))})
        if row is None:
            self._explain_refusal({"id": job.id, "attempt": job.attempt,
                                   "runner_id": job.runner_id, "from": ["RUNNING"]}, "report progress")
        return row["progress"]

    def complete(self, job: Job, *, output_prefix: str | None = None,
                 measurements: dict[str, Any] | None = None) -> Job:
        return self._transition("complete_job", JobState.SUCCEEDED, {
            "id": job.id, "attempt": job.attempt, "runner_id": job.runner_id,
            "output_prefix": output_prefix, "measurements": Jsonb(measurements) if measurements else None})

    def record_decision(self, job: Job, decision: dict[str, Any]) -> Job:
        """The running attempt's decision about its source (domain/decision.py), fenced."""
        return self._guarded("record_decision", {
            "id": job.id, "attempt": job.attempt, "runner_id": job.runner_id, "decision": Jsonb(decision)},
            [JobState.RUNNING.value], "record its decision")

    def latest_decision(self, video_id: int) -> dict[str, Any] | None:
        """The newest stored decision of any of the video's jobs."""
        row = _one(self.conn, "latest_decision_for_video", {"video_id": video_id})
        return row["decision"] if row else None

    def fail(self, job: Job | Candidate, *, error_code: str, error_message: str,
             runner_id: str | None) -> Job:
        """A failed attempt, with its job.failed event; runner_id None when scan-stuck decides it."""
        with self._atomically():
            failed = self._transition("fail_job", JobState.FAILED, {
                "id": job.id, "attempt": job.attempt, "runner_id": runner_id,
                "error_code": error_code, "error_message": error_message[:2000]})
            record_event(self.conn, events.job_failed(failed))
        return failed

    def schedule_retry(self, job: Job | Candidate, delay_s: float) -> Job:
        return self._transition("schedule_retry", JobState.RETRY_WAIT, {
            "id": job.id, "attempt": job.attempt, "delay_s": delay_s})

    def mark_dead(self, job: Job | Candidate, *, error_code: str | None = None,
                  error_message: str | None = None) -> Job:
        """DEAD, with its job.dead event."""
        with self._atomically():
            dead = self._transition("mark_dead", JobState.DEAD, {
                "id": job.id, "attempt": job.attempt, "error_code": error_code,
                "error_message": error_message})
            record_event(self.conn, events.job_dead(dead))
        return dead

    def cancel(self, job_id: int, reason: str) -> Job:
        """CANCELLED, with its job.cancelled event."""
        with self._atomically():
            cancelled = self._transition("cancel_job", JobState.CANCELLED, {"id": job_id, "reason": reason})
            record_event(self.conn, events.job_cancelled(cancelled))
        return cancelled

    def requeue(self, job_id: int) -> Job:
        params = {"id": job_id, "from": sources_of(JobState.QUEUED)}
        row = _one(self.conn, "requeue_job", params)
        if row is not None:
            return Job.from_row(row)
        job = self.get(job_id)
        if job.state not in params["from"]:
            self._explain_refusal(params, f"move to {JobState.QUEUED}")
        raise video_deleted(job.video_id, f"job {job.id} is not run again")

    def attempts(self, job_ids: list[int]) -> dict[int, JobAttempt]:
        """job id → its state and current attempt, for those that exist."""
        known = [i for i in job_ids if _known_id(i)]
        rows = _all(self.conn, "job_attempts", {"ids": _bigint_array_text(known)}) if known else []
        return {row["id"]: JobAttempt(**row) for row in rows}


class StatsRepository(_Repository):
    """The read-only numbers behind `videoctl stats`."""

    def collect(self, hours: int = 24) -> dict[str, Any]:
        oldest = _one(self.conn, "stats_oldest_active", {})
        encode = _one(self.conn, "stats_encode_time", {"hours": hours})
        return {
            "by_state": {r["state"]: r["jobs"] for r in _all(self.conn, "stats_by_state", {})},
            "oldest_active": oldest,
            "failure_reasons": _all(self.conn, "stats_failure_reasons", {"hours": hours}),
            "hourly": _all(self.conn, "stats_hourly", {"hours": hours}),
            "mean_encode_s": float(encode["mean_s"]) if encode["mean_s"] is not None else None,
            "encodes": encode["jobs"],
            "hours": hours,
        }


class UsageRepository(_Repository):
    """What each attempt held and for how long (job_attempt_usage): the cost's raw numbers."""

    def record(self, job: Job, *, capacity: str, executor_job_id: str | None, vcpus: float, memory_mib: int,
               runtime_s: float, source_duration_s: float | None = None, hd_renditions: int = 0,
               sd_renditions: int = 0) -> bool:
        """The runner's measurement of its attempt; False if it was recorded already."""
        row = _one(self.conn, "record_attempt_usage", {
            "job_id": job.id, "attempt": job.attempt, "capacity": capacity, "executor_job_id": executor_job_id,
            "vcpus": vcpus, "memory_mib": memory_mib, "runtime_s": runtime_s,
            "source_duration_s": source_duration_s, "hd_renditions": hd_renditions,
            "sd_renditions": sd_renditions})
        return row is not None

    def unconfirmed(self, *, settled_s: float, limit: int) -> list[dict[str, Any]]:
        """Batch attempts (job_id, attempt, executor_job_id) whose usage Batch has not confirmed."""
        return _all(self.conn, "usage_unconfirmed", {"settled_s": settled_s, "limit": limit})

    def confirm(self, job_id: int, attempt: int, *, capacity: str, vcpus: float, memory_mib: int,
                runtime_s: float) -> None:
        """The executor's word on the attempt's usage replaces the runner's."""
        _one(self.conn, "confirm_usage", {"job_id": job_id, "attempt": attempt, "capacity": capacity,
                                          "vcpus": vcpus, "memory_mib": memory_mib, "runtime_s": runtime_s})

    def of_jobs(self, job_ids: list[int]) -> dict[int, list[Usage]]:
        """job id → the usage of each of its attempts that recorded one."""
        known = [i for i in job_ids if _known_id(i)]
        found: dict[int, list[Usage]] = {}
        for row in _all(self.conn, "usage_of_jobs", {"job_ids": known}) if known else []:
            found.setdefault(row["job_id"], []).append(
                Usage(row["capacity"], row["vcpus"], row["memory_mib"], row["runtime_s"]))
        return found

    def by_day(self, hours: int) -> list[dict[str, Any]]:
        return _all(self.conn, "stats_usage_by_day", {"hours": hours})


class DeleteRequestRepository(_Repository):
    """Prefixes waiting for the delete-r2 path."""

    def add(self, prefix: str, reason: str, video_id: int | None) -> DeleteRequest:
        return DeleteRequest.from_row(_one(self.conn, "insert_delete_request",
                                           {"prefix": prefix, "reason": reason, "video_id": video_id}))

    def pending(self, limit: int = 100) -> list[DeleteRequest]:
        """Pending requests, locked until the transaction ends (concurrent drains skip them)."""
        return [DeleteRequest.from_row(r) for r in _all(self.conn, "pending_delete_requests", {"limit": limit})]

    def get(self, request_id: int) -> DeleteRequest:
        row = _one(self.conn, "get_delete_request", {"id": request_id})
        if row is None:
            raise NotFound(f"delete request {request_id} not found",
                           hint="list pending requests with `videoctl r2 pending`")
        return DeleteRequest.from_row(row)

    def mark_sent(self, request_id: int) -> None:
        _one(self.conn, "mark_delete_request_sent", {"id": request_id})

    def discard(self, request_id: int, reason: str) -> DeleteRequest:
        """Stop trying a pending request; refused, saying why, for one that is not pending."""
        if not _known_id(request_id):
            raise NotFound(f"delete request {request_id} not found")
        row = _one(self.conn, "discard_delete_request", {"id": request_id, "reason": reason})
        if row is not None:
            return DeleteRequest.from_row(row)
        found = self.get(request_id)
        if found.sent_at is not None:
            raise InvalidState(f"delete request {request_id} ({found.prefix}) was already sent at "
                               f"{found.sent_at:%Y-%m-%d %H:%M:%S} UTC")
        raise InvalidState(f"delete request {request_id} ({found.prefix}) was already discarded: "
                           f"{found.discard_reason}")

    def list_pending(self, limit: int = 100) -> tuple[list[DeleteRequest], int]:
        """Up to *limit* pending requests, oldest first, without locking them; and how many are pending."""
        rows = _all(self.conn, "list_pending_delete_requests", {"limit": limit})
        total = rows[0]["total"] if rows else 0
        return [DeleteRequest.from_row(r) for r in rows], total

    def pending_covering(self, prefix: str) -> DeleteRequest | None:
        """A pending request that deletes *prefix* anyway: for it, or for a folder above it."""
        row = _one(self.conn, "pending_delete_covering", {"prefixes": covering_prefixes(prefix)})
        return DeleteRequest.from_row(row) if row else None


class EventRepository(_Repository):
    """The events waiting for their target, and the record of those sent (docs/events.md)."""

    def add(self, event: events.NewEvent) -> Event:
        """Record *event*; call it inside the transaction of the change it reports."""
        return record_event(self.conn, event)

    def next_pending(self, after_id: int) -> Event | None:
        """The oldest pending event after *after_id*, locked until the transaction ends
        (a concurrent drain skips it)."""
        row = _one(self.conn, "next_pending_event", {"after_id": after_id})
        return Event.from_row(row) if row else None

    def mark_delivered(self, event_id: int, *, target: str, receipt: str | None) -> None:
        _one(self.conn, "mark_event_delivered", {"id": event_id, "target": target, "receipt": receipt})

    def note_failure(self, event_id: int, error: str) -> None:
        _one(self.conn, "note_event_failure", {"id": event_id, "error": error[:2000]})

    def count_pending(self) -> int:
        return _one(self.conn, "count_pending_events", {})["pending"]

    def list(self, *, pending_only: bool = False, video_id: int | None = None, type: str | None = None,
             limit: int = 50) -> tuple[list[Event], int]:
        """Newest first, without locking; and how many match in all."""
        if not _known_id(video_id):
            return [], 0
        rows = _all(self.conn, "list_events", {"pending_only": pending_only, "video_id": video_id, "type": type,
                                                "limit": limit})
        return [Event.from_row(r) for r in rows], (rows[0]["total"] if rows else 0)

    def get(self, ref: int | str) -> Event:
        """By its number (``events list``'s first column) or its UUID."""
        row = _one(self.conn, "get_event", _event_ref(ref))
        if row is None:
            raise NotFound(f"event {ref} not found", hint="list events with `videoctl events list`")
        return Event.from_row(row)

    def discard(self, ref: int | str, reason: str) -> Event:
        """Stop trying a pending event; refused, saying why, for one that is not pending."""
        row = _one(self.conn, "discard_event", {**_event_ref(ref), "reason": reason})
        if row is not None:
            return Event.from_row(row)
        found = self.get(ref)
        if found.delivered_at is not None:
            raise InvalidState(f"event {found.id} ({found.type}) was already delivered at "
                               f"{found.delivered_at:%Y-%m-%d %H:%M:%S} UTC to {found.delivered_to}")
        raise InvalidState(f"event {found.id} ({found.type}) was already discarded: {found.discard_reason}")

    def prune(self, older_than_s: float, *, limit: int) -> int:
        """Delete up to *limit* delivered or discarded events older than the cut-off; how many went."""
        return len(_all(self.conn, "prune_events", {"older_than_s": older_than_s, "limit": limit}))

    def count_prunable(self, older_than_s: float) -> int:
        return _one(self.conn, "count_prunable_events", {"older_than_s": older_than_s})["events"]


def _event_ref(ref: int | str) -> dict[str, Any]:
    """Query parameters naming one event by its number or its UUID (the other left unmatched)."""
    if isinstance(ref, int):
        if not _known_id(ref):
            raise NotFound(f"event {ref} not found")
        return {"id": ref, "event_id": None}
    text = str(ref).strip()
    if text.isdigit():
        return _event_ref(int(text))
    try:
        return {"id": None, "event_id": UUID(text)}
    except ValueError:
        raise NotFound(f"event {ref!r} not found: give its number or its UUID",
                       hint="list events with `videoctl events list`") from None
