"""scan-stuck and the chunks of a long video, on the real PostgreSQL: each chunk retried alone (#23 point 3)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.chunking import FakeChunkExecutor
from tests.integration.test_chunk_repository import chunked_job
from videoctl.db.repositories import ChunkRepository, JobRepository, VideoRepository
from videoctl.domain.chunks import ChunkState
from videoctl.domain.executor import Remote
from videoctl.domain.sizing import ContainerSize, parse_sizing
from videoctl.domain.states import JobState
from videoctl.services.scan import scan_pass
from videoctl.services.submit import cancel_job
from videoctl.settings import Settings


@dataclasses.dataclass
class Executor(FakeChunkExecutor):
    """What scan-stuck asks and tells an executor, recorded; ``remotes`` is what it answers."""

    remotes: dict = dataclasses.field(default_factory=dict)
    cancelled: list = dataclasses.field(default_factory=list)
    stopped: list = dataclasses.field(default_factory=list)
    kind: str = "batch"
    limit: int | None = None

    def describe(self, ids):
        return {i: self.remotes[i] for i in ids if i in self.remotes}

    def chunk_slots(self):
        return None if self.limit is None else [frozenset({n}) for n in range(self.limit)]

    def cancel(self, executor_job_id, reason):
        self.cancelled.append(executor_job_id)

    def stop_chunks(self, executor_job_ids, reason):
        self.stopped.append(sorted(executor_job_ids))


@pytest.fixture
def settings():
    return Settings.from_env({"VIDEOCTL_BACKOFF_BASE_SECONDS": "0", "VIDEOCTL_BACKOFF_CAP_SECONDS": "0"})


def sent(conn, job):
    """The chunked job with its four chunks sent as one array's children, each claimed by its container."""
    chunks = ChunkRepository(conn)
    for row in chunks.of_attempt(job.id, job.attempt):
        chunks.mark_sent(row, f"array:{row.idx}")
        chunks.claim(job.id, job.attempt, row.idx, f"array:{row.idx}", batch_job_id=f"array:{row.idx}")
    return chunks


def scan(conn, executor, settings):
    return scan_pass(jobs=JobRepository(conn), videos=VideoRepository(conn), executor=executor, settings=settings,
                     chunks=ChunkRepository(conn))


def test_a_chunk_whose_container_died_is_sent_again_alone_and_the_rest_run_on(conn, settings):
    job = chunked_job(conn)
    chunks = sent(conn, job)
    executor = Executor(remotes={"array:0": Remote("RUNNING"), "array:1": Remote("FAILED", "OOM killed (exit code 137)"),
                                 "array:2": Remote("RUNNING"), "array:3": Remote("RUNNING")})
    first = scan(conn, executor, settings)
    [item] = first.items
    assert (item.chunk, item.action, item.outcome) == (1, "fail_chunk", "done")
    assert "OOM killed" in item.reason and "chunk 1 again" in item.reason
    assert chunks.get(job.id, 1, 1).state is ChunkState.RETRY_WAIT
    second = scan(conn, executor, settings)
    [again] = second.items
    assert (again.chunk, again.action, again.outcome) == (1, "send_chunk", "done")
    assert executor.started == [(1, 1)]  # that chunk alone, as a job of its own
    row = chunks.get(job.id, 1, 1)
    assert (row.state, row.tries, row.executor_job_id) == (ChunkState.SUBMITTED, 2, "fake:1:1")
    assert {r.state for r in chunks.of_attempt(job.id, 1) if r.idx != 1} == {ChunkState.RUNNING}
    assert JobRepository(conn).get(job.id).state is JobState.RUNNING  # the attempt goes on
    assert second.summary()["chunks_sent"] == 1 and first.summary()["chunk_tries_failed"] == 1


def test_a_stale_chunk_is_stopped_and_retried(conn, settings):
    job = chunked_job(conn)
    chunks = sent(conn, job)
    conn.execute("UPDATE job_chunk SET heartbeat_at = now() - interval '1 hour' WHERE job_id = %s AND idx = 2",
                 (job.id,))
    executor = Executor(remotes={f"array:{i}": Remote("RUNNING") for i in range(4)})
    [item] = scan(conn, executor, settings).items
    assert (item.chunk, item.rule) == (2, "chunk_stale")
    assert executor.cancelled == ["array:2"]  # that child alone, not the array
    assert chunks.get(job.id, 1, 2).state is ChunkState.RETRY_WAIT


def test_a_chunk_that_keeps_failing_fails_the_attempt_under_the_jobs_policy(conn, settings):
    job = chunked_job(conn)  # max_attempts 3
    chunks = sent(conn, job)
    conn.execute("UPDATE job_chunk SET tries = 3 WHERE job_id = %s AND idx = 0", (job.id,))
    row = chunks.get(job.id, 1, 0)
    chunks.fail(row, error_code="media_error", error_message="ffmpeg died", runner_id="array:0")
    executor = Executor(remotes={f"array:{i}": Remote("RUNNING") for i in range(1, 4)})
    [item] = scan(conn, executor, settings).items
    assert item.action == "fail_attempt" and "tries are used up (3/3)" in item.reason
    failed = JobRepository(conn).get(job.id)
    assert failed.state is JobState.RETRY_WAIT and failed.error_code == "media_error"
    assert "chunk 0 cannot succeed" in failed.error_message
    # Its chunks are abandoned and their containers stopped: the array as a whole.
    assert {r.state for r in chunks.of_attempt(job.id, 1)} == {ChunkState.ABANDONED}
    assert executor.stopped == [[f"array:{i}" for i in range(4)]]


def test_a_permanent_error_in_a_chunk_makes_the_job_dead(conn, settings):
    job = chunked_job(conn)
    chunks = sent(conn, job)
    chunks.fail(chunks.get(job.id, 1, 3), error_code="invalid_input", error_message="bad frame", runner_id="array:3")
    scan(conn, Executor(remotes={f"array:{i}": Remote("RUNNING") for i in range(3)}), settings)
    assert JobRepository(conn).get(job.id).state is JobState.DEAD


def lead_outputs_recorded(conn, job):
    """The lead made its whole-video outputs while the chunks encoded, and recorded them."""
    return ChunkRepository(conn).finish_whole(job, {"whole": {}, "audio_durations": {}, "measurements": None})


def test_the_lead_that_ended_after_sending_its_chunks_and_recording_its_outputs_is_not_a_failure(conn, settings):
    """A chunked attempt's lead container ends (SUCCEEDED) and the job's heartbeat stops: its chunks speak for it."""
    job = chunked_job(conn)
    sent(conn, job)
    lead_outputs_recorded(conn, job)
    conn.execute("UPDATE video_transcode_job SET executor_job_id = 'lead', heartbeat_at = now() - interval '1 hour' "
                 "WHERE id = %s", (job.id,))
    executor = Executor(remotes={"lead": Remote("SUCCEEDED", exit_code=0),
                                 **{f"array:{i}": Remote("RUNNING") for i in range(4)}})
    assert scan(conn, executor, settings).items == []
    assert JobRepository(conn).get(job.id).state is JobState.RUNNING


@pytest.mark.parametrize("lead", ["quiet", "gone"])
def test_a_lead_lost_before_recording_its_outputs_fails_the_attempt_and_stops_its_chunks(conn, settings, lead):
    """While its chunks encode, the lead makes the whole-video outputs: it is watched as any
    running attempt's container until it has recorded them (its heartbeat, its container)."""
    job = chunked_job(conn)
    sent(conn, job)
    stale = "now() - interval '1 hour'" if lead == "quiet" else "now()"
    conn.execute(f"UPDATE video_transcode_job SET executor_job_id = 'lead', heartbeat_at = {stale} WHERE id = %s",
                 (job.id,))
    remotes = {f"array:{i}": Remote("RUNNING") for i in range(4)}
    remotes["lead"] = Remote("RUNNING") if lead == "quiet" else Remote("FAILED", "OutOfMemoryError", exit_code=137)
    executor = Executor(remotes=remotes)
    items = scan(conn, executor, settings).items
    assert [(i.chunk, i.rule) for i in items] == [(None, "stale_heartbeat" if lead == "quiet" else "executor_failed")]
    assert JobRepository(conn).get(job.id).state is not JobState.RUNNING
    assert executor.stopped == [[f"array:{i}" for i in range(4)]]


def test_a_lead_that_died_before_recording_its_array_has_it_adopted(conn, settings):
    job = chunked_job(conn)  # rows created, never marked sent
    conn.execute("UPDATE job_chunk SET updated_at = now() - interval '1 hour' WHERE job_id = %s", (job.id,))

    class Adopting(Executor):
        def find_chunk(self, *, video_id, job_id, attempt, index, tries):
            return f"array-found:{index}"

    executor = Adopting()
    report = scan(conn, executor, settings)
    assert sorted(i.chunk for i in report.items) == [0, 1, 2, 3] and executor.started == []
    assert [r.executor_job_id for r in ChunkRepository(conn).of_attempt(job.id, 1)] == [
        f"array-found:{i}" for i in range(4)]


def test_the_local_queue_is_started_by_scan_only_when_no_chunk_process_is_left_to_start_it(conn, settings):
    job = chunked_job(conn)
    chunks = ChunkRepository(conn)
    first = chunks.reserve_pending(job.id, 1)
    chunks.mark_sent(first, "local:1:1")
    conn.execute("UPDATE job_chunk SET updated_at = now() - interval '1 hour' WHERE job_id = %s", (job.id,))
    busy = Executor(kind="local", limit=1, remotes={"local:1:1": Remote("RUNNING")})
    assert scan(conn, busy, settings).items == []  # chunk 0 runs and will start chunk 1 as it ends
    idle = Executor(kind="local", limit=2, remotes={"local:1:1": Remote("RUNNING")})
    [item] = scan(conn, idle, settings).items  # a CPU is free and nobody is going to use it
    assert (item.chunk, item.action) == (1, "send_chunk") and idle.started == [(1, 1)]


def test_cancel_terminates_the_array_and_every_chunk_sent_alone(conn):
    job = chunked_job(conn)
    chunks = sent(conn, job)
    row = chunks.get(job.id, 1, 2)
    chunks.fail(row, error_code="media_error", error_message="x", runner_id="array:2")
    chunks.begin_try(chunks.get(job.id, 1, 2))
    chunks.mark_sent(chunks.get(job.id, 1, 2), "single-2")
    executor = Executor()
    cancel_job(job.id, "operator", jobs=JobRepository(conn), videos=VideoRepository(conn), executor=executor)
    assert executor.stopped == [["array:0", "array:1", "array:3", "single-2"]]
    assert {r.state for r in chunks.of_attempt(job.id, 1)} == {ChunkState.ABANDONED}


def test_the_dry_run_plans_chunk_decisions_and_changes_nothing(conn, settings):
    job = chunked_job(conn)
    chunks = sent(conn, job)
    executor = Executor(remotes={"array:0": Remote("MISSING"), **{f"array:{i}": Remote("RUNNING") for i in (1, 2, 3)}})
    report = scan_pass(jobs=JobRepository(conn), videos=VideoRepository(conn), executor=executor,
                       settings=settings, chunks=chunks, dry_run=True)
    assert [(i.chunk, i.action, i.outcome) for i in report.items] == [(0, "fail_chunk", "planned")]
    assert chunks.get(job.id, 1, 0).state is ChunkState.RUNNING


@pytest.mark.parametrize(("failed", "size"), [
    (1, ContainerSize(1, 2048)),  # 10 s of 1080p30: 0.62 Gpx
    (3, ContainerSize(2, 4096)),  # the last chunk runs from 30 s to the source's end, 47 s: 1.06 Gpx
])
def test_a_chunk_sent_again_alone_is_sized_by_its_own_part_of_the_video(conn, settings, failed, size):
    """The table applied to the chunk's own stretch of the source (its duration × the source's
    pixels × fps), not the attempt's size (which the whole video, 2.9 Gpx, gave it)."""
    job = chunked_job(conn)
    VideoRepository(conn).set_media_info(job.video_id, duration_s=47.0, width=1920, height=1080, has_audio=True,
                                         fps=30.0)
    conn.execute("UPDATE video_transcode_job SET size_vcpus = 4, size_memory_mib = 8192 WHERE id = %s", (job.id,))
    chunks = sent(conn, job)
    executor = Executor(remotes={f"array:{i}": Remote("RUNNING") for i in range(4)},
                        sizing=parse_sizing("0:1/2048,1:2/4096,2:4/8192"))
    executor.remotes[f"array:{failed}"] = Remote("FAILED", "OOM killed (exit code 137)")
    scan(conn, executor, settings)  # the try failed
    scan(conn, executor, settings)  # and is sent again alone
    assert executor.sizes == {(1, failed): size}
    row = chunks.get(job.id, 1, failed)
    assert (row.tries, row.executor_job_id, row.size) == (2, f"fake:1:{failed}", size)  # recorded with its try
    assert JobRepository(conn).get(job.id).size == ContainerSize(4, 8192)  # the lead keeps the attempt's


def test_a_chunk_sent_again_without_a_sizing_table_asks_for_no_size(conn, settings):
    job = chunked_job(conn)
    VideoRepository(conn).set_media_info(job.video_id, duration_s=40.0, width=1920, height=1080, has_audio=True,
                                         fps=30.0)
    chunks = sent(conn, job)
    executor = Executor(remotes={"array:0": Remote("FAILED", "OOM killed (exit code 137)"),
                                 **{f"array:{i}": Remote("RUNNING") for i in (1, 2, 3)}})
    scan(conn, executor, settings)
    scan(conn, executor, settings)
    assert executor.sizes == {(1, 0): None} and chunks.get(job.id, 1, 0).size is None
