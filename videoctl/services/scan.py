"""scan-stuck: the only thing that decides whether a job runs again.

One pass:

0. ask the executor about every job that has a container out there
   (DescribeJobs, at most 100 ids a call) — before any row is locked;
1. in one transaction, claim the candidate rows FOR UPDATE SKIP LOCKED (a
   concurrent scanner skips them) and apply each rule's decision with
   guarded transitions, one savepoint per job; attempts to be resubmitted
   are begun here, so no other scanner can begin them again;
2. after commit, send each begun attempt (SubmitJob, or a local process);
3. then, for an attempt begun earlier but never marked SUBMITTED, ask the
   executor for its container by name (a network call, so outside the row
   lock): adopt it if found, else begin and send the next attempt. Guarded
   transitions let one scanner win; the others skip it.

``--dry-run`` runs step 0 and the decisions, and changes nothing.

That is the ``jobs`` task of a pass; the pass runs it with the other maintenance tasks
(uploads, usage, deletions, events, prune), each on its own (services/maintenance.py), and
:func:`scan_loop` repeats passes through any outage.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypedDict

from videoctl.domain import keys
from videoctl.domain.chunk_rules import ChunkAction, ChunkCandidate, ChunkDecision, after_chunk_failure, decide_chunk
from videoctl.domain.errors import ConfigError, Fenced, InvalidState, VideoctlError
from videoctl.domain.executor import Executor, Remote
from videoctl.domain.models import Job, JobChunk
from videoctl.domain.ranges import check_duration_s
from videoctl.domain.repositories import (
    ChunkRepository,
    DeleteRequestRepository,
    JobRepository,
    UsageRepository,
    VideoRepository,
)
from videoctl.domain.retry import RetryPolicy
from videoctl.domain.scan import Action, Candidate, Decision, Thresholds, after_failure, decide
from videoctl.domain.sizing import chunk_size
from videoctl.services.cost import confirm_usage
from videoctl.services.events import EventDrainResult
from videoctl.services.maintenance import MaintenanceTask, TaskDocument, TaskOutcome, as_error, run_tasks
from videoctl.services.r2_delete import DrainResult
from videoctl.services.submit import adopt_or_send_next, send_attempt
from videoctl.services.uploads import UploadItem, expire_uploads, submit_waiting
from videoctl.settings import Settings
from videoctl.storage import ObjectStore, scratch

log = logging.getLogger(__name__)

#: Executor statuses worth a row lock: anything but "it is running fine".
_FLAG = frozenset({"FAILED", "MISSING", "SUCCEEDED", "RUNNABLE"})


@dataclass(slots=True)
class ScanItem:
    job_id: int
    video_id: int
    state: str
    attempt: int
    age_s: float
    rule: str
    action: Action | ChunkAction
    reason: str
    outcome: str = "planned"  # planned | done | skipped | error
    error: str | None = None
    #: The chunk of a chunked attempt this is about (its state is the chunk's); None: the job.
    chunk: int | None = None


class ScanSummary(TypedDict):
    found: int
    resubmitted: int
    adopted: int
    retry_scheduled: int
    dead: int
    failed_attempts: int
    reported: int
    deletions_sent: int
    #: Direct uploads given up (FAILED upload_expired) and videos auto-submitted late.
    uploads_expired: int
    auto_submitted: int
    #: Batch attempts whose usage (runtime, vCPUs, memory) Batch confirmed, for their cost.
    usage_confirmed: int
    #: Events delivered after the pass, and those still pending (no target, or it failed).
    events_sent: int
    events_pending: int
    #: Finished job rows deleted by the daily retention prune after this pass (--loop only).
    pruned: int
    #: Chunks of long videos: tries that failed, retries scheduled, chunks sent alone.
    chunk_tries_failed: int
    chunk_retries_scheduled: int
    chunks_sent: int
    #: Maintenance tasks of the pass that failed (each is in ``tasks`` with its error).
    tasks_failed: int
    errors: int


class ScanDocument(TypedDict):
    """What `scan-stuck --json` prints for a pass."""

    dry_run: bool
    summary: ScanSummary
    items: list[ScanItem]
    uploads: list[UploadItem]
    deletion_errors: list[str]
    event_errors: list[str]
    #: Each maintenance task of the pass (jobs, uploads, usage, deletions, events, prune) and
    #: whether it was done; one that failed did not stop the others.
    tasks: list[TaskDocument]


@dataclass
class ScanReport:
    items: list[ScanItem] = field(default_factory=list)
    dry_run: bool = False
    #: Pending prefix deletions sent (or, locally, deleted) after the pass, and failures.
    deletions_sent: int = 0
    deletion_errors: list[str] = field(default_factory=list)
    #: Events delivered after the pass, still pending, and delivery failures.
    events_sent: int = 0
    events_pending: int = 0
    event_errors: list[str] = field(default_factory=list)
    pruned: int = 0
    #: Expired uploads and late auto-submits (services/uploads.py).
    uploads: list[UploadItem] = field(default_factory=list)
    usage_confirmed: int = 0
    #: The maintenance tasks the pass ran, each with its outcome.
    tasks: list[TaskOutcome] = field(default_factory=list)

    @property
    def tasks_failed(self) -> int:
        return sum(1 for t in self.tasks if t.status == "failed")

    def count(self, action: Action | ChunkAction, outcome: str = "done") -> int:
        return sum(1 for i in self.items if i.action == action and i.outcome == outcome)

    @property
    def errors(self) -> int:
        failed = sum(1 for i in self.items if i.outcome == "error") + len(self.deletion_errors) + len(self.event_errors)
        return failed + sum(1 for u in self.uploads if u.outcome == "error") + self.tasks_failed

    def _uploads(self, action: str) -> int:
        return sum(1 for u in self.uploads if u.action == action and u.outcome == "done")

    def summary(self) -> ScanSummary:
        return {
            "found": len(self.items),
            "resubmitted": self.count(Action.SUBMIT),
            "adopted": self.count(Action.ADOPT),
            "retry_scheduled": self.count(Action.RETRY),
            "dead": self.count(Action.DEAD),
            "failed_attempts": self.count(Action.FAIL_ATTEMPT),
            "reported": sum(1 for i in self.items if i.action is Action.REPORT),
            "deletions_sent": self.deletions_sent,
            "uploads_expired": self._uploads("expire"),
            "auto_submitted": self._uploads("submit"),
            "usage_confirmed": self.usage_confirmed,
            "events_sent": self.events_sent,
            "events_pending": self.events_pending,
            "pruned": self.pruned,
            "chunk_tries_failed": self.count(ChunkAction.FAIL_TRY),
            "chunk_retries_scheduled": self.count(ChunkAction.RETRY),
            "chunks_sent": self.count(ChunkAction.SEND),
            "tasks_failed": self.tasks_failed,
            "errors": self.errors,
        }

    def to_dict(self) -> ScanDocument:
        return {"dry_run": self.dry_run, "summary": self.summary(), "items": self.items,
                "uploads": self.uploads, "deletion_errors": self.deletion_errors, "event_errors": self.event_errors,
                "tasks": [t.to_dict() for t in self.tasks]}


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(settings.stale_after_s, settings.unknown_after_s, settings.runnable_after_s,
                      settings.queued_after_s)


def policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.backoff_base_s, settings.backoff_cap_s, settings.max_attempts)


def remote_statuses(jobs: JobRepository, executor: Executor) -> dict[int, Remote | None]:
    """job id → what the executor says of its current container (None: unknown to it)."""
    on_executors = jobs.on_executors()
    described = executor.describe([executor_id for _, executor_id in on_executors])
    return {job_id: described.get(executor_id) for job_id, executor_id in on_executors}


def _flagged(remotes: dict[int, Remote | None]) -> list[int]:
    return [job_id for job_id, remote in remotes.items() if remote is None or remote.status in _FLAG]


def _item(job: Candidate, decision: Decision, now: datetime) -> ScanItem:
    age = (now - job.updated_at).total_seconds()
    return ScanItem(job.id, job.video_id, job.state, job.attempt, round(age, 1),
                    decision.rule, decision.action, decision.reason)


def scan_pass(*, jobs: JobRepository, videos: VideoRepository, executor: Executor, settings: Settings,
              limit: int = 1000, dry_run: bool = False, rand: Callable[[], float] = random.random,
              sleep: Callable[[float], None] = time.sleep, chunks: ChunkRepository | None = None) -> ScanReport:
    """One pass over the jobs; then, with ``chunks``, over the chunks of running chunked attempts."""
    report = ScanReport(dry_run=dry_run)
    remotes = remote_statuses(jobs, executor)
    limits, retry_policy = thresholds(settings), policy(settings)
    query = {"queued_after_s": settings.queued_after_s, "stale_after_s": settings.stale_after_s,
             "flagged_ids": _flagged(remotes), "limit": limit}
    if dry_run:
        now = jobs.now()
        for job in jobs.stuck(**query, lock=False):
            decision = decide(job, remotes.get(job.id), now, limits, retry_policy, rand)
            if decision is not None:
                report.items.append(_item(job, decision, now))
        if chunks is not None:
            scan_chunks(report, jobs=jobs, videos=videos, chunks=chunks, executor=executor, settings=settings,
                        limit=limit, rand=rand, sleep=sleep)
        return report

    to_send: list[tuple[Job, ScanItem]] = []
    to_look_up: list[tuple[Candidate, ScanItem]] = []
    to_stop: list[tuple[str, str]] = []
    to_stop_chunks: list[tuple[list[str], str]] = []
    with jobs.transaction():
        now = jobs.now()
        for job in jobs.stuck(**query, lock=True):
            decision = decide(job, remotes.get(job.id), now, limits, retry_policy, rand)
            if decision is None:
                continue
            item = _item(job, decision, now)
            report.items.append(item)
            if decision.action is Action.SUBMIT and job.begun_unsent:
                to_look_up.append((job, item))  # a network call: not under the row lock
                continue
            try:
                with jobs.transaction():  # a savepoint: one job's error spares the rest
                    begun = _apply(job, decision, item, jobs=jobs, videos=videos, policy=retry_policy,
                                   rand=rand)
            except VideoctlError as exc:
                item.outcome, item.error = "error", exc.message
                continue
            if begun is not None:
                to_send.append((begun, item))
            if decision.rule == "stale_heartbeat" and job.executor_job_id:
                to_stop.append((job.executor_job_id, decision.reason))
            if decision.action is Action.FAIL_ATTEMPT:
                to_stop_chunks.append((jobs.chunk_executor_ids(job), decision.reason))

    _cancel_quiet(executor, to_stop)
    _stop_chunks(executor, to_stop_chunks)
    for begun, item in to_send:
        try:
            send_attempt(begun, jobs=jobs, executor=executor, sleep=sleep)
            item.outcome = "done"
        except VideoctlError as exc:
            item.outcome, item.error = "error", exc.message
    for job, item in to_look_up:
        try:
            sent, adopted = adopt_or_send_next(job, jobs=jobs, executor=executor, sleep=sleep)
        except (InvalidState, Fenced):  # the row moved on since our commit: a concurrent scanner
            item.outcome = "skipped"
            item.reason += "; another scanner acted on it first"
            continue
        except VideoctlError as exc:
            item.outcome, item.error = "error", exc.message
            continue
        item.outcome = "done"
        if adopted:
            item.action = Action.ADOPT
            item.reason += f"; its container {sent.executor_job_id} was found and adopted"
    if chunks is not None:
        scan_chunks(report, jobs=jobs, videos=videos, chunks=chunks, executor=executor, settings=settings,
                    limit=limit, rand=rand, sleep=sleep)
    if executor.kind == "local":
        # Local run-jobs share this machine's scratch folder: reclaim what killed ones left.
        scratch.reclaim(settings.scratch_dir)
    return report


def _apply(job: Candidate, decision: Decision, item: ScanItem, *, jobs: JobRepository, videos: VideoRepository,
           policy: RetryPolicy, rand) -> Job | None:
    """Carry out one decision; returns the begun attempt when it is to be sent."""
    if decision.action is Action.REPORT:
        item.outcome = "done"
        return None
    if decision.action is Action.SUBMIT:
        return jobs.begin_attempt(job)
    if decision.action is Action.FAIL_ATTEMPT:
        job = jobs.fail(job, error_code=decision.error_code or "failed", error_message=decision.reason,
                        runner_id=None)
        follow = after_failure(job, job.error_code, policy, rand)
        item.reason += f"; {follow.reason}"
        _settle(job, follow, jobs=jobs, videos=videos)
    else:
        _settle(job, decision, jobs=jobs, videos=videos)
    item.outcome = "done"
    return None


def _settle(job: Candidate | Job, decision: Decision, *, jobs: JobRepository, videos: VideoRepository) -> None:
    if decision.action is Action.RETRY:
        jobs.schedule_retry(job, decision.delay_s)
    elif decision.action is Action.DEAD:
        dead = jobs.mark_dead(job)
        # The video has no ladder coming; a READY one keeps the ladder it has.
        videos.mark_failed(dead.video_id, error_code=dead.error_code or "dead", error_message=dead.error_message,
                           job_id=dead.id)
    else:
        raise InvalidState(f"unexpected decision {decision.action} for a failed job")


class PassDeps(Protocol):
    """What a pass uses. Each is read when the task that needs it runs, so a database that is
    away when the pass starts fails the tasks that need it, not the pass."""

    @property
    def settings(self) -> Settings: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def videos(self) -> VideoRepository: ...
    @property
    def executor(self) -> Executor: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def delete_requests(self) -> DeleteRequestRepository: ...
    @property
    def usage(self) -> UsageRepository: ...
    @property
    def chunks(self) -> ChunkRepository: ...

    def drain_deletions(self, limit: int = 100) -> DrainResult: ...

    def drain_events(self, limit: int = 100) -> EventDrainResult: ...

    def db_ready(self) -> None:
        """Open the database connection again if the server dropped it."""

    def cancel_statement(self) -> None:
        """Cancel the database statement in flight (from another thread)."""


#: How long each task's database work may take; generous, for a stuck lock or a hung server.
JOBS_TIMEOUT_S = 300.0
TASK_TIMEOUT_S = 120.0


def _jobs(deps: PassDeps, report: ScanReport, *, limit: int, dry_run: bool) -> None:
    found = scan_pass(jobs=deps.jobs, videos=deps.videos, executor=deps.executor, settings=deps.settings,
                      limit=limit, dry_run=dry_run, chunks=deps.chunks)
    report.items = found.items


def _uploads(deps: PassDeps, report: ScanReport, *, limit: int, dry_run: bool) -> None:
    report.uploads = expire_uploads(videos=deps.videos, delete_requests=deps.delete_requests, store=deps.store,
                                    settings=deps.settings, dry_run=dry_run, limit=limit)
    report.uploads += submit_waiting(videos=deps.videos, jobs=deps.jobs, executor=deps.executor,
                                     settings=deps.settings, dry_run=dry_run, limit=limit)


def _usage(deps: PassDeps, report: ScanReport) -> None:
    report.usage_confirmed = confirm_usage(deps.usage, deps.executor, deps.settings)


def _deletions(deps: PassDeps, report: ScanReport) -> None:
    drained = deps.drain_deletions()
    report.deletions_sent = drained.sent
    report.deletion_errors = [f"request {f.request_id} ({f.prefix}): {f.error.code}: {f.error.message}"
                              for f in drained.failures]


def _events(deps: PassDeps, report: ScanReport) -> None:
    sent = deps.drain_events()
    report.events_sent, report.events_pending = sent.sent, sent.pending
    report.event_errors = [f"event {f.event.id} ({f.event.type}): {f.error.code}: {f.error.message}"
                           for f in sent.failures]


def maintenance_tasks(deps: PassDeps, *, limit: int, dry_run: bool,
                      prune: Callable[[], int] | None = None) -> list[MaintenanceTask[ScanReport]]:
    """The tasks of a pass, in order: stuck jobs first (the retry decisions), then the direct
    uploads (expired ones given up, auto-submits that did not happen made), then what only a
    real pass does: Batch usage confirmed, the prefix deletions and the events that could not
    be sent when they were recorded (or were just recorded), and, in a loop, the daily prune.
    With no event target the events stay pending, counted."""
    tasks = [
        MaintenanceTask("jobs", lambda r: _jobs(deps, r, limit=limit, dry_run=dry_run), JOBS_TIMEOUT_S),
        MaintenanceTask("uploads", lambda r: _uploads(deps, r, limit=limit, dry_run=dry_run), TASK_TIMEOUT_S),
    ]
    if dry_run:
        return tasks
    tasks += [
        MaintenanceTask("usage", lambda r: _usage(deps, r), TASK_TIMEOUT_S),
        MaintenanceTask("deletions", lambda r: _deletions(deps, r), TASK_TIMEOUT_S),
        MaintenanceTask("events", lambda r: _events(deps, r), TASK_TIMEOUT_S),
    ]
    if prune is not None:
        def pruned(report: ScanReport) -> None:
            report.pruned = prune()

        tasks.append(MaintenanceTask("prune", pruned, JOBS_TIMEOUT_S))
    return tasks


def scan_and_maintain(deps: PassDeps, *, limit: int, dry_run: bool,
                      prune: Callable[[], int] | None = None) -> ScanReport:
    """A pass: every maintenance task, each on its own (services/maintenance.py)."""
    report = ScanReport(dry_run=dry_run)
    report.tasks = run_tasks(maintenance_tasks(deps, limit=limit, dry_run=dry_run, prune=prune), report,
                             prepare=deps.db_ready, cancel=deps.cancel_statement)
    return report


@dataclass(frozen=True)
class LoopSummary:
    passes: int
    errors: int


#: After a pass that failed, the next comes this soon, then twice as late each time, up to the interval.
FIRST_RETRY_S = 1.0


def next_pass_in(interval_s: float, failed_in_a_row: int, rand: Callable[[], float] = random.random) -> float:
    """The wait before the next pass: the interval, or after failed passes a jittered backoff
    that grows from FIRST_RETRY_S up to the interval (a database back from a restart is used
    again within seconds; one that stays away is not hammered)."""
    if failed_in_a_row == 0:
        return interval_s
    backoff = min(interval_s, FIRST_RETRY_S * 2 ** (failed_in_a_row - 1))
    return backoff * (0.5 + rand() / 2)


def scan_loop(one_pass: Callable[[], ScanReport], interval_s: float,
              on_pass: Callable[[int, ScanReport], None], *,
              rand: Callable[[], float] = random.random) -> LoopSummary:
    """Passes every *interval_s* until SIGTERM or SIGINT; a pass in progress always finishes
    first, so a scanner stopped by its supervisor never leaves a begun attempt unsent.

    Nothing a pass meets ends the loop but a configuration mistake: a failed task is in its
    report, and a pass that could not run at all is reported as one failed task, ``pass``.
    After a pass with a failure the next comes sooner (:func:`next_pass_in`)."""
    check_duration_s(interval_s, "interval_s")
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    errors = passes = failed_in_a_row = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = one_pass()
            except ConfigError:
                raise  # no pass can go better until a human fixes the configuration
            except Exception as exc:  # noqa: BLE001 - the loop outlives whatever a pass meets
                error = as_error(exc)
                log.warning("scan-stuck: the pass failed: %s: %s", error.code, error.message)
                report = ScanReport(tasks=[TaskOutcome("pass", "failed", time.monotonic() - started, error)])
            passes += 1
            errors += report.errors
            failed_in_a_row = failed_in_a_row + 1 if report.tasks_failed else 0
            on_pass(passes, report)
            stop.wait(next_pass_in(interval_s, failed_in_a_row, rand))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return LoopSummary(passes, errors)


# ------------------------------------------------------------------ chunks of long videos (#23)


def _cancel_quiet(executor: Executor, to_stop: list[tuple[str, str]]) -> None:
    """A container gone quiet would only be fenced out; stop paying for it (best effort: the
    fence already holds)."""
    for executor_id, reason in to_stop:
        try:
            executor.cancel(executor_id, f"videoctl scan-stuck: {reason}")
        except VideoctlError:
            pass


def scan_chunks(report: ScanReport, *, jobs: JobRepository, videos: VideoRepository, chunks: ChunkRepository,
                executor: Executor, settings: Settings, limit: int, rand: Callable[[], float],
                sleep: Callable[[float], None]) -> None:
    """The chunks of running chunked attempts, each retried alone (domain.chunk_rules), as
    :func:`scan_pass` does for jobs: the executor asked first, the rows then claimed
    SKIP LOCKED and changed in one transaction, the sends made after it commits."""
    seen = chunks.stuck(limit=limit, lock=False)
    if not seen:
        return
    remotes = executor.describe(sorted({c.executor_job_id for c in seen if c.sent and c.executor_job_id}))
    slots = executor.chunk_slots()
    limits, retry_policy = thresholds(settings), policy(settings)

    def decide_all(rows: list[ChunkCandidate], now: datetime):
        sent = Counter((row.job_id, row.attempt) for row in rows if row.sent)
        for row in rows:
            remote = remotes.get(row.executor_job_id) if row.executor_job_id else None
            decision = decide_chunk(row, remote, now, limits, retry_policy, rand,
                                    sent_in_attempt=sent[(row.job_id, row.attempt)],
                                    slots=None if slots is None else len(slots))
            if decision is not None:
                if decision.action is ChunkAction.SEND and row.unsent:
                    sent[(row.job_id, row.attempt)] += 1  # it takes a slot of the local queue now
                yield row, decision

    if report.dry_run:
        now = jobs.now()
        report.items += [_chunk_item(row, decision, now) for row, decision in decide_all(seen, now)]
        return
    to_send: list[tuple[JobChunk, ChunkCandidate, ScanItem]] = []
    to_stop: list[tuple[str, str]] = []
    to_stop_chunks: list[tuple[list[str], str]] = []
    with jobs.transaction():
        now = jobs.now()
        for row, decision in list(decide_all(chunks.stuck(limit=limit, lock=True), now)):
            item = _chunk_item(row, decision, now)
            report.items.append(item)
            try:
                with jobs.transaction():  # a savepoint: one chunk's error spares the rest
                    begun = _apply_chunk(row, decision, item, jobs=jobs, videos=videos, chunks=chunks,
                                         policy=retry_policy, rand=rand, to_stop_chunks=to_stop_chunks)
            except VideoctlError as exc:
                item.outcome, item.error = "error", exc.message
                continue
            if begun is not None:
                to_send.append((begun, row, item))
            if decision.rule == "chunk_stale" and row.executor_job_id:
                to_stop.append((row.executor_job_id, decision.reason))
    _cancel_quiet(executor, to_stop)
    _stop_chunks(executor, to_stop_chunks)
    for begun, row, item in to_send:
        try:
            sent = send_chunk(begun, row, executor=executor, chunks=chunks, jobs=jobs)
            item.outcome = "done"
            item.reason += f"; sent as {sent.executor_job_id}"
        except VideoctlError as exc:
            item.outcome, item.error = "error", exc.message


def _chunk_item(row: ChunkCandidate, decision: ChunkDecision, now: datetime) -> ScanItem:
    age = (now - row.updated_at).total_seconds()
    return ScanItem(row.job_id, row.video_id, row.state, row.attempt, round(age, 1), decision.rule,
                    decision.action, decision.reason, chunk=row.idx)


def _apply_chunk(row: ChunkCandidate, decision: ChunkDecision, item: ScanItem, *, jobs: JobRepository,
                 videos: VideoRepository, chunks: ChunkRepository, policy: RetryPolicy, rand,
                 to_stop_chunks: list[tuple[list[str], str]]) -> JobChunk | None:
    """Carry out one chunk decision; returns the chunk's try to send once the pass commits."""
    item.outcome = "done"
    if decision.action is ChunkAction.REPORT:
        return None
    if decision.action is ChunkAction.SEND:
        return chunks.reserve(row) if row.unsent else chunks.begin_try(row)
    if decision.action is ChunkAction.FAIL_TRY:
        failed = chunks.fail(row, error_code=decision.error_code or "failed", error_message=decision.reason,
                             runner_id=None)
        row = row._replace(failure_code=failed.failure_code, failure_repeats=failed.failure_repeats,
                           error_message=failed.error_message)
        decision = after_chunk_failure(row, failed.error_code, policy, rand)
        item.reason += f"; {decision.reason}"
    if decision.action is ChunkAction.RETRY:
        chunks.schedule_retry(row, decision.delay_s)
    elif decision.action is ChunkAction.FAIL_ATTEMPT:
        job = jobs.get(row.job_id)
        failed_job = jobs.fail(job, error_code=decision.error_code or row.error_code or "failed",
                               error_message=f"{decision.reason}: {row.error_message or ''}".rstrip(": "),
                               runner_id=None)
        follow = after_failure(failed_job, failed_job.error_code, policy, rand)
        item.reason += f"; the attempt failed: {follow.reason}"
        _settle(failed_job, follow, jobs=jobs, videos=videos)
        to_stop_chunks.append((jobs.chunk_executor_ids(job), decision.reason))
    return None


def send_chunk(chunk: JobChunk, row: ChunkCandidate, *, executor: Executor, chunks: ChunkRepository,
               jobs: JobRepository) -> JobChunk:
    """Send one chunk's try alone, its container sized to that chunk's part of the video; a try
    begun and never sent is first looked for by name (its submitter may have died after sending
    it), and adopted when found."""
    found = executor.find_chunk(video_id=row.video_id, job_id=chunk.job_id, attempt=chunk.attempt, index=chunk.idx,
                                tries=chunk.tries) if row.unsent else None
    # An adopted first try is a child of the attempt's array: it was sized for the longest chunk.
    parts = chunks.of_attempt(chunk.job_id, chunk.attempt) if found and chunk.tries == 1 else [chunk]
    size = None if executor.sizing is None else chunk_size(
        executor.sizing, jobs.source_facts(row.video_id), [(part.start_s, part.duration_s) for part in parts])
    executor_job_id = found or executor.submit_chunk(
        keys.chunk_job_name(row.video_id, chunk.job_id, chunk.attempt, chunk.idx, chunk.tries),
        job_id=chunk.job_id, video_id=row.video_id, attempt=chunk.attempt, index=chunk.idx, priority=row.priority,
        container_size=size)
    return chunks.mark_sent(chunk, executor_job_id, size) or chunks.get(chunk.job_id, chunk.attempt, chunk.idx)


def _stop_chunks(executor: Executor, to_stop: list[tuple[list[str], str]]) -> None:
    """Stop the containers of attempts that failed: their writes are fenced already."""
    for executor_ids, reason in to_stop:
        if executor_ids:
            try:
                executor.stop_chunks(executor_ids, f"videoctl scan-stuck: {reason}")
            except VideoctlError:  # best effort
                pass
