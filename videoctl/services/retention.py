"""Retention: finished job rows older than a cut-off are deleted, in small batches.

Each batch is its own short transaction that claims its rows FOR UPDATE SKIP LOCKED, so a
prune never holds locks for long and two prunes never wait on each other. What stays is
chosen in SQL (queries.sql, prunable_jobs): each video's last SUCCEEDED job and any job a
pending delete request still names. Video rows always stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from videoctl.db.repositories import JobRepository

BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    dry_run: bool
    older_than_s: float
    #: Deleted (or, with dry_run, that would be).
    jobs: int


def prune_jobs(jobs: JobRepository, *, older_than_s: float, dry_run: bool = False, batch: int = BATCH,
               on_batch: Callable[[int], None] | None = None) -> PruneResult:
    count, after_id = 0, 0
    while True:
        if dry_run:
            ids = jobs.prunable(older_than_s, after_id=after_id, limit=batch, lock=False)
        else:
            with jobs.transaction():
                ids = jobs.prunable(older_than_s, after_id=after_id, limit=batch, lock=True)
                if ids:
                    jobs.delete(ids)
        if not ids:
            return PruneResult(dry_run, older_than_s, count)
        count += len(ids)
        after_id = ids[-1]
        if on_batch:
            on_batch(count)


class DailyPrune:
    """What `scan-stuck --loop` runs after a pass: a prune at most once a day."""

    def __init__(self, prune: Callable[[], PruneResult], *, clock: Callable[[], float],
                 every_s: float = 86_400) -> None:
        self.prune, self.clock, self.every_s = prune, clock, every_s
        self._last: float | None = None

    def __call__(self) -> PruneResult | None:
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return None
        self._last = now
        return self.prune()
