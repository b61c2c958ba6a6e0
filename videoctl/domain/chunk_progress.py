"""Where a chunked attempt stands (#23): its chunks as an operator reads them, and how long the
chunks still to run will take. Pure.

The ETA is a schedule of the work left over the parallelism actually seen. Each chunk still to
run costs its length in source seconds times the speed its attempt measured: the finished
chunks' wall time per source second, or before any finished, what the running ones' progress
rates say, or before that the recent encodes' speed the caller passes. A running chunk that
has made progress of its own is timed by its own rate, as a one-pass job is (``domain.eta``).
The chunks left are then laid, in the order they are started, on as many slots as the most
chunks seen running at once (a local executor's spare CPUs, Batch's capacity), a retry no
earlier than its backoff ends. The ETA is when the last of them ends; the assembly follows.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from videoctl.domain.chunks import ChunkState
from videoctl.domain.eta import MIN_PROGRESS
from videoctl.domain.models import JobChunk

#: Chunks still to run whose try has not started: waiting to be sent, or sent and waiting for a CPU.
_WAITING = frozenset({ChunkState.PENDING, ChunkState.SUBMITTED})
#: Chunks whose last try failed: scan-stuck sends them again after a backoff (or gives up).
_RETRYING = frozenset({ChunkState.FAILED, ChunkState.RETRY_WAIT})


@dataclass(frozen=True)
class ChunkView:
    """One chunk of the current attempt, as `jobs show` and the jobs page show it."""

    index: int
    #: Its time range in the source; ``end_s`` None for the last chunk of a video of unknown length.
    start_s: float
    end_s: float | None
    state: ChunkState
    #: Its tries within the attempt (the first send is try 1).
    tries: int
    #: The container its try was sent to (Batch job id, ``local:PID:START``), and the runner that claimed it.
    executor_job_id: str | None
    runner_id: str | None
    heartbeat_at: datetime | None
    #: Seconds since its last heartbeat, while it runs.
    heartbeat_age_s: float | None
    progress: int
    started_at: datetime | None
    finished_at: datetime | None
    #: How long its try has run (to now while it runs; its whole run once it ended).
    elapsed_s: float | None
    #: When a retry is due (RETRY_WAIT), and why its last try failed.
    next_try_at: datetime | None
    error_code: str | None
    error_message: str | None
    #: The container size its try asked for (``2 vCPU, 4096 MiB``); None: the job definition's, or a local process.
    size: str | None = None


@dataclass(frozen=True)
class ChunkProgress:
    """The chunks of a chunked job's current attempt, counted, and the time the ones left will take."""

    attempt: int
    total: int
    done: int
    running: int
    #: Begun but not running yet: waiting to be sent, or for a CPU or capacity.
    waiting: int
    #: Failed, waiting for scan-stuck to send them again.
    retrying: int
    #: Of an attempt that failed or was cancelled: nothing more happens to them.
    abandoned: int
    #: How much of the source the chunks have encoded, in %, each chunk weighed by its length.
    percent: float
    #: The most chunks seen running at once in this attempt.
    parallelism: int
    #: Seconds until the last chunk still to run ends (0 when all are done), None when nothing says yet.
    eta_s: float | None
    #: The newest heartbeat of a running chunk: while the chunks run, the job's own is the lead's, old.
    heartbeat_at: datetime | None
    chunks: list[ChunkView]

    @property
    def summary(self) -> str:
        """``chunks 5/12 done, 3 running, 1 retrying``: the counts that are not zero."""
        parts = [f"chunks {self.done}/{self.total} done"]
        for count, what in ((self.running, "running"), (self.waiting, "waiting"), (self.retrying, "retrying"),
                            (self.abandoned, "abandoned")):
            if count:
                parts.append(f"{count} {what}")
        return ", ".join(parts)


def chunk_progress(chunks: Sequence[JobChunk], now: datetime, *, video_duration_s: float | None = None,
                   seconds_per_source_second: float | None = None) -> ChunkProgress | None:
    """The attempt's chunks (one attempt's rows), or None for an attempt with none."""
    if not chunks:
        return None
    lengths = _source_lengths(chunks, video_duration_s)
    counted = {state: sum(c.state is state for c in chunks) for state in ChunkState}
    total_length = sum(lengths)
    eta = chunks_eta_s(chunks, now, video_duration_s=video_duration_s,
                       seconds_per_source_second=seconds_per_source_second)
    percent = (sum(length * _progress(c) for c, length in zip(chunks, lengths, strict=True)) / total_length
               if total_length > 0 else 0.0)
    return ChunkProgress(
        attempt=chunks[0].attempt, total=len(chunks), done=counted[ChunkState.SUCCEEDED],
        running=counted[ChunkState.RUNNING], waiting=sum(counted[s] for s in _WAITING),
        retrying=sum(counted[s] for s in _RETRYING), abandoned=counted[ChunkState.ABANDONED],
        percent=round(percent, 1), parallelism=most_at_once(chunks, now),
        eta_s=None if eta is None else round(eta, 1),
        heartbeat_at=max((c.heartbeat_at for c in chunks if c.state is ChunkState.RUNNING and c.heartbeat_at),
                         default=None),
        chunks=[_view(c, now, video_duration_s) for c in chunks])


def chunks_eta_s(chunks: Sequence[JobChunk], now: datetime, *, video_duration_s: float | None = None,
                 seconds_per_source_second: float | None = None) -> float | None:
    """Seconds until the last chunk still to run ends (see the module's note); 0 when all are
    done; None for an abandoned attempt, or while nothing measured says how fast chunks go."""
    if any(c.state is ChunkState.ABANDONED for c in chunks):
        return None
    lengths = _source_lengths(chunks, video_duration_s)
    left = [(c, length) for c, length in zip(chunks, lengths, strict=True) if c.state is not ChunkState.SUCCEEDED]
    if not left:
        return 0.0
    speed = measured_speed(chunks, lengths, now) or seconds_per_source_second
    running: list[float] = []
    queued: list[tuple[float, int, float]] = []  # (ready in, index, seconds of work)
    for chunk, length in left:
        if chunk.state is ChunkState.RUNNING:
            remaining = _running_left(chunk, length, now, speed)
            if remaining is None:
                return None
            running.append(remaining)
            continue
        if speed is None:
            return None
        ready = max((chunk.next_try_at - now).total_seconds(), 0.0) \
            if chunk.state is ChunkState.RETRY_WAIT and chunk.next_try_at else 0.0
        queued.append((ready, chunk.idx, speed * length))
    slots = max(most_at_once(chunks, now), len(running), 1)
    return _makespan(running, sorted(queued), slots)


def measured_speed(chunks: Sequence[JobChunk], lengths: Sequence[float], now: datetime) -> float | None:
    """Wall seconds per source second: from the finished chunks' runs, else from the running ones'
    progress rates; None before either says."""
    finished = [(c, length) for c, length in zip(chunks, lengths, strict=True)
                if c.state is ChunkState.SUCCEEDED and c.started_at and c.finished_at and length > 0]
    if finished:
        return (sum((c.finished_at - c.started_at).total_seconds() for c, _ in finished)
                / sum(length for _, length in finished))
    rated = [(c, length) for c, length in zip(chunks, lengths, strict=True)
             if c.state is ChunkState.RUNNING and c.started_at and c.progress >= MIN_PROGRESS and length > 0]
    if rated:
        return (sum(_elapsed(c, now) * 100 / c.progress for c, _ in rated)
                / sum(length for _, length in rated))
    return None


def most_at_once(chunks: Sequence[JobChunk], now: datetime) -> int:
    """The most chunks whose tries ran at the same moment (each from its start to its end, or to now)."""
    edges = []
    for chunk in chunks:
        if chunk.started_at is None:
            continue
        edges += [(chunk.started_at, 1), (max(_ended(chunk, now), chunk.started_at), -1)]
    most = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start at the same instant
        current += step
        most = max(most, current)
    return most


def _running_left(chunk: JobChunk, length: float, now: datetime, speed: float | None) -> float | None:
    """A running chunk's seconds left: by its own rate once it has made progress, else by the speed."""
    elapsed = _elapsed(chunk, now)
    if chunk.progress >= 100:
        return 0.0
    if chunk.progress >= MIN_PROGRESS:
        return elapsed * (100 - chunk.progress) / chunk.progress
    if speed is None:
        return None
    return max(speed * length - elapsed, 0.0)


def _makespan(running: list[float], queued: list[tuple[float, int, float]], slots: int) -> float:
    """When the last chunk ends: the running ones hold their slots until they end, the others
    take the first slot free, in order, each no earlier than it is ready."""
    free = sorted(running + [0.0] * (slots - len(running)))
    ends = list(running)
    for ready, _, work in queued:
        start = max(heapq.heappop(free), ready)
        heapq.heappush(free, start + work)
        ends.append(start + work)
    return max(ends, default=0.0)


def _source_lengths(chunks: Sequence[JobChunk], video_duration_s: float | None) -> list[float]:
    """Each chunk's length in source seconds; the last one's (recorded as to the end) from the
    video's duration, else taken as long as the longest other."""
    known = [c.duration_s for c in chunks if c.duration_s is not None]
    fallback = max(known, default=0.0)
    lengths = []
    for chunk in chunks:
        if chunk.duration_s is not None:
            lengths.append(chunk.duration_s)
        elif video_duration_s is not None and video_duration_s > chunk.start_s:
            lengths.append(video_duration_s - chunk.start_s)
        else:
            lengths.append(fallback)
    return lengths


def _progress(chunk: JobChunk) -> int:
    return 100 if chunk.state is ChunkState.SUCCEEDED else chunk.progress


def _elapsed(chunk: JobChunk, now: datetime) -> float:
    if chunk.started_at is None:
        return 0.0
    return max((_ended(chunk, now) - chunk.started_at).total_seconds(), 0.0)


def _ended(chunk: JobChunk, now: datetime) -> datetime:
    """When the chunk's try stopped running: now while it runs, else when it finished (or, for one
    abandoned as it ran, when its row last changed)."""
    if chunk.state is ChunkState.RUNNING:
        return now
    return chunk.finished_at or chunk.updated_at


def _view(chunk: JobChunk, now: datetime, video_duration_s: float | None) -> ChunkView:
    end = chunk.start_s + chunk.duration_s if chunk.duration_s is not None else video_duration_s
    running = chunk.state is ChunkState.RUNNING
    return ChunkView(
        index=chunk.idx, start_s=chunk.start_s, end_s=None if end is None else round(end, 3), state=chunk.state,
        tries=chunk.tries, executor_job_id=chunk.executor_job_id, runner_id=chunk.runner_id,
        heartbeat_at=chunk.heartbeat_at,
        heartbeat_age_s=round(max((now - chunk.heartbeat_at).total_seconds(), 0.0), 1)
        if running and chunk.heartbeat_at else None,
        progress=_progress(chunk), started_at=chunk.started_at, finished_at=chunk.finished_at,
        elapsed_s=round(_elapsed(chunk, now), 1) if chunk.started_at else None,
        next_try_at=chunk.next_try_at, error_code=chunk.error_code, error_message=chunk.error_message,
        size=None if chunk.size is None else str(chunk.size))
