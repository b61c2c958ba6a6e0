"""The job_chunk table (chunked encoding, #23): the chunks of chunked attempts, their tries
fenced by job, attempt and runner, and the job's fenced atomic counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from videoctl.db.queries import sql
from videoctl.db.reconnect import db_error
from videoctl.db.repositories._base import _all, _one, _Repository
from videoctl.db.repositories.jobs import JobRepository
from videoctl.domain.chunk_rules import ChunkCandidate
from videoctl.domain.chunks import PROGRESS_CHUNKS_FROM, PROGRESS_CHUNKS_TO, ChunkPlan
from videoctl.domain.errors import Fenced, InvalidState, NotFound
from videoctl.domain.models import Job, JobChunk
from videoctl.domain.sizing import ContainerSize
from videoctl.domain.states import JobState


class ChunkRepository(_Repository):
    """The chunks of chunked attempts (#23): job_chunk rows and the job's fenced counter."""

    def create(self, job: Job, plan: ChunkPlan, chunking: dict[str, Any]) -> Job:
        """The lead records the plan and one row per chunk, fenced on its claim of the attempt."""
        fps = plan.fps
        params = {"id": job.id, "attempt": job.attempt, "runner_id": job.runner_id, "count": plan.count,
                  "chunking": Jsonb(chunking), "idx": [chunk.index for chunk in plan.chunks],
                  "start_s": [float(chunk.start_s(fps)) for chunk in plan.chunks],
                  "duration_s": [None if chunk.frames is None else float(chunk.duration_s(fps)) for chunk in plan.chunks]}
        row = _one(self.conn, "create_chunks", params)
        if row is None:
            current = JobRepository(self.conn).get(job.id)
            if current.attempt == job.attempt and current.chunks is not None:
                raise InvalidState(f"job {job.id} attempt {job.attempt} is chunked already ({current.chunks} chunks)")
            JobRepository(self.conn)._explain_refusal(
                {"id": job.id, "attempt": job.attempt, "runner_id": job.runner_id, "from": ["RUNNING"]},
                "be cut into chunks")
        return Job.from_row(row)

    def finish_whole(self, job: Job, outputs: dict[str, Any]) -> Job:
        """The lead's whole-video outputs recorded on the job under its claim; the job as that left
        it (every chunk counted already: the lead keeps the claim and assembles). Replay-safe: a
        write that committed although its reply was lost is found as it left the job."""
        params = {"id": job.id, "attempt": job.attempt, "runner_id": job.runner_id, "whole": Jsonb(outputs)}
        row = _one(self.conn, "finish_whole", params)
        if row is not None:
            return Job.from_row(row)
        current = JobRepository(self.conn).get(job.id)
        if (current.attempt == job.attempt and current.runner_id == job.runner_id and current.chunking
                and "whole" in current.chunking):
            return current
        JobRepository(self.conn)._explain_refusal(
            {"id": job.id, "attempt": job.attempt, "runner_id": job.runner_id, "from": ["RUNNING"]},
            "record its whole-video outputs")
        raise AssertionError("unreachable")

    def of_attempt(self, job_id: int, attempt: int) -> list[JobChunk]:
        return [JobChunk.from_row(r) for r in _all(self.conn, "chunks_of_attempt", {"job_id": job_id, "attempt": attempt})]

    def of_attempts(self, attempts: Sequence[tuple[int, int]]) -> dict[tuple[int, int], list[JobChunk]]:
        """The chunks of each (job id, attempt), in index order, in one query; an attempt with none is absent."""
        found: dict[tuple[int, int], list[JobChunk]] = {}
        if not attempts:
            return found
        rows = _all(self.conn, "chunks_of_attempts", {"job_ids": [job_id for job_id, _ in attempts],
                                                      "attempts": [attempt for _, attempt in attempts]})
        for row in rows:
            found.setdefault((row["job_id"], row["attempt"]), []).append(JobChunk.from_row(row))
        return found

    def get(self, job_id: int, attempt: int, index: int) -> JobChunk:
        row = _one(self.conn, "get_chunk", {"job_id": job_id, "attempt": attempt, "idx": index})
        if row is None:
            raise NotFound(f"job {job_id} attempt {attempt} has no chunk {index}",
                           hint=f"see its chunks with `videoctl jobs show {job_id}`")
        return JobChunk.from_row(row)

    def mark_sent(self, chunk: JobChunk, executor_job_id: str, size: ContainerSize | None = None) -> JobChunk | None:
        """The container that runs this try, and the size it asked for; None if the try moved on
        or its container is known already."""
        row = _one(self.conn, "mark_chunk_sent", {"job_id": chunk.job_id, "attempt": chunk.attempt,
                                                  "idx": chunk.idx, "tries": chunk.tries,
                                                  "executor_job_id": executor_job_id,
                                                  "size_vcpus": size.vcpus if size else None,
                                                  "size_memory_mib": size.memory_mib if size else None})
        return JobChunk.from_row(row) if row else None

    def reserve_pending(self, job_id: int, attempt: int) -> JobChunk | None:
        """The next chunk nobody has started, reserved for the caller to start; None when none is left."""
        row = _one(self.conn, "reserve_pending_chunk", {"job_id": job_id, "attempt": attempt})
        return JobChunk.from_row(row) if row else None

    def claim(self, job_id: int, attempt: int, index: int, runner_id: str, *, batch_job_id: str | None) -> JobChunk:
        """This runner's claim on the chunk's try; Fenced (or NotFound) saying why not."""
        row = _one(self.conn, "claim_chunk", {"job_id": job_id, "attempt": attempt, "idx": index,
                                              "runner_id": runner_id, "batch_job_id": batch_job_id})
        if row is not None:
            return JobChunk.from_row(row)
        self._explain(job_id, attempt, index, "be claimed", runner_id=None, batch_job_id=batch_job_id)
        raise AssertionError("unreachable")

    def heartbeat(self, chunk: JobChunk, progress: int) -> int:
        row = _one(self.conn, "chunk_heartbeat", {"job_id": chunk.job_id, "attempt": chunk.attempt,
                                                  "idx": chunk.idx, "runner_id": chunk.runner_id,
                                                  "progress": max(0, min(100, int(progress)))})
        if row is None:
            self._explain(chunk.job_id, chunk.attempt, chunk.idx, "report progress", runner_id=chunk.runner_id)
        return row["progress"]

    def finish(self, chunk: JobChunk, result: dict[str, Any]) -> Job:
        """The chunk SUCCEEDED and counted, atomically; the job as the count left it. When
        ``chunks_done`` reached ``chunks``, this runner holds the job's claim: it assembles."""
        row = _one(self.conn, "finish_chunk", {"job_id": chunk.job_id, "attempt": chunk.attempt, "idx": chunk.idx,
                                               "runner_id": chunk.runner_id, "result": Jsonb(result),
                                               "progress_from": PROGRESS_CHUNKS_FROM, "progress_to": PROGRESS_CHUNKS_TO})
        if row is None:
            self._explain(chunk.job_id, chunk.attempt, chunk.idx, "succeed", runner_id=chunk.runner_id)
        return Job.from_row(row)

    def fail(self, chunk: JobChunk, *, error_code: str, error_message: str, runner_id: str | None) -> JobChunk:
        """A failed try; runner_id None when scan-stuck decides it."""
        row = _one(self.conn, "fail_chunk", {"job_id": chunk.job_id, "attempt": chunk.attempt, "idx": chunk.idx,
                                             "tries": chunk.tries, "runner_id": runner_id, "error_code": error_code,
                                             "error_message": error_message[:2000]})
        if row is None:
            self._explain(chunk.job_id, chunk.attempt, chunk.idx, "fail", runner_id=runner_id)
        return JobChunk.from_row(row)

    def stuck(self, *, limit: int, lock: bool) -> list[ChunkCandidate]:
        """The chunks scan-stuck's rules look at; with lock=True claimed until the transaction ends."""
        name = "claim_stuck_chunks" if lock else "stuck_chunks"
        try:
            return [ChunkCandidate(*row) for row in
                    self.conn.cursor(row_factory=tuple_row).execute(sql(name), {"limit": limit}).fetchall()]
        except psycopg.Error as exc:
            raise db_error(name, exc) from exc

    def schedule_retry(self, chunk: JobChunk | ChunkCandidate, delay_s: float) -> JobChunk:
        return self._guarded("schedule_chunk_retry", chunk, "wait for its retry", delay_s=delay_s)

    def begin_try(self, chunk: JobChunk | ChunkCandidate) -> JobChunk:
        """The chunk's next try, begun (try N → N + 1): only one caller wins it."""
        return self._guarded("begin_chunk_try", chunk, "begin another try")

    def reserve(self, chunk: JobChunk | ChunkCandidate) -> JobChunk:
        """A try begun and never sent, taken for sending now."""
        return self._guarded("reserve_chunk", chunk, "be sent")

    def _guarded(self, query: str, chunk: JobChunk | ChunkCandidate, intent: str, **params: Any) -> JobChunk:
        row = _one(self.conn, query, {"job_id": chunk.job_id, "attempt": chunk.attempt, "idx": chunk.idx,
                                      "tries": chunk.tries, **params})
        if row is None:
            current = self.get(chunk.job_id, chunk.attempt, chunk.idx)
            if current.tries != chunk.tries:
                raise Fenced(f"chunk {chunk.idx} of job {chunk.job_id} is on try {current.tries}, not {chunk.tries}")
            raise InvalidState(f"chunk {chunk.idx} of job {chunk.job_id} is {current.state}; it cannot {intent}")
        return JobChunk.from_row(row)

    def _explain(self, job_id: int, attempt: int, index: int, intent: str, *, runner_id: str | None,
                 batch_job_id: str | None = None) -> None:
        """Why a chunk's write matched no row: always raises."""
        job = JobRepository(self.conn).get(job_id)
        if job.attempt != attempt:
            raise Fenced(f"job {job_id} is on attempt {job.attempt}, not {attempt}: chunk {index} of attempt "
                         f"{attempt} is abandoned")
        if job.state is not JobState.RUNNING:
            raise Fenced(f"job {job_id} is {job.state}: its chunk {index} cannot {intent}")
        chunk = self.get(job_id, attempt, index)
        if runner_id is not None and chunk.runner_id != runner_id:
            raise Fenced(f"chunk {index} of job {job_id} attempt {attempt} is held by runner {chunk.runner_id}")
        if batch_job_id is not None and chunk.executor_job_id not in (None, batch_job_id):
            raise Fenced(f"chunk {index} of job {job_id} attempt {attempt} was sent as executor job "
                         f"{chunk.executor_job_id}, not {batch_job_id}")
        raise InvalidState(f"chunk {index} of job {job_id} attempt {attempt} is {chunk.state}; it cannot {intent}")
