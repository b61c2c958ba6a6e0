"""A chunked attempt's progress and ETA (#23 point 3), from its chunk rows: the rules of
videoctl/domain/chunk_progress.py on hand-made rows with known times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videoctl.domain.chunk_progress import chunk_progress, chunks_eta_s, measured_speed, most_at_once
from videoctl.domain.chunks import ChunkState
from videoctl.domain.models import JobChunk

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CHUNK_S = 10.0


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def chunk(idx: int, state: ChunkState = ChunkState.PENDING, *, started: float | None = None,
          finished: float | None = None, progress: int = 0, last: bool = False, tries: int = 1,
          next_try_in: float | None = None, heartbeat: float | None = None, **extra) -> JobChunk:
    """Chunk *idx* of job 7 attempt 2; times in seconds before NOW."""
    return JobChunk(
        job_id=7, attempt=2, idx=idx, state=state, tries=tries, start_s=idx * CHUNK_S,
        duration_s=None if last else CHUNK_S, executor_job_id=extra.get("executor_job_id"),
        runner_id=extra.get("runner_id"), heartbeat_at=None if heartbeat is None else ago(heartbeat),
        progress=progress, next_try_at=None if next_try_in is None else NOW + timedelta(seconds=next_try_in),
        error_code=extra.get("error_code"), error_message=extra.get("error_message"), failure_code=None,
        failure_repeats=0, result=None, created_at=ago(100), submitted_at=ago(90),
        started_at=None if started is None else ago(started), finished_at=None if finished is None else ago(finished),
        updated_at=ago(finished if finished is not None else 0))


def test_counts_summary_and_percent_weighed_by_each_chunks_length():
    rows = [chunk(0, ChunkState.SUCCEEDED, started=60, finished=40),
            chunk(1, ChunkState.RUNNING, started=20, progress=50, heartbeat=3, runner_id="r1",
                  executor_job_id="local:11:22"),
            chunk(2, ChunkState.RETRY_WAIT, started=50, finished=45, tries=2, next_try_in=10, error_code="stale"),
            chunk(3, ChunkState.SUBMITTED),
            chunk(4, ChunkState.PENDING, last=True)]
    seen = chunk_progress(rows, NOW, video_duration_s=45)  # the last chunk is 5 s long
    assert (seen.total, seen.done, seen.running, seen.waiting, seen.retrying, seen.abandoned) == (5, 1, 1, 2, 1, 0)
    assert seen.summary == "chunks 1/5 done, 1 running, 2 waiting, 1 retrying"
    assert seen.percent == round((10 * 100 + 10 * 50) / 45, 1)  # 33.3: chunk 1 is half of 10 s of 45
    assert seen.attempt == 2 and [c.index for c in seen.chunks] == [0, 1, 2, 3, 4]
    running = seen.chunks[1]
    assert (running.start_s, running.end_s, running.heartbeat_age_s, running.elapsed_s) == (10.0, 20.0, 3.0, 20.0)
    assert (running.runner_id, running.executor_job_id) == ("r1", "local:11:22")
    assert seen.chunks[0].elapsed_s == 20.0 and seen.chunks[0].progress == 100 and seen.chunks[0].heartbeat_age_s is None
    assert seen.chunks[4].end_s == 45  # to the end of the video
    assert chunk_progress(rows, NOW).chunks[4].end_s is None  # its length unknown: no end to show
    assert seen.chunks[2].tries == 2 and seen.chunks[2].error_code == "stale"
    assert seen.heartbeat_at == ago(3)  # the running chunk's: the others' are older or none
    assert chunk_progress([], NOW) is None


def test_the_eta_lays_the_chunks_left_on_the_parallelism_seen_at_the_measured_speed():
    rows = [chunk(0, ChunkState.SUCCEEDED, started=45, finished=25),   # 20 s each, at once: 2 s per source s
            chunk(1, ChunkState.SUCCEEDED, started=45, finished=25),
            chunk(2, ChunkState.RUNNING, started=5, progress=2),       # too little to trust: 2 × 10 − 5 = 15 s
            chunk(3), chunk(4, last=True)]                             # 20 s, then 2 × 5 = 10 s
    assert measured_speed(rows, [10, 10, 10, 10, 5], NOW) == 2.0
    assert most_at_once(rows, NOW) == 2
    # Two slots: chunk 2 ends in 15 s; chunk 3 takes the free slot (0 → 20), chunk 4 the first free after (15 → 25).
    assert chunks_eta_s(rows, NOW, video_duration_s=45) == 25
    # Seen one at a time, the same work takes longer: 15, then 20, then 10.
    one_by_one = [chunk(0, ChunkState.SUCCEEDED, started=65, finished=45),
                  chunk(1, ChunkState.SUCCEEDED, started=45, finished=25), *rows[2:]]
    assert chunks_eta_s(one_by_one, NOW, video_duration_s=45) == 45


def test_a_running_chunk_with_progress_of_its_own_is_timed_by_its_own_rate():
    rows = [chunk(0, ChunkState.RUNNING, started=10, progress=50), chunk(1, ChunkState.RUNNING, started=30, progress=25)]
    assert chunks_eta_s(rows, NOW) == 90  # chunk 1: 30 s for 25 %, 90 s to go; chunk 0: 10 s
    # Before any chunk finished, their rates give the speed for the chunks still waiting:
    # (10 / 0.5 + 30 / 0.25) / 20 source seconds = 7 s per source second.
    waiting = [*rows, chunk(2)]
    assert measured_speed(waiting, [10, 10, 10], NOW) == 7
    assert chunks_eta_s(waiting, NOW) == 90  # chunk 2 (70 s) starts when chunk 0 ends, in 10 s: 80 s
    assert chunks_eta_s([*waiting, chunk(3)], NOW) == 150  # chunk 3 follows chunk 2's slot or chunk 1's: 80 + 70


def test_a_retry_starts_no_earlier_than_its_backoff_ends():
    done = chunk(0, ChunkState.SUCCEEDED, started=30, finished=20)  # 1 s per source second, one at a time
    assert chunks_eta_s([done, chunk(1, ChunkState.RETRY_WAIT, next_try_in=60, tries=2)], NOW) == 70
    assert chunks_eta_s([done, chunk(1, ChunkState.RETRY_WAIT, next_try_in=-5, tries=2)], NOW) == 10  # due already
    assert chunks_eta_s([done, chunk(1, ChunkState.FAILED, started=8, finished=2)], NOW) == 10  # sent again soon


def test_nothing_measured_says_nothing_unless_recent_encodes_give_a_speed():
    rows = [chunk(0, ChunkState.RUNNING, started=3, progress=1), chunk(1)]
    assert chunks_eta_s(rows, NOW) is None
    assert chunks_eta_s(rows, NOW, seconds_per_source_second=3) == 57  # 30 − 3, then 30 on the one slot seen
    assert chunks_eta_s([chunk(0), chunk(1)], NOW, seconds_per_source_second=3) == 60


def test_done_is_zero_and_an_abandoned_attempt_has_no_eta():
    done = [chunk(i, ChunkState.SUCCEEDED, started=20, finished=10) for i in range(3)]
    assert chunks_eta_s(done, NOW) == 0
    assert chunk_progress(done, NOW).percent == 100
    abandoned = [done[0], chunk(1, ChunkState.ABANDONED, started=15), chunk(2, ChunkState.ABANDONED)]
    seen = chunk_progress(abandoned, NOW)
    assert seen.eta_s is None and seen.summary == "chunks 1/3 done, 2 abandoned"


@pytest.mark.parametrize(("intervals", "most"), [
    ([(30, 20), (20, 10), (10, None)], 1),   # one after the other, an end and a start at the same instant
    ([(30, 10), (25, 15), (20, None)], 3),
    ([(30, 25), (20, None), (15, None)], 2),
    ([], 0),
])
def test_the_parallelism_seen_is_the_most_chunks_running_at_one_moment(intervals, most):
    rows = [chunk(i, ChunkState.RUNNING if end is None else ChunkState.SUCCEEDED, started=start, finished=end)
            for i, (start, end) in enumerate(intervals)]
    assert most_at_once(rows, NOW) == most
