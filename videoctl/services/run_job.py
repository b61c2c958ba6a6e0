"""run-job: what one Batch container (or one local process) does, then exits.

A job may be run more than once (a container started twice, a retry after a
crash), so each step first looks at what an earlier run may have finished, and
the cheap checks come before anything that costs:

a. job SUCCEEDED → nothing to do.
b. claim the attempt.
c. video READY with an hls_path (and this job is not a re-encode) → the job
   is completed without download or ffmpeg.
d. otherwise encode → complete. Any failure marks the attempt FAILED with an
   error code and a human message; scan-stuck decides whether it runs again.

The claim fences every later write on job id + attempt + runner. A
container that loses the claim (a second container on the same job, or one
whose attempt was failed and resubmitted) stops without writing anything.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from videoctl.db.reconnect import DbSteps
from videoctl.domain import cost, keys
from videoctl.domain.chunk_progress import chunks_eta_s
from videoctl.domain.chunks import ChunkState
from videoctl.domain.decision import EncodeDecision
from videoctl.domain.errors import DbError, Fenced, Interrupted, InvalidState, JobFailed, UsageError, VideoctlError
from videoctl.domain.executor import (
    BATCH_ARRAY_INDEX_VARIABLE,
    CHUNK_ATTEMPT_VARIABLE,
    CHUNK_INDEX_VARIABLE,
    Executor,
)
from videoctl.domain.models import Job, JobChunk, Video
from videoctl.domain.outputs import outputs_from_keys
from videoctl.domain.repositories import (
    ChunkRepository,
    DeleteRequestRepository,
    JobRepository,
    QualityRepository,
    UsageRepository,
    VideoRepository,
)
from videoctl.domain.sizing import ContainerSize
from videoctl.domain.states import JobState, VideoStatus, video_deleted
from videoctl.executor.local import own_id
from videoctl.media.chunks import ChunkOutput
from videoctl.media.cpus import cpu_budget, memory_budget_mib
from videoctl.services import chunked
from videoctl.services.encode import (
    EncodeResult,
    Progress,
    decide_for,
    encode_one_pass,
    fetch_and_probe,
    fetch_source,
    ladder_rungs,
)
from videoctl.services.heartbeat import Heartbeat, ProgressMirror
from videoctl.services.ladder_quality import QualityOutcome
from videoctl.services.quality import record_outcome
from videoctl.settings import Settings
from videoctl.storage import ObjectStore, scratch

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Runner:
    """Who is running: inside Batch its job id, locally the executor's id for this process;
    and for a chunk of a long video (#23), which chunk of which attempt."""

    id: str
    batch_job_id: str | None
    chunk: int | None = None
    chunk_attempt: int | None = None

    @property
    def on_batch(self) -> bool:
        """Inside a Batch container (its id is Batch's job id), not a local process."""
        return self.batch_job_id is not None and self.id == self.batch_job_id

    @classmethod
    def from_environment(cls, environ=os.environ) -> Runner:
        chunk = _whole_number(environ, BATCH_ARRAY_INDEX_VARIABLE) if environ.get(BATCH_ARRAY_INDEX_VARIABLE) \
            else _whole_number(environ, CHUNK_INDEX_VARIABLE)
        attempt = _whole_number(environ, CHUNK_ATTEMPT_VARIABLE)
        batch_id = environ.get("AWS_BATCH_JOB_ID")
        if batch_id:
            return cls(batch_id, batch_id, chunk, attempt)
        # What the local executor recorded as the job's executor id when it started this
        # process ("local:PID:START"): the claim compares the two.
        local = own_id()
        return cls(f"{local}@{socket.gethostname()}", local, chunk, attempt)


def _whole_number(environ, name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise UsageError(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class RunResult:
    #: already_succeeded | ready_guard | reused_upload | encoded; for a long video: chunked (the
    #: lead sent its chunks), chunk_encoded (a chunk, not the last), assembled (the last chunk).
    outcome: str
    job: Job
    video: Video
    encode: EncodeResult | None = None


@dataclass
class RunJobDeps:
    jobs: JobRepository
    videos: VideoRepository
    delete_requests: DeleteRequestRepository
    store: ObjectStore
    settings: Settings
    ffmpeg: str
    #: A JobRepository on a connection of its own, for the heartbeat thread.
    open_jobs: Callable[[], JobRepository]
    #: Runs each database step, again on a fresh connection while the server is away.
    db_steps: DbSteps
    mirror: ProgressMirror | None = None
    #: Called after a job completes, to send recorded deletions on their way.
    after_complete: Callable[[], None] | None = None
    #: Where the attempt's usage (CPUs, memory, runtime) is recorded, for its cost.
    usage: UsageRepository | None = None
    #: Called after the job's completion or failure committed: its event recorded in that
    #: transaction goes to the app now (best effort; never raises).
    send_events: Callable[[], None] | None = None
    #: Where the ladder's quality measurement (VIDEOCTL_MEASURE_QUALITY) is stored, with the completion.
    quality: QualityRepository | None = None
    #: The chunks of long videos (#23), and the executor that runs an attempt's chunks: Batch's
    #: for a runner inside Batch (True), else local processes.
    chunks: ChunkRepository | None = None
    chunk_executor: Callable[[bool], Executor] | None = None
    #: The chunks on the connection of a repository of jobs (the heartbeat's own).
    chunks_on: Callable[[JobRepository], ChunkRepository] | None = None


def ready_guard_applies(job: Job, video: Video) -> bool:
    """A READY video needs no encode, unless this job is the re-encode that replaces it."""
    if video.status is not VideoStatus.READY or not video.hls_path:
        return False
    # A re-encode is done once the video points at one of this job's own ladders.
    return not job.reencode or keys.job_of_ladder(video.hls_path) == job.id


def run_job(job_id: int, deps: RunJobDeps, runner: Runner, progress: Progress | None = None) -> RunResult:
    jobs, videos, db = deps.jobs, deps.videos, deps.db_steps
    # What a run-job killed with SIGKILL on this machine left behind; never one still in use.
    scratch.reclaim(deps.settings.scratch_dir)
    if runner.chunk is not None:
        return _run_chunk(job_id, deps, runner, progress or (lambda phase, pct: None))
    job = db("reading the job", lambda: jobs.get(job_id))
    if job.state is JobState.SUCCEEDED:
        log.info("job already succeeded; nothing to do", extra={"job_id": job.id})
        return RunResult("already_succeeded", job, db("reading the video", lambda: videos.get(job.video_id)))
    video = db("reading the video", lambda: videos.get(job.video_id))
    if video.status is VideoStatus.DELETED:
        raise video_deleted(video.id, f"job {job.id} has nothing to encode")
    if job.state.is_terminal:
        raise InvalidState(f"job {job.id} is {job.state}; there is nothing to run",
                           hint=f"`videoctl jobs retry {job.id}` gives it a new attempt")

    job = db("claiming the job", lambda: _claim(jobs, job, runner))
    log.info("claimed job", extra={"job_id": job.id, "attempt": job.attempt, "runner": runner.id})
    claimed_at = time.monotonic()

    if ready_guard_applies(job, video):
        done = db("completing the job", lambda: _replay_safe(jobs, job, JobState.SUCCEEDED, jobs.complete))
        log.info("video already READY; completed without encoding", extra={"job_id": job.id})
        _record_usage(deps, job, runner, time.monotonic() - claimed_at)
        return RunResult("ready_guard", done, video)
    if video.status is not VideoStatus.READY:  # a re-encode keeps the live ladder READY
        video = db("marking the video PROCESSING",
                   lambda: videos.set_status(video.id, VideoStatus.PROCESSING)) or video

    try:
        result = _encode_and_complete(job, video, deps, progress or (lambda phase, pct: None), runner)
    except Fenced:
        raise  # the attempt is someone else's now: write nothing
    except BaseException as exc:
        error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
        _record_failure(deps, job, error)
        _record_usage(deps, job, runner, time.monotonic() - claimed_at)
        if isinstance(exc, VideoctlError):
            raise JobFailed(f"job {job.id} attempt {job.attempt} failed: {error.code}: {error.message}",
                            hint=error.hint) from exc
        raise
    _record_usage(deps, job, runner, time.monotonic() - claimed_at, result.encode)
    return result


def _record_usage(deps: RunJobDeps, job: Job, runner: Runner, runtime_s: float,
                  encoded: EncodeResult | None = None, *, chunk: JobChunk | None = None) -> None:
    """What this container held and for how long, for its cost; never a reason to fail the job.

    The container is the attempt's own, or with ``chunk`` that chunk's try (its usage row is the
    try's: every chunk container is priced). ``encoded`` is the completed encode, when this
    container completed the job: its source minutes and renditions are MediaConvert's comparison.

    Inside Batch the capacity is the compute environment's (Fargate or Fargate Spot) and
    scan-stuck later replaces the runtime with Batch's own; locally it is ``local``. A container
    sized at submit is billed for that size, whatever its VM shows; any other is measured.
    """
    if deps.usage is None:
        return
    hd = sd = 0
    if encoded is not None:
        hd, sd = cost.renditions([rung.height for rung in encoded.summary.rungs])
    try:
        sized = _sized_as(deps, job, runner, chunk)
        deps.usage.record(
            job, capacity=deps.settings.batch_compute_type if runner.on_batch else cost.LOCAL,
            executor_job_id=runner.batch_job_id, vcpus=sized.vcpus if sized else cpu_budget().cpus,
            memory_mib=sized.memory_mib if sized else memory_budget_mib(), runtime_s=round(runtime_s, 3),
            source_duration_s=encoded.info.duration_s if encoded else None, hd_renditions=hd, sd_renditions=sd,
            chunk=chunk)
    except VideoctlError as exc:
        log.warning("could not record the container's usage: %s: %s", exc.code, exc.message)


def _sized_as(deps: RunJobDeps, job: Job, runner: Runner, chunk: JobChunk | None) -> ContainerSize | None:
    """The size this Batch container asked for at submit: the attempt's, or its chunk try's as
    its row says now (read again: the lead records a child's size once the array is sent, which
    may be after the child claimed its chunk)."""
    if not runner.on_batch:
        return None
    if chunk is None:
        return job.size
    if deps.chunks is None:
        return None
    current = deps.chunks.get(chunk.job_id, chunk.attempt, chunk.idx)
    return current.size if current.tries == chunk.tries else None


def _replayed(jobs: JobRepository, job: Job, state: JobState, runner_id: str | None) -> Job | None:
    """The row as this runner's write left it, if that write committed although its reply was
    lost (the connection broke): then the replay's fenced UPDATE matched no row. The runner
    id is unique to this process, so nobody else can have left the row so."""
    current = jobs.get(job.id)
    if current.state is state and current.attempt == job.attempt and current.runner_id == runner_id:
        return current
    return None


def _replay_safe(jobs: JobRepository, job: Job, state: JobState, write: Callable[[Job], Job]) -> Job:
    """``write(job)``, moving the job to *state*; a refusal because an earlier try of the same
    write did commit is the write's result."""
    try:
        return write(job)
    except InvalidState:
        done = _replayed(jobs, job, state, job.runner_id)
        if done is None:
            raise
        return done


def _claim(jobs: JobRepository, job: Job, runner: Runner) -> Job:
    try:
        return jobs.claim(job, runner.id, batch_job_id=runner.batch_job_id)
    except InvalidState:
        claimed = _replayed(jobs, job, JobState.RUNNING, runner.id)
        if claimed is None:
            raise
        return claimed


def _record_failure(deps: RunJobDeps, job: Job, error: VideoctlError) -> None:
    log.error("job failed", extra={"job_id": job.id, "attempt": job.attempt, "error_code": error.code,
                                   "error": error.message})
    jobs = deps.jobs

    def fail(job: Job) -> Job:
        return jobs.fail(job, error_code=error.code, error_message=error.message, runner_id=job.runner_id)

    try:
        deps.db_steps("recording the failure", lambda: _replay_safe(jobs, job, JobState.FAILED, fail))
    except InvalidState as exc:  # fenced or cancelled meanwhile: not ours to write
        log.warning("could not record the failure: %s", exc.message)
        return
    except DbError as exc:  # the database stayed away: scan-stuck will see the process gone
        log.error("could not record the failure: %s", exc.message)
        return
    if deps.send_events is not None and error.code != Interrupted.code:  # a stopping container has seconds left
        deps.send_events()


def _encode_and_complete(job: Job, video: Video, deps: RunJobDeps, progress: Progress, runner: Runner) -> RunResult:
    prefix = keys.attempt_prefix(deps.settings.videos_root, video.id, job.id, job.attempt)
    heartbeat = Heartbeat(job, deps.open_jobs, interval_s=deps.settings.heartbeat_s, mirror=deps.mirror)

    def report(phase: str, percent: float) -> None:
        heartbeat.update(percent)  # raises Fenced once the claim is lost
        progress(phase, percent)

    try:
        result = _encode_in_scratch(job, video, deps, heartbeat, report, prefix, runner)
    except Fenced:
        raise  # another runner's job now: its progress is not ours to publish
    except BaseException:
        heartbeat.publish("FAILED")
        raise
    if result.outcome == "chunked":
        if result.job.chunks_done == result.job.chunks:  # the chunks finished first: the lead assembles
            return _assemble_and_complete(result.job, result.video, chunked.Chunking.from_dict(result.job.chunking),
                                          deps, progress)
        heartbeat.publish("RUNNING")  # its chunks carry on
        return result
    heartbeat.progress = 100
    heartbeat.publish("SUCCEEDED")
    return result


def _encode_in_scratch(job: Job, video: Video, deps: RunJobDeps, heartbeat: Heartbeat,
                       report: Progress, prefix: str, runner: Runner) -> RunResult:
    settings, store = deps.settings, deps.store
    workdir_name = scratch.job_scratch_name(job.id, job.attempt)
    with heartbeat, scratch.scratch_dir(settings.scratch_dir, workdir_name) as workdir:
        reused = _finished_upload_of_earlier_attempt(store, settings, video, job)
        if reused is not None:
            # Crashed after uploading, before completing: the ladder is whole
            # (master last), so completing is all that is left.
            log.info("reusing the complete upload of an earlier attempt", extra={"prefix": reused})
            done, video = _complete(deps, job, video, reused, info=None)
            return RunResult("reused_upload", done, video)
        src, info = fetch_and_probe(video, store=store, workdir=workdir, progress=report)
        decision = decide_for(video, src, info, settings=settings, ffmpeg=deps.ffmpeg,
                              decided=_earlier_decision(deps, job), workdir=workdir)
        _record_decision(deps, job, video, decision, info)
        chunkable = deps.chunks is not None and deps.chunk_executor is not None
        plan = chunked.chunk_plan(settings, info) if chunkable else None
        if plan is not None:
            rungs = ladder_rungs(settings, info, decision)
            job = chunked.send(job, info, plan, rungs, chunks=deps.chunks,
                               executor=deps.chunk_executor(runner.on_batch), progress=report)
            heartbeat.eta_from_own_rate = False  # the chunks' pace says when the job ends now
            job = chunked.make_and_record_whole(job, video, src, info, rungs, decision, store=store,
                                                settings=settings, ffmpeg=deps.ffmpeg, workdir=workdir, prefix=prefix,
                                                chunks=deps.chunks, progress=report)
            return RunResult("chunked", job, video)
        result = encode_one_pass(video, src, info, decision, prefix=prefix, store=store, settings=settings,
                                 ffmpeg=deps.ffmpeg, workdir=workdir, progress=report)
        heartbeat.check()
        done, video = _complete(deps, job, video, prefix, info=result.info, measurements=_measurements(result),
                                quality=result.quality)
    log.info("job completed", extra={"job_id": job.id, "attempt": job.attempt, "hls_path": video.hls_path})
    return RunResult("encoded", done, video, result)


def _earlier_decision(deps: RunJobDeps, job: Job) -> EncodeDecision | None:
    """This job's own decision (an earlier attempt made it), else the video's newest (a re-encode)."""
    stored = job.decision or deps.db_steps("reading the video's last decision",
                                           lambda: deps.jobs.latest_decision(job.video_id))
    return EncodeDecision.from_dict(stored)


def _record_decision(deps: RunJobDeps, job: Job, video: Video, decision: EncodeDecision, info) -> None:
    """Stored before the encode starts: an attempt that dies after this does not measure again,
    and with the probe's facts on the video the next attempt's container is sized to its source
    (a direct upload's first attempt knows none: its source was never probed before)."""
    def record() -> None:
        with deps.jobs.transaction():
            deps.jobs.record_decision(job, decision.to_dict())
            deps.videos.set_media_info(video.id, duration_s=info.duration_s, width=info.width, height=info.height,
                                       has_audio=info.has_audio, fps=info.fps)

    deps.db_steps("recording the decision", record)


def _measurements(result: EncodeResult) -> dict | None:
    """What the job shows of its encode: each audio rendition's loudness, in and out."""
    decision = result.decision
    if decision is None or not decision.loudness:
        return None
    return {"loudness": [{**track.to_dict(), "output": result.loudness_out[track.rendition].to_dict()}
                         for track in decision.loudness if track.rendition in result.loudness_out]}


def _earlier_prefixes(settings: Settings, video: Video, job: Job) -> list[str]:
    return [keys.attempt_prefix(settings.videos_root, video.id, job.id, n) for n in range(job.attempt - 1, 0, -1)]


def _finished_upload_of_earlier_attempt(store: ObjectStore, settings: Settings, video: Video,
                                        job: Job) -> str | None:
    for prefix in _earlier_prefixes(settings, video, job):
        if store.exists(keys.master_key(prefix)):
            return prefix
    return None


def _complete(deps: RunJobDeps, job: Job, video: Video, prefix: str, info,
              measurements: dict | None = None, quality: QualityOutcome | None = None) -> tuple[Job, Video]:
    """Job SUCCEEDED and video READY in one transaction, with the ladder's quality measurement;
    old ladders queued for deletion."""
    master = keys.master_key(prefix)
    # Listed before the transaction: no object-store round trip while rows are locked.
    outputs = outputs_from_keys(prefix, (found.key for found in deps.store.list_prefix(prefix)))
    leftovers = [old for old in _earlier_prefixes(deps.settings, video, job)
                 if old != prefix and any(True for _ in deps.store.list_prefix(old))]

    def commit() -> tuple[Job, Video]:
        try:
            with deps.jobs.transaction():
                done = deps.jobs.complete(job, output_prefix=prefix, measurements=measurements)
                if info is not None:
                    deps.videos.set_media_info(video.id, duration_s=info.duration_s, width=info.width,
                                               height=info.height, has_audio=info.has_audio, fps=info.fps)
                ready, replaced = deps.videos.set_ready(video.id, master, outputs, job=done)
                if quality is not None and deps.quality is not None:
                    record_outcome(deps.quality, quality, video_id=video.id, job_id=job.id, attempt=job.attempt,
                                   prefix=prefix)
                for old in leftovers:
                    deps.delete_requests.add(old, f"abandoned attempt of job {job.id}", video.id)
                if replaced is not None:
                    deps.delete_requests.add(keys.prefix_of_master(replaced),
                                             f"replaced by job {job.id} attempt {job.attempt}", video.id)
                return done, ready
        except InvalidState:
            # A retry after a lost reply: the whole transaction committed the first time.
            done = _replayed(deps.jobs, job, JobState.SUCCEEDED, job.runner_id)
            if done is None or done.output_prefix != prefix:
                raise
            return done, deps.videos.get(video.id)

    done, ready = deps.db_steps("completing the job", commit)
    if deps.after_complete is not None:
        try:
            deps.after_complete()
        except VideoctlError as exc:  # the rows stay pending; `videoctl r2 drain` sends them later
            log.warning("could not send deletions yet: %s", exc.message)
    if deps.send_events is not None:
        deps.send_events()
    return done, ready


# ------------------------------------------------------------------ chunks of a long video (#23)


def _run_chunk(job_id: int, deps: RunJobDeps, runner: Runner, progress: Progress) -> RunResult:
    """One chunk of a chunked attempt: claim it, encode and upload it, count it; the last one assembles."""
    jobs, chunks, db = deps.jobs, deps.chunks, deps.db_steps
    chunks_on = deps.chunks_on
    if chunks is None or chunks_on is None:
        raise InvalidState(f"job {job_id}: this run-job cannot run chunks")
    job = db("reading the job", lambda: jobs.get(job_id))
    video = db("reading the video", lambda: deps.videos.get(job.video_id))
    if job.state is JobState.SUCCEEDED:
        return RunResult("already_succeeded", job, video)
    attempt = runner.chunk_attempt or job.attempt
    chunk = db("claiming the chunk", lambda: _claim_chunk(chunks, job_id, attempt, runner))
    log.info("claimed chunk", extra={"job_id": job_id, "attempt": attempt, "chunk": chunk.idx, "runner": runner.id})
    claimed_at = time.monotonic()
    result: RunResult | None = None
    try:
        result = _run_claimed_chunk(job_id, chunk, video, deps, runner, progress)
        return result
    finally:
        # Every chunk container is priced, whatever its end: it held its size all along.
        _record_usage(deps, job, runner, time.monotonic() - claimed_at, result.encode if result else None,
                      chunk=chunk)


def _run_claimed_chunk(job_id: int, chunk: JobChunk, video: Video, deps: RunJobDeps, runner: Runner,
                       progress: Progress) -> RunResult:
    jobs, chunks, db, chunks_on = deps.jobs, deps.chunks, deps.db_steps, deps.chunks_on
    attempt = chunk.attempt
    job = db("reading the job", lambda: jobs.get(job_id))  # the lead's plan, as the claim found it
    if job.chunking is None or job.attempt != attempt:
        raise Fenced(f"job {job_id} attempt {attempt} is not the chunked attempt it was")
    plan = chunked.Chunking.from_dict(job.chunking)
    decision = EncodeDecision.from_dict(job.decision)
    if decision is None:  # the lead stores it before it makes any chunk: never decided again here
        raise InvalidState(f"job {job_id} attempt {attempt} has no decision a chunk can encode with")
    prefix = keys.attempt_prefix(deps.settings.videos_root, video.id, job.id, attempt)
    heartbeat = Heartbeat(job, deps.open_jobs, interval_s=deps.settings.heartbeat_s,
                          beat=lambda repository, percent: chunks_on(repository).heartbeat(chunk, percent))

    def report(phase: str, percent: float) -> None:
        heartbeat.update(percent)
        progress(f"chunk {chunk.idx}: {phase}", percent)

    with ExitStack() as scratch_space:
        # The scratch outlives the count: the chunk that assembles measures the quality sample
        # against its own copy of the source instead of downloading it again.
        workdir = scratch_space.enter_context(
            scratch.scratch_dir(deps.settings.scratch_dir, scratch.job_scratch_name(job.id, attempt)))
        try:
            with heartbeat:
                report("download", 0)
                src = fetch_source(deps.store, video, workdir)
                report("download", 10)
                output = chunked.encode_and_upload_chunk(chunk, plan, decision, src, store=deps.store,
                                                         settings=deps.settings, ffmpeg=deps.ffmpeg, workdir=workdir,
                                                         prefix=prefix, progress=report, check=heartbeat.check)
                heartbeat.check()
            counted = db("counting the chunk", lambda: _finish_chunk(chunks, jobs, chunk, output.to_dict()))
        except Fenced:
            raise
        except BaseException as exc:
            error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
            _record_chunk_failure(deps, chunk, error)
            _start_next_chunk(deps, runner, job)
            if isinstance(exc, VideoctlError):
                raise JobFailed(f"job {job.id} attempt {attempt} chunk {chunk.idx} failed: {error.code}: "
                                f"{error.message}", hint=error.hint) from exc
            raise
        log.info("chunk succeeded", extra={"job_id": job.id, "attempt": attempt, "chunk": chunk.idx,
                                           "chunks_done": counted.chunks_done, "chunks": counted.chunks})
        if counted.chunks_done == counted.chunks and counted.runner_id == runner.id:
            # The lead's outputs are on the job now (else it kept the claim): read the plan again.
            return _assemble_and_complete(counted, video, chunked.Chunking.from_dict(counted.chunking), deps,
                                          progress, source=src)
    _mirror_chunked_job(deps, counted, video)
    _start_next_chunk(deps, runner, counted)
    return RunResult("chunk_encoded", counted, video)


def _mirror_chunked_job(deps: RunJobDeps, job: Job, video: Video) -> None:
    """The app's view of a chunked job (the Redis mirror), as each chunk succeeds: the job's
    progress and the time the chunks still to run will take. Best effort, as every mirroring."""
    if deps.mirror is None:
        return
    try:
        rows, now = deps.chunks.of_attempt(job.id, job.attempt), deps.jobs.now()
    except VideoctlError as exc:
        log.warning("could not read the chunks to mirror the job's progress: %s", exc.message)
        return
    eta = chunks_eta_s(rows, now, video_duration_s=video.duration_s)
    deps.mirror.publish(video_id=job.video_id, job_id=job.id, attempt=job.attempt, state="RUNNING",
                        progress=job.progress, eta_s=None if eta is None else round(eta, 1))


def _claim_chunk(chunks: ChunkRepository, job_id: int, attempt: int, runner: Runner) -> JobChunk:
    try:
        return chunks.claim(job_id, attempt, runner.chunk, runner.id, batch_job_id=runner.batch_job_id)
    except InvalidState:
        # A replay after a lost reply: the claim committed the first time.
        current = chunks.get(job_id, attempt, runner.chunk)
        if current.runner_id != runner.id:
            raise
        return current


def _finish_chunk(chunks: ChunkRepository, jobs: JobRepository, chunk: JobChunk, result: dict) -> Job:
    try:
        return chunks.finish(chunk, result)
    except InvalidState:
        # A replay after a lost reply: counted the first time, the job as it stands says the rest.
        current = chunks.get(chunk.job_id, chunk.attempt, chunk.idx)
        if current.state is not ChunkState.SUCCEEDED or current.runner_id != chunk.runner_id:
            raise
        return jobs.get(chunk.job_id)


def _record_chunk_failure(deps: RunJobDeps, chunk: JobChunk, error: VideoctlError) -> None:
    log.error("chunk failed", extra={"job_id": chunk.job_id, "attempt": chunk.attempt, "chunk": chunk.idx,
                                     "error_code": error.code, "error": error.message})
    try:
        deps.db_steps("recording the chunk's failure", lambda: deps.chunks.fail(
            chunk, error_code=error.code, error_message=error.message, runner_id=chunk.runner_id))
    except (InvalidState, DbError) as exc:  # fenced meanwhile, or the database stayed away: scan-stuck sees it
        log.warning("could not record the chunk's failure: %s", exc.message)


def _start_next_chunk(deps: RunJobDeps, runner: Runner, job: Job) -> None:
    """Locally, the CPU this chunk frees goes to the next chunk nobody started (best effort:
    scan-stuck starts what is left)."""
    if runner.on_batch or deps.chunk_executor is None:
        return
    try:
        chunked.start_next_chunk(job, chunks=deps.chunks, executor=deps.chunk_executor(False), cpus=_own_cpus())
    except VideoctlError as exc:
        log.warning("could not start the next chunk: %s: %s", exc.code, exc.message)


def _own_cpus() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:
        return None


def _assemble_and_complete(job: Job, video: Video, plan: chunked.Chunking, deps: RunJobDeps,
                           progress: Progress, source: Path | None = None) -> RunResult:
    """The last chunk (or the lead, when its whole-video outputs came last) holds the job's claim
    now: assemble the ladder, complete as one pass does."""
    log.info("assembling the ladder", extra={"job_id": job.id, "attempt": job.attempt, "chunks": job.chunks})
    prefix = keys.attempt_prefix(deps.settings.videos_root, video.id, job.id, job.attempt)
    heartbeat = Heartbeat(job, deps.open_jobs, interval_s=deps.settings.heartbeat_s, mirror=deps.mirror)

    def report(phase: str, percent: float) -> None:
        heartbeat.update(percent)
        progress(phase, percent)

    try:
        with heartbeat, scratch.scratch_dir(deps.settings.scratch_dir, scratch.job_scratch_name(job.id, job.attempt)) as workdir:
            rows = deps.db_steps("reading the chunks", lambda: deps.chunks.of_attempt(job.id, job.attempt))
            outputs = [ChunkOutput.from_dict(row.result) for row in rows]
            summary, measured = chunked.assemble(job, video, plan, outputs, store=deps.store, settings=deps.settings,
                                                 ffmpeg=deps.ffmpeg, workdir=workdir, prefix=prefix, progress=report,
                                                 source=source)
            heartbeat.check()
            done, video = _complete(deps, job, video, prefix, info=plan.info, measurements=plan.lead.measurements,
                                    quality=measured)
    except Fenced:
        raise
    except BaseException as exc:
        heartbeat.publish("FAILED")
        error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
        _record_failure(deps, job, error)
        if isinstance(exc, VideoctlError):
            raise JobFailed(f"job {job.id} attempt {job.attempt} failed assembling its chunks: {error.code}: "
                            f"{error.message}", hint=error.hint) from exc
        raise
    heartbeat.progress = 100
    heartbeat.publish("SUCCEEDED")
    log.info("job completed", extra={"job_id": job.id, "attempt": job.attempt, "hls_path": video.hls_path})
    return RunResult("assembled", done, video, EncodeResult(keys.master_key(prefix), plan.info, summary))
