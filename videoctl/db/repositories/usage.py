"""The job_attempt_usage table: what each container of each attempt held, and for how long."""

from __future__ import annotations

from typing import Any

from videoctl.db.repositories._base import _all, _known_id, _one, _Repository
from videoctl.domain.cost import Usage
from videoctl.domain.models import Job, JobChunk


class UsageRepository(_Repository):
    """What each container of each attempt held and for how long (job_attempt_usage): the cost's
    raw numbers. A chunked attempt has a row for its lead and one for each try of each chunk."""

    def record(self, job: Job, *, capacity: str, executor_job_id: str | None, vcpus: float, memory_mib: int,
               runtime_s: float, source_duration_s: float | None = None, hd_renditions: int = 0,
               sd_renditions: int = 0, chunk: JobChunk | None = None) -> bool:
        """The runner's measurement of its container (the attempt's own, or ``chunk``'s try);
        False if it was recorded already."""
        row = _one(self.conn, "record_attempt_usage", {
            "job_id": job.id, "attempt": job.attempt if chunk is None else chunk.attempt,
            "chunk": chunk.idx if chunk else None, "chunk_try": chunk.tries if chunk else None,
            "capacity": capacity, "executor_job_id": executor_job_id,
            "vcpus": vcpus, "memory_mib": memory_mib, "runtime_s": runtime_s,
            "source_duration_s": source_duration_s, "hd_renditions": hd_renditions,
            "sd_renditions": sd_renditions})
        return row is not None

    def unconfirmed(self, *, settled_s: float, limit: int) -> list[dict[str, Any]]:
        """Batch containers (job_id, attempt, chunk and chunk_try — None for the attempt's own —,
        executor_job_id) whose usage Batch has not confirmed."""
        return _all(self.conn, "usage_unconfirmed", {"settled_s": settled_s, "limit": limit})

    def confirm(self, job_id: int, attempt: int, *, capacity: str, vcpus: float, memory_mib: int,
                runtime_s: float, chunk: int | None = None, chunk_try: int | None = None) -> None:
        """The executor's word on a container's usage (the attempt's own, or a chunk's try)
        replaces the runner's."""
        _one(self.conn, "confirm_usage", {"job_id": job_id, "attempt": attempt, "chunk": chunk,
                                          "chunk_try": chunk_try, "capacity": capacity, "vcpus": vcpus,
                                          "memory_mib": memory_mib, "runtime_s": runtime_s})

    def of_jobs(self, job_ids: list[int]) -> dict[int, list[Usage]]:
        """job id → the usage of each container of its attempts that recorded one."""
        known = [i for i in job_ids if _known_id(i)]
        found: dict[int, list[Usage]] = {}
        for row in _all(self.conn, "usage_of_jobs", {"job_ids": known}) if known else []:
            found.setdefault(row["job_id"], []).append(
                Usage(row["capacity"], row["vcpus"], row["memory_mib"], row["runtime_s"], row["attempt"],
                      row["chunk"]))
        return found

    def by_day(self, hours: int) -> list[dict[str, Any]]:
        return _all(self.conn, "stats_usage_by_day", {"hours": hours})
