"""The video_transcode_job table: the jobs, their guarded transitions, and the numbers of `stats`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from videoctl.db.queries import sql
from videoctl.db.reconnect import db_error
from videoctl.db.repositories._base import _all, _bigint_array_text, _known_id, _one, _Repository
from videoctl.db.repositories.events import record_event
from videoctl.db.repositories.videos import VideoRepository
from videoctl.domain import events
from videoctl.domain.errors import Fenced, InvalidState, NotFound
from videoctl.domain.models import Job
from videoctl.domain.reconcile import JobAttempt
from videoctl.domain.scan import Candidate
from videoctl.domain.selection import JobFilter
from videoctl.domain.sizing import ContainerSize, SourceFacts
from videoctl.domain.states import ATTEMPT_BEGINS_FROM, JobState, sources_of, video_deleted


def _candidate_rows(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], Candidate]:
    """Row factory: each row straight into a Candidate, checked once per query."""
    if tuple(column.name for column in cursor.description or ()) != Candidate._fields:
        raise AssertionError("stuck_jobs must select Candidate's columns in its order")
    return Candidate._make


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
        """Ids of finished jobs retention may delete (see sql/jobs.sql); with lock=True claimed
        until the transaction ends, skipping rows another pruner holds."""
        name = "claim_prunable_jobs" if lock else "prunable_jobs"
        params = {"older_than_s": older_than_s, "after_id": after_id, "limit": limit}
        try:
            return [row[0] for row in self.conn.cursor(row_factory=tuple_row).execute(sql(name), params)]
        except psycopg.Error as exc:
            raise db_error(name, exc) from exc

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
        name = "claim_stuck_jobs" if lock else "stuck_jobs"
        params = {"queued_after_s": queued_after_s, "stale_after_s": stale_after_s,
                  "flagged_ids": _bigint_array_text(flagged_ids), "limit": limit}
        try:
            cursor = self.conn.cursor(row_factory=_candidate_rows, binary=True).execute(sql(name), params)
            return cursor.fetchall()
        except psycopg.Error as exc:
            raise db_error(name, exc) from exc

    def now(self) -> datetime:
        return _one(self.conn, "db_now", {})["now"]

    def close(self) -> None:
        """Close the connection under this repository: for one opened for it alone (the heartbeat's)."""
        self.conn.close()

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

    def chunk_executor_ids(self, job: Job | Candidate) -> list[str]:
        """The containers the job's current attempt sent its chunks to (none for one pass)."""
        return [row["executor_job_id"] for row in _all(self.conn, "chunk_executor_ids",
                                                        {"job_id": job.id, "attempt": job.attempt})]

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
