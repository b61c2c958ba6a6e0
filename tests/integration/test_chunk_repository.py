"""The chunks of a chunked attempt on a real PostgreSQL: rows, claims, fencing and the atomic counter."""

from __future__ import annotations

import dataclasses
import threading
from fractions import Fraction

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.test_repositories import make_video
from videoctl.db.repositories import ChunkRepository, JobRepository
from videoctl.domain.chunks import ChunkState, plan_chunks
from videoctl.domain.errors import Fenced, InvalidState
from videoctl.domain.sizing import ContainerSize
from videoctl.domain.states import JobState

PLAN = plan_chunks(40, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)  # 4 chunks


def running_job(conn, runner="lead"):
    jobs = JobRepository(conn)
    job = jobs.create(make_video(conn).id, max_attempts=3, begin=True)
    job = jobs.mark_submitted(job, "batch-lead")
    return jobs.claim(job, runner, batch_job_id=None)


def chunked_job(conn):
    job = running_job(conn)
    return ChunkRepository(conn).create(job, PLAN, {"plan": PLAN.to_dict()})


def test_the_lead_creates_one_row_per_chunk_and_the_job_learns_its_plan(conn):
    job = chunked_job(conn)
    assert (job.chunks, job.chunks_done, job.chunking["plan"]["count"]) == (4, 0, 4)
    rows = ChunkRepository(conn).of_attempt(job.id, job.attempt)
    assert [(r.idx, r.state, r.tries, r.start_s, r.duration_s) for r in rows] == [
        (0, ChunkState.PENDING, 1, 0.0, 10.0), (1, ChunkState.PENDING, 1, 10.0, 10.0),
        (2, ChunkState.PENDING, 1, 20.0, 10.0), (3, ChunkState.PENDING, 1, 30.0, None)]
    assert all(row.unsent for row in rows)


def test_only_the_lead_holding_the_attempt_can_cut_it_and_only_once(conn):
    job = chunked_job(conn)
    with pytest.raises(InvalidState, match="chunked already"):
        ChunkRepository(conn).create(job, PLAN, {})
    other = running_job(conn)
    stranger = dataclasses.replace(other, runner_id="someone else")
    with pytest.raises(Fenced, match="held by runner lead"):
        ChunkRepository(conn).create(stranger, PLAN, {})


def test_a_new_attempt_starts_without_chunks(conn):
    jobs, chunks = JobRepository(conn), ChunkRepository(conn)
    job = chunked_job(conn)
    failed = jobs.fail(job, error_code="media_error", error_message="boom", runner_id=None)
    assert {r.state for r in chunks.of_attempt(job.id, job.attempt)} == {ChunkState.ABANDONED}
    again = jobs.begin_attempt(jobs.schedule_retry(failed, 0))
    assert (again.attempt, again.chunks, again.chunks_done, again.chunking) == (2, None, 0, None)


def test_a_chunk_of_an_abandoned_attempt_is_fenced_out(conn):
    jobs, chunks = JobRepository(conn), ChunkRepository(conn)
    job = chunked_job(conn)
    claimed = chunks.claim(job.id, job.attempt, 0, "chunk-0", batch_job_id=None)
    jobs.fail(job, error_code="stale", error_message="quiet", runner_id=None)
    with pytest.raises(Fenced, match="FAILED"):
        chunks.heartbeat(claimed, 50)
    with pytest.raises(Fenced):
        chunks.finish(claimed, {})
    with pytest.raises(Fenced):
        chunks.claim(job.id, job.attempt, 1, "chunk-1", batch_job_id=None)


def test_a_cancelled_job_fences_its_chunks(conn):
    jobs, chunks = JobRepository(conn), ChunkRepository(conn)
    job = chunked_job(conn)
    claimed = chunks.claim(job.id, job.attempt, 2, "chunk-2", batch_job_id=None)
    jobs.cancel(job.id, "operator")
    with pytest.raises(Fenced, match="CANCELLED"):
        chunks.heartbeat(claimed, 10)
    assert {r.state for r in chunks.of_attempt(job.id, job.attempt)} == {ChunkState.ABANDONED}


def test_inside_batch_only_the_container_sent_for_the_try_claims_it(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    row = chunks.get(job.id, job.attempt, 1)
    assert chunks.mark_sent(row, "array-1:1").state is ChunkState.SUBMITTED
    assert chunks.mark_sent(row, "array-2:1") is None  # its container is known already
    with pytest.raises(Fenced, match="sent as executor job array-1:1"):
        chunks.claim(job.id, job.attempt, 1, "array-9:1", batch_job_id="array-9:1")
    claimed = chunks.claim(job.id, job.attempt, 1, "array-1:1", batch_job_id="array-1:1")
    assert (claimed.state, claimed.runner_id) == (ChunkState.RUNNING, "array-1:1")
    with pytest.raises(InvalidState, match="is RUNNING; it cannot be claimed"):
        chunks.claim(job.id, job.attempt, 1, "array-1:1", batch_job_id="array-1:1")


def test_a_chunks_try_records_the_size_it_was_sent_with_and_its_next_try_starts_without(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    row = chunks.get(job.id, job.attempt, 2)
    assert row.size is None  # not sent yet
    sent = chunks.mark_sent(row, "array-1:2", ContainerSize(1, 2048))
    assert (sent.size_vcpus, sent.size_memory_mib, sent.size) == (1.0, 2048, ContainerSize(1, 2048))
    assert chunks.get(job.id, job.attempt, 2).size == ContainerSize(1, 2048)
    failed = chunks.fail(sent, error_code="media_error", error_message="boom", runner_id=None)
    again = chunks.begin_try(failed)
    assert (again.tries, again.executor_job_id, again.size) == (2, None, None)
    assert chunks.mark_sent(again, "single-2").size is None  # sent with no size: the job definition's
    with pytest.raises(psycopg.errors.CheckViolation):  # a size is both numbers or neither
        conn.execute("UPDATE job_chunk SET size_vcpus = 2 WHERE job_id = %s AND idx = 0", (job.id,))


#: What the lead records of its whole-video outputs (services/chunked.LeadOutputs), as stored.
LEAD_OUTPUTS = {"whole": {}, "audio_durations": {}, "measurements": None}


def test_the_chunk_that_completes_the_count_takes_the_jobs_claim(conn):
    chunks = ChunkRepository(conn)
    job = chunks.finish_whole(chunked_job(conn), LEAD_OUTPUTS)
    assert (job.runner_id, job.chunks_done, job.chunking["whole"]) == ("lead", 0, {})
    claimed = [chunks.claim(job.id, job.attempt, i, f"chunk-{i}", batch_job_id=None) for i in range(4)]
    counts = []
    for row in (claimed[2], claimed[0], claimed[3]):
        done = chunks.finish(row, {"index": row.idx})
        counts.append(done.chunks_done)
        assert done.runner_id == "lead"  # not the last: the job's claim stays where it is
        assert done.progress == 25 + 69 * done.chunks_done // 4  # the job's progress follows its chunks
    last = chunks.finish(claimed[1], {"index": 1})
    assert counts == [1, 2, 3] and last.progress == 94
    assert (last.chunks_done, last.runner_id, last.state) == (4, "chunk-1", JobState.RUNNING)
    assert [r.result for r in chunks.of_attempt(job.id, job.attempt)] == [{"index": i} for i in range(4)]
    # The assembler now holds the job like any runner: the lead's writes are fenced.
    lead = dataclasses.replace(job, runner_id="lead")
    with pytest.raises(Fenced):
        JobRepository(conn).heartbeat(lead, 99)
    assert JobRepository(conn).heartbeat(last, 99) == 99


def test_when_the_lead_records_its_outputs_last_it_keeps_the_claim_and_assembles(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    for i in range(4):
        done = chunks.finish(chunks.claim(job.id, job.attempt, i, f"chunk-{i}", batch_job_id=None), {"index": i})
        assert done.runner_id == "lead"  # the lead's outputs are not recorded: nobody may assemble yet
    assert done.chunks_done == 4 and "whole" not in done.chunking
    recorded = chunks.finish_whole(job, LEAD_OUTPUTS)
    assert (recorded.chunks_done, recorded.runner_id, recorded.state) == (4, "lead", JobState.RUNNING)
    # A replay after a lost reply finds the write it made; another runner's is fenced.
    assert chunks.finish_whole(job, LEAD_OUTPUTS).chunking == recorded.chunking
    with pytest.raises(Fenced):
        chunks.finish_whole(dataclasses.replace(job, runner_id="someone-else"), LEAD_OUTPUTS)


def test_a_chunk_counts_once(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    claimed = chunks.claim(job.id, job.attempt, 0, "chunk-0", batch_job_id=None)
    chunks.finish(claimed, {})
    with pytest.raises(InvalidState, match="SUCCEEDED"):
        chunks.finish(claimed, {})
    assert JobRepository(conn).get(job.id).chunks_done == 1


def test_chunks_finishing_together_count_exactly_once_each_and_one_assembles(db_url, conn):
    """The counter under contention: every chunk finishes at the same moment on its own connection."""
    plan = plan_chunks(200, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)  # 20 chunks
    job = ChunkRepository(conn).create(running_job(conn), plan, {})
    claimed = [ChunkRepository(conn).claim(job.id, job.attempt, i, f"chunk-{i}", batch_job_id=None)
               for i in range(plan.count)]
    barrier = threading.Barrier(plan.count + 1)
    seen: list[int] = []
    assemblers: list[str] = []

    def finish(row):
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as own:
            barrier.wait()
            done = ChunkRepository(own).finish(row, {})
            seen.append(done.chunks_done)
            if done.chunks_done == done.chunks and done.runner_id == row.runner_id:
                assemblers.append(row.runner_id)

    def lead_finishes():  # the lead records its outputs at the same moment
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as own:
            barrier.wait()
            done = ChunkRepository(own).finish_whole(job, LEAD_OUTPUTS)
            if done.chunks_done == done.chunks:
                assemblers.append("lead")

    threads = [threading.Thread(target=finish, args=(row,)) for row in claimed]
    threads.append(threading.Thread(target=lead_finishes))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, plan.count + 1))
    done = JobRepository(conn).get(job.id)
    assert done.chunks_done == plan.count and "whole" in done.chunking
    assert assemblers == [done.runner_id]  # exactly one assembles: the last chunk, or the lead


def test_the_local_executor_reserves_each_pending_chunk_once(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    reserved = [chunks.reserve_pending(job.id, job.attempt) for _ in range(5)]
    assert [r.idx for r in reserved[:4]] == [0, 1, 2, 3] and reserved[4] is None
    assert all(r.state is ChunkState.SUBMITTED and r.unsent for r in reserved[:4])
    assert chunks.mark_sent(reserved[0], "local:1:2").executor_job_id == "local:1:2"


def test_a_failed_chunk_keeps_its_reason(conn):
    chunks = ChunkRepository(conn)
    job = chunked_job(conn)
    claimed = chunks.claim(job.id, job.attempt, 3, "chunk-3", batch_job_id=None)
    with pytest.raises(Fenced, match="held by runner chunk-3"):
        chunks.fail(claimed, error_code="media_error", error_message="x", runner_id="intruder")
    failed = chunks.fail(claimed, error_code="media_error", error_message="ffmpeg died", runner_id="chunk-3")
    assert (failed.state, failed.error_code, failed.failure_repeats) == (ChunkState.FAILED, "media_error", 1)
