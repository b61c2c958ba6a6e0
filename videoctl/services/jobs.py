"""Jobs as an operator looks at them: with an ETA when running, a place in line when waiting,
what the executor says of a submitted container (RUNNABLE, STARTING), and for a chunked attempt
its chunks and their progress (#23), the ETA then coming from the chunks still to run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime

from videoctl.domain.chunk_progress import ChunkProgress, chunk_progress
from videoctl.domain.cost import Prices
from videoctl.domain.errors import VideoctlError
from videoctl.domain.eta import eta_s
from videoctl.domain.executor import Executor
from videoctl.domain.models import Job
from videoctl.domain.repositories import ChunkRepository, JobRepository, UsageRepository, VideoRepository
from videoctl.domain.states import JobState
from videoctl.services.cost import JobCost, job_costs

log = logging.getLogger(__name__)

_WAITING = frozenset({JobState.QUEUED, JobState.SUBMITTED, JobState.RETRY_WAIT})


@dataclass(frozen=True)
class JobView(Job):
    #: Seconds left, for a RUNNING job that has given enough to go on.
    eta_s: float | None = None
    #: Place in line among waiting jobs (1 is next), for QUEUED, SUBMITTED and RETRY_WAIT.
    queue_position: int | None = None
    #: What the executor says of a SUBMITTED job's container: Batch's RUNNABLE, STARTING, ….
    executor_status: str | None = None
    #: Its attempts' usage and price, once an attempt has ended (None before).
    cost: JobCost | None = None
    #: A chunked attempt's chunks (#23): counted, each with its state, tries and container, and
    #: the time the ones left will take. None for a one-pass attempt (or one not cut yet).
    chunk_progress: ChunkProgress | None = None


#: What `jobs list --json` prints.
JobViews = list[JobView]


def job_views(chosen: list[Job], *, jobs: JobRepository, videos: VideoRepository,
              executor: Executor | None, usage: UsageRepository | None = None,
              prices: Prices | None = None, chunks: ChunkRepository | None = None) -> list[JobView]:
    if not chosen:
        return []
    now = jobs.now()
    positions = jobs.queue_positions([j.id for j in chosen if j.state in _WAITING])
    running = [j for j in chosen if j.state is JobState.RUNNING]
    chunked = [j for j in chosen if j.chunks is not None] if chunks is not None else []
    speed = jobs.encode_speed() if running else None
    durations = {video_id: videos.get(video_id).duration_s for video_id in {j.video_id for j in running + chunked}}
    rows = chunks.of_attempts([(j.id, j.attempt) for j in chunked]) if chunks is not None and chunked else {}
    statuses = _executor_statuses([j for j in chosen if j.state is JobState.SUBMITTED], executor)
    costs = job_costs(usage, [j.id for j in chosen], prices) if usage is not None and prices is not None else {}
    views = []
    for job in chosen:
        progress = chunk_progress(rows.get((job.id, job.attempt), []), now, video_duration_s=durations.get(job.video_id),
                                  seconds_per_source_second=speed)
        eta = None
        if job.state is JobState.RUNNING:
            eta = _eta(job, progress, now, duration_s=durations[job.video_id], speed=speed)
        own = {f.name: getattr(job, f.name) for f in fields(Job)}
        views.append(JobView(**own, eta_s=None if eta is None else round(eta, 1),
                             queue_position=positions.get(job.id), executor_status=statuses.get(job.id),
                             cost=costs.get(job.id), chunk_progress=progress))
    return views


def _eta(job: Job, chunks: ChunkProgress | None, now: datetime, *, duration_s: float | None,
         speed: float | None) -> float | None:
    """While a chunked attempt has chunks still to run, the time they take; otherwise (a one-pass
    attempt, a lead still preparing, the last chunk assembling) the job's own progress rate."""
    if chunks is not None and chunks.done < chunks.total:
        return chunks.eta_s
    return eta_s(job.progress, job.started_at, now, duration_s=duration_s, seconds_per_source_second=speed)


def _executor_statuses(submitted: list[Job], executor: Executor | None) -> dict[int, str]:
    """Best effort: a listing still answers when the executor cannot be asked."""
    ids = {j.executor_job_id: j.id for j in submitted if j.executor_job_id}
    if executor is None or not ids:
        return {}
    try:
        described = executor.describe(list(ids))
    except VideoctlError as exc:
        log.warning("could not ask the executor about submitted jobs: %s", exc.message)
        return {}
    return {ids[executor_id]: remote.status for executor_id, remote in described.items()}
