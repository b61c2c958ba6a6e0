"""How a video enters encoding: create the job, submit one container per attempt.

Every attempt starts the same way, whoever starts it (`videoctl submit`,
`jobs retry`, scan-stuck):

1. ``begin_attempt`` moves attempt N → N + 1 in a guarded UPDATE, so two
   callers can never both submit the same attempt (``create_job_and_submit``
   creates the job with its first attempt begun);
2. :func:`send_attempt` starts the container (SubmitJob, or a local process)
   under a name unique to that attempt, sized to the video (:func:`attempt_size`),
   then ``mark_submitted`` stores the executor's job id and that size, state SUBMITTED.

SubmitJob has no idempotency token. When the executor says the outcome is
unknown (a read timeout, a reset connection, a 5xx) the job may exist, so
before sending again we look it up by name. Transient errors (throttling) are
retried with jittered backoff around the whole operation. A definite refusal
(unknown queue or job definition) undoes the attempt and leaves the job QUEUED
with the executor's message recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from videoctl.domain.errors import InvalidState, JobFailed, VideoctlError
from videoctl.domain.executor import REMOTE_FAILED, Executor
from videoctl.domain.keys import attempt_job_name
from videoctl.domain.models import Job, Video
from videoctl.domain.ranges import check_duration_s
from videoctl.domain.repositories import JobRepository, VideoRepository
from videoctl.domain.scan import Candidate
from videoctl.domain.selection import JobFilter
from videoctl.domain.sizing import ContainerSize, choose_size
from videoctl.domain.states import ACTIVE_JOB_STATES, JobState, VideoStatus, video_deleted
from videoctl.domain.text import check_reason

Sleep = Callable[[float], None]


def _transient(exc: BaseException) -> bool:
    return getattr(exc, "transient", False)


def _outcome_unknown(exc: BaseException) -> bool:
    return getattr(exc, "outcome_unknown", False)


def attempt_size(job: Job | Candidate, *, executor: Executor, jobs: JobRepository,
                 video: Video | None = None) -> ContainerSize | None:
    """The size this attempt's container asks for: the executor's table (VIDEOCTL_SIZING) applied
    to the source's probe facts as they are now (each attempt reads them again, so facts found
    since the last one, by an encode, size the next).

    None keeps the job definition's size: an executor that sizes nothing (sizing off, a local
    process) or a source not probed yet (its first encode records the facts). *video*, when the
    caller has just read it, saves reading its facts again.
    """
    if executor.sizing is None:
        return None
    facts = video.source_facts if video is not None and video.id == job.video_id else jobs.source_facts(job.video_id)
    return choose_size(executor.sizing, facts)


def start_container(executor: Executor, job: Job, *, priority: int | None = None,
                    size: ContainerSize | None = None, sleep: Sleep = time.sleep, tries: int = 5) -> str:
    """Submit this attempt's container exactly once, whatever the network does."""
    name = attempt_job_name(job.video_id, job.id, job.attempt)
    reply_lost = False
    retrying = Retrying(
        stop=stop_after_attempt(tries),
        wait=wait_random_exponential(multiplier=0.5, max=20),
        retry=retry_if_exception(_transient),
        sleep=sleep,
        reraise=True,
    )
    for try_ in retrying:
        with try_:
            if reply_lost:
                found = executor.find(name)
                if found:
                    return found
            try:
                return executor.submit(name, job_id=job.id, video_id=job.video_id,
                                       attempt=job.attempt, priority=priority, size=size)
            except VideoctlError as exc:
                reply_lost = reply_lost or _outcome_unknown(exc)
                raise
    raise AssertionError("unreachable")  # Retrying either returns or re-raises


def submit_next_attempt(job_id: int, *, jobs: JobRepository, executor: Executor,
                        priority: int | None = None, sleep: Sleep = time.sleep) -> Job:
    """Begin and send the next attempt of a QUEUED or RETRY_WAIT job."""
    job = jobs.begin_attempt(jobs.get(job_id))
    return send_attempt(job, jobs=jobs, executor=executor, priority=priority, sleep=sleep)


def send_attempt(job: Job, *, jobs: JobRepository, executor: Executor, priority: int | None = None,
                 sleep: Sleep = time.sleep, video: Video | None = None) -> Job:
    """Step 2 for an attempt already begun (scan-stuck begins it under its row lock).

    The executor's error is recorded on the job, with its own code (``aws_error``
    from Batch, ``executor_error`` from a local process), and raised.
    """
    priority = job.priority if priority is None else priority
    size = attempt_size(job, executor=executor, jobs=jobs, video=video)
    try:
        executor_job_id = start_container(executor, job, priority=priority, size=size, sleep=sleep)
    except VideoctlError as error:
        if _outcome_unknown(error):
            # A container may exist for this attempt: keep the attempt counted.
            jobs.note_error(job, error_code=error.code, error_message=f"submit outcome unknown: {error.message}")
        else:
            jobs.undo_attempt(job, error_code=error.code, error_message=error.message)
        raise
    return jobs.mark_submitted(job, executor_job_id, size)


def adopt_or_send_next(job: Job | Candidate, *, jobs: JobRepository, executor: Executor,
                       sleep: Sleep = time.sleep) -> tuple[Job, bool]:
    """An attempt begun but never marked SUBMITTED: its SubmitJob may have gone through
    before the submitter died (or lost the reply for good). Adopt that container if the
    executor has one by the attempt's name; else start the next attempt.

    Returns the job and whether it was adopted. Runs without a row lock: the guarded
    mark_submitted and begin_attempt let only one of several scanners act. An adopted
    container is recorded with the size the same rule gives its attempt now: the size it
    was sent with, unless the source's facts or the table changed in between.
    """
    found = executor.find(attempt_job_name(job.video_id, job.id, job.attempt))
    if found:
        return jobs.mark_submitted(job, found, attempt_size(job, executor=executor, jobs=jobs)), True
    return send_attempt(jobs.begin_attempt(job), jobs=jobs, executor=executor, sleep=sleep), False


@dataclass(frozen=True)
class SubmitPlan:
    video: Video
    reencode: bool
    max_attempts: int
    priority: int | None


def plan_submit(video_id: int, *, videos: VideoRepository, jobs: JobRepository, max_attempts: int,
                force: bool = False, priority: int | None = None) -> SubmitPlan:
    """Check that the video may be submitted; changes nothing (this is --dry-run)."""
    video = videos.get(video_id)
    if video.status is VideoStatus.DELETED:
        raise video_deleted(video.id)
    if video.status is VideoStatus.READY and not force:
        raise InvalidState(f"video {video.id} is already READY",
                           hint="re-encode it with --force; the current ladder stays live until the new one completes")
    if video.status not in (VideoStatus.UPLOADED, VideoStatus.READY):
        raise InvalidState(f"video {video.id} is {video.status}; only UPLOADED videos (or READY with --force) "
                           "can be submitted")
    active = jobs.active_for_video(video.id)
    if active is not None:
        raise InvalidState(f"video {video.id} already has an active job: job {active.id} "
                           f"({active.state}, attempt {active.attempt})",
                           hint=f"follow it with `videoctl jobs show {active.id}`")
    return SubmitPlan(video, video.status is VideoStatus.READY, max_attempts, priority)


def create_job_and_submit(plan: SubmitPlan, *, jobs: JobRepository, executor: Executor,
                          sleep: Sleep = time.sleep) -> Job:
    """Create the job QUEUED, then submit its first attempt.

    If the submit fails the job stays QUEUED with the error recorded, and
    scan-stuck submits it later; the error is raised for the caller too.
    """
    job = jobs.create(plan.video.id, max_attempts=plan.max_attempts, reencode=plan.reencode,
                      priority=plan.priority, begin=True)
    return send_attempt(job, jobs=jobs, executor=executor, sleep=sleep, video=plan.video)


# ------------------------------------------------------------------ bulk


class RateLimiter:
    """At most ``rate`` calls per second, evenly spaced (Batch allows 50 SubmitJob/s)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = clock()

    def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class BulkResult:
    """What a bulk action did: the jobs it created or moved, and (id, error) for each that failed;
    the id is the video's for a bulk submit, the job's for a bulk retry or cancel."""

    submitted: list[Job] = field(default_factory=list)
    failed: list[tuple[int, VideoctlError]] = field(default_factory=list)


T = TypeVar("T")


def _one_by_one(items: list[T], act: Callable[[T], Job], key: Callable[[T], int], *, limiter: RateLimiter | None,
                on_each: Callable[[int, int], None] | None) -> BulkResult:
    """*act* on each item, at the limiter's pace; one failure does not stop the rest."""
    result = BulkResult()
    for done, item in enumerate(items, start=1):
        if limiter is not None:
            limiter.wait()
        try:
            result.submitted.append(act(item))
        except VideoctlError as exc:
            result.failed.append((key(item), exc))
        if on_each:
            on_each(done, len(items))
    return result


def submit_all(status: VideoStatus = VideoStatus.UPLOADED, *, videos: VideoRepository, jobs: JobRepository,
               executor: Executor, max_attempts: int, rate: float, limit: int,
               on_each: Callable[[int, int], None] | None = None, limiter: RateLimiter | None = None) -> BulkResult:
    """Submit every video in *status* with no active job, at *rate*; one failure does not stop the rest.

    UPLOADED videos are encoded; READY ones re-encoded (their ladder stays live until the new
    one completes), which is how existing videos get outputs added since they were encoded.
    """
    if status not in (VideoStatus.UPLOADED, VideoStatus.READY):
        raise InvalidState(f"only UPLOADED or READY videos can be submitted, not {status}")

    def submit(video: Video) -> Job:
        plan = plan_submit(video.id, videos=videos, jobs=jobs, max_attempts=max_attempts,
                           force=status is VideoStatus.READY)
        return create_job_and_submit(plan, jobs=jobs, executor=executor)

    return _one_by_one(videos.without_job(status, limit), submit, lambda v: v.id,
                       limiter=limiter or RateLimiter(rate), on_each=on_each)


# ------------------------------------------------------------------ operator actions


def cancel_job(job_id: int, reason: str, *, jobs: JobRepository, videos: VideoRepository,
               executor: Executor) -> Job:
    """CANCELLED first, so the container's later writes are fenced; then stop it.

    A video that was PROCESSING goes back to UPLOADED, so it can be submitted again;
    a READY video keeps its ladder.
    """
    check_reason(reason)
    with jobs.transaction():
        job = cancel_rows(job_id, reason, jobs=jobs, videos=videos)
    stop_container(job, reason, executor, jobs.chunk_executor_ids(job))
    return job


def cancel_rows(job_id: int, reason: str, *, jobs: JobRepository, videos: VideoRepository) -> Job:
    """The database half of a cancel, in the caller's transaction: CANCELLED (which fences
    the container's writes) and a PROCESSING video back to UPLOADED."""
    job = jobs.cancel(job_id, reason)
    if videos.get(job.video_id).status is VideoStatus.PROCESSING:
        videos.set_status(job.video_id, VideoStatus.UPLOADED)
    return job


def stop_container(job: Job, reason: str, executor: Executor, chunk_executor_ids: list[str] | None = None) -> None:
    """After the cancel committed: stop the job's container (TerminateJob, or kill the local process),
    and for a chunked attempt its chunks' (TerminateJob of the array job, or every chunk process)."""
    if job.executor_job_id:
        executor.cancel(job.executor_job_id, reason)
    if chunk_executor_ids:
        executor.stop_chunks(chunk_executor_ids, reason)


def retry_job(job_id: int, *, jobs: JobRepository, executor: Executor, sleep: Sleep = time.sleep) -> Job:
    """An operator's word: a DEAD or CANCELLED job gets a new attempt now."""
    jobs.requeue(job_id)
    return submit_next_attempt(job_id, jobs=jobs, executor=executor, sleep=sleep)


# ------------------------------------------------------------------ following a job

#: States where a follower stops: terminal, or FAILED (scan-stuck decides what next).
SETTLED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD, JobState.CANCELLED})


def follow_job(job_id: int, *, jobs: JobRepository, executor: Executor | None = None,
               on_update: Callable[[Job], None] | None = None, poll_s: float = 1.0, check_every: int = 10,
               sleep: Sleep = time.sleep) -> Job:
    """Poll the job until it settles.

    Every ``check_every`` polls the executor is asked about the container too: one that
    died without a word (OOM kill, a crash before the first write) would otherwise leave
    the follower waiting until scan-stuck notices.
    """
    check_duration_s(poll_s, "poll_s")
    polls = 0
    while True:
        job = jobs.get(job_id)
        if on_update:
            on_update(job)
        if job.state in SETTLED:
            return job
        polls += 1
        if executor is not None and polls % check_every == 0:
            _fail_if_container_gone(job, jobs, executor)
        sleep(poll_s)


def _fail_if_container_gone(job: Job, jobs: JobRepository, executor: Executor) -> None:
    if not job.executor_job_id or job.chunks is not None:
        return  # a chunked attempt's lead ends once its chunks are sent; scan-stuck watches those
    remote = executor.describe([job.executor_job_id]).get(job.executor_job_id)
    if remote is None or remote.status not in REMOTE_FAILED:
        return
    job = jobs.get(job.id)  # it may have written its last word just now
    if job.state not in SETTLED:
        raise JobFailed(f"job {job.id}'s container {job.executor_job_id} is gone "
                        f"({remote.reason or remote.status}) but the job is still {job.state}",
                        hint="scan-stuck will count it as a failed attempt and retry it")


# ------------------------------------------------------------------ bulk operator actions

#: What bulk retry and cancel apply to.
RETRYABLE = frozenset({JobState.DEAD, JobState.CANCELLED})
CANCELLABLE = frozenset(ACTIVE_JOB_STATES)


def select_jobs(selection: JobFilter, allowed: frozenset[JobState], action: str, *, jobs: JobRepository,
                limit: int) -> list[Job]:
    """The jobs *selection* names among those *action* applies to (a plan: changes nothing)."""
    return jobs.select(selection.within(allowed, action), limit)


def retry_jobs(selection: JobFilter, *, jobs: JobRepository, executor: Executor, rate: float, limit: int,
               on_each: Callable[[int, int], None] | None = None, limiter: RateLimiter | None = None,
               sleep: Sleep = time.sleep) -> BulkResult:
    """`jobs retry --state DEAD --error-code X …`: a new attempt for each, at the bulk submit rate."""
    chosen = select_jobs(selection, RETRYABLE, "retry", jobs=jobs, limit=limit)
    return _one_by_one(chosen, lambda job: retry_job(job.id, jobs=jobs, executor=executor, sleep=sleep),
                       lambda job: job.id, limiter=limiter or RateLimiter(rate), on_each=on_each)


def cancel_jobs(selection: JobFilter, reason: str, *, jobs: JobRepository, videos: VideoRepository,
                executor: Executor, limit: int, on_each: Callable[[int, int], None] | None = None) -> BulkResult:
    """`jobs cancel --state QUEUED --video 7 …`: each cancelled as `jobs cancel ID` would."""
    check_reason(reason)
    chosen = select_jobs(selection, CANCELLABLE, "cancel", jobs=jobs, limit=limit)
    return _one_by_one(chosen, lambda job: cancel_job(job.id, reason, jobs=jobs, videos=videos, executor=executor),
                       lambda job: job.id, limiter=None, on_each=on_each)
