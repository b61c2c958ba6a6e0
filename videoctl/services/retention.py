"""Retention: finished job rows older than a cut-off are deleted, in small batches.

Each batch is its own short transaction that claims its rows FOR UPDATE SKIP LOCKED, so a
prune never holds locks for long and two prunes never wait on each other. What stays is
chosen in SQL (db/sql/jobs.sql, prunable_jobs): each video's last SUCCEEDED job and any job a
pending delete request still names. Video rows always stay.

Events hold no foreign key to the jobs they tell of (each carries its whole payload), so a
pending event never keeps a job row, and is still delivered whole after its job is pruned.
Delivered and discarded events older than the same cut-off go too; pending ones always stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from videoctl.domain.ranges import check_duration_s
from videoctl.domain.repositories import EventRepository, JobRepository
from videoctl.services.events import prune_events

BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    dry_run: bool
    older_than_s: float
    #: Deleted (or, with dry_run, that would be).
    jobs: int
    #: Delivered or discarded events deleted (or that would be).
    events: int = 0


def prune_jobs(jobs: JobRepository, *, older_than_s: float, dry_run: bool = False, batch: int = BATCH,
               on_batch: Callable[[int], None] | None = None, events: EventRepository | None = None) -> PruneResult:
    """Finished jobs (and, given *events*, delivered events) older than *older_than_s*."""
    check_duration_s(older_than_s, "older_than_s")
    pruned_events = 0
    if events is not None:
        pruned_events = events.count_prunable(older_than_s) if dry_run else \
            prune_events(events, older_than_s=older_than_s, batch=batch)
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
            return PruneResult(dry_run, older_than_s, count, pruned_events)
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
        pruned = self.prune()
        self._last = now  # only once it went through: a prune that failed is tried at the next pass
        return pruned
