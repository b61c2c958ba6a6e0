"""The repositories on a real PostgreSQL: guarded transitions, fencing, and the refusals that say why."""

import dataclasses
import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain.errors import Fenced, InvalidState, NotFound
from videoctl.domain.states import JobState, VideoStatus


def make_video(conn, title="clip"):
    videos = VideoRepository(conn)
    vid = videos.next_id()
    return videos.add(vid, title=title, source_key=f"videos/{vid}/source/a.mp4", size_bytes=10)


def test_video_roundtrip(conn):
    video = make_video(conn)
    videos = VideoRepository(conn)
    assert videos.get(video.id) == video
    assert video.status is VideoStatus.UPLOADED
    assert [v.id for v in videos.list(status=VideoStatus.UPLOADED)] == [video.id]
    with pytest.raises(NotFound, match="video 999"):
        videos.get(999)


def test_second_active_job_is_refused_naming_the_active_one(conn):
    video = make_video(conn)
    jobs = JobRepository(conn)
    first = jobs.create(video.id, max_attempts=3)
    with pytest.raises(InvalidState) as info:
        jobs.create(video.id, max_attempts=3)
    assert f"job {first.id}" in info.value.message and "QUEUED" in info.value.message
    assert len(jobs.list(video_id=video.id)) == 1
    # Once the first is finished a new job is allowed.
    jobs.cancel(first.id, "test")
    assert jobs.create(video.id, max_attempts=3).id != first.id


def test_two_connections_race_one_transition_exactly_one_wins(db_url, conn):
    video = make_video(conn)
    job = JobRepository(conn).create(video.id, max_attempts=3)
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def begin():
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as c:
            barrier.wait()
            try:
                outcomes.append(JobRepository(c).begin_attempt(job))
            except InvalidState as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=begin) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0].attempt == 1
    assert isinstance(losers[0], Fenced)  # it saw attempt 1, not 0
    assert JobRepository(conn).get(job.id).attempt == 1


def test_claim_and_fencing(conn):
    video = make_video(conn)
    jobs = JobRepository(conn)
    job = jobs.begin_attempt(jobs.create(video.id, max_attempts=3))
    job = jobs.mark_submitted(job, "batch-1")
    assert job.state is JobState.SUBMITTED

    # A container started for another Batch job cannot claim this attempt.
    with pytest.raises(Fenced, match="batch-1"):
        jobs.claim(job, "batch-2", batch_job_id="batch-2")
    mine = jobs.claim(job, "batch-1", batch_job_id="batch-1")
    assert mine.state is JobState.RUNNING and mine.runner_id == "batch-1"

    # A second claim of the same attempt is refused: the job is RUNNING.
    with pytest.raises(InvalidState, match="RUNNING"):
        jobs.claim(job, "batch-1", batch_job_id="batch-1")

    # Another runner's writes are fenced out.
    intruder = dataclasses.replace(mine, runner_id="someone-else")
    with pytest.raises(Fenced, match="held by runner batch-1"):
        jobs.heartbeat(intruder, 50)
    with pytest.raises(Fenced):
        jobs.complete(intruder)
    with pytest.raises(Fenced):
        jobs.fail(intruder, error_code="media_error", error_message="x", runner_id="someone-else")

    assert jobs.heartbeat(mine, 40) == 40
    assert jobs.heartbeat(mine, 30) == 40  # progress never goes back
    done = jobs.complete(mine, output_prefix="videos/1/hls/1-1/")
    assert done.state is JobState.SUCCEEDED and done.progress == 100


def test_stale_attempt_is_fenced_after_resubmission(conn):
    video = make_video(conn)
    jobs = JobRepository(conn)
    job = jobs.begin_attempt(jobs.create(video.id, max_attempts=3))
    first_runner = jobs.claim(job, "local-1", batch_job_id=None)
    # scan-stuck fails the attempt and resubmits.
    failed = jobs.fail(first_runner, error_code="stale", error_message="no heartbeat", runner_id=None)
    waiting = jobs.schedule_retry(failed, 0)
    second = jobs.begin_attempt(waiting)
    assert second.attempt == 2
    with pytest.raises(Fenced, match="attempt 2, not 1"):
        jobs.complete(first_runner)
    with pytest.raises(Fenced):
        jobs.heartbeat(first_runner, 99)


def test_refused_transition_is_invalid_state(conn):
    video = make_video(conn)
    jobs = JobRepository(conn)
    job = jobs.create(video.id, max_attempts=1)
    with pytest.raises(InvalidState, match="QUEUED; it cannot move to RETRY_WAIT"):
        jobs.schedule_retry(job, 10)
    with pytest.raises(NotFound):
        jobs.cancel(12345, "nope")


def test_set_ready_returns_the_replaced_ladder(conn):
    video = make_video(conn)
    videos = VideoRepository(conn)
    ready, previous = videos.set_ready(video.id, "videos/1/hls/1-1/master.m3u8")
    assert ready.status is VideoStatus.READY and previous is None
    _, previous = videos.set_ready(video.id, "videos/1/hls/2-1/master.m3u8")
    assert previous == "videos/1/hls/1-1/master.m3u8"


def test_connections_read_timestamps_in_utc_and_keep_the_urls_own_options(db_url):
    from datetime import timedelta

    from videoctl.db.connection import open_connection

    separator = "&" if "?" in db_url else "?"
    with open_connection(f"{db_url}{separator}options=-c%20statement_timeout%3D4000") as connection:
        assert connection.execute("SHOW TimeZone").fetchone()["TimeZone"] == "UTC"
        assert connection.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "4s"
        assert connection.execute("SELECT now() AS t").fetchone()["t"].utcoffset() == timedelta(0)


def test_a_malformed_database_url_is_refused_without_its_password():
    from videoctl.db.connection import open_connection
    from videoctl.domain.errors import DbError

    with pytest.raises(DbError) as info:
        open_connection("postgresql://user:se cret@db.example:5432/videos")
    assert "invalid database URL" in info.value.message
    assert "se cret" not in info.value.message and "db.example" in info.value.message


def test_stuck_reads_due_and_flagged_jobs_and_skips_rows_another_scanner_holds(db_url, conn):
    from videoctl.domain.scan import Candidate

    jobs = JobRepository(conn)
    failed = jobs.fail(jobs.claim(jobs.begin_attempt(jobs.create(make_video(conn).id, max_attempts=3)),
                                  "local:1", batch_job_id=None),
                       error_code="media_error", error_message="boom", runner_id="local:1")
    healthy = jobs.claim(jobs.begin_attempt(jobs.create(make_video(conn).id, max_attempts=3)), "local:2",
                         batch_job_id=None)
    query = {"queued_after_s": 120.0, "stale_after_s": 300.0, "limit": 10}

    # A healthy RUNNING job is read only when the executor flagged it.
    assert [c.id for c in jobs.stuck(**query, flagged_ids=[], lock=False)] == [failed.id]
    found = jobs.stuck(**query, flagged_ids=[healthy.id], lock=False)
    assert [c.id for c in found] == [failed.id, healthy.id]
    assert all(isinstance(c, Candidate) for c in found)
    assert found[0].state == JobState.FAILED and found[0].error_code == "media_error"
    assert found[1].state == JobState.RUNNING and found[1].heartbeat_at is not None

    # While one scanner holds the rows, a second one skips them instead of waiting.
    with conn.transaction():
        assert len(jobs.stuck(**query, flagged_ids=[healthy.id], lock=True)) == 2
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as other:
            assert JobRepository(other).stuck(**query, flagged_ids=[healthy.id], lock=True) == []


def test_mark_submitted_relaxes_only_its_own_commit(conn):
    """SUBMITTED may be lost in a crash (scan-stuck adopts the container by name), so
    its own commit skips the WAL flush; a caller's transaction keeps its durability."""
    from videoctl.db.queries import sql

    video = make_video(conn)
    jobs = JobRepository(conn)
    job = jobs.create(video.id, max_attempts=3, begin=True)
    params = {"id": job.id, "attempt": job.attempt, "executor_job_id": "batch-1",
              "size_vcpus": None, "size_memory_mib": None, "from": ["QUEUED", "RETRY_WAIT"]}

    # The statement's own switch, seen from inside the transaction it ends.
    for own_transaction, expected in ((True, "off"), (False, "on")):
        with conn.transaction(force_rollback=True):
            conn.execute(sql("mark_submitted"), {**params, "own_transaction": own_transaction})
            assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == expected

    # The repository turns it on only when the UPDATE is a transaction of its own.
    with conn.transaction(force_rollback=True):
        assert jobs.mark_submitted(job, "batch-1").state is JobState.SUBMITTED
        assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == "on"
    recording = _RecordingConnection(conn)
    submitted = JobRepository(recording).mark_submitted(job, "batch-1")
    assert recording.params[-1]["own_transaction"] is True
    assert (submitted.state, submitted.executor_job_id) == (JobState.SUBMITTED, "batch-1")
    assert jobs.get(job.id).state is JobState.SUBMITTED
    assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == "on"  # SET LOCAL


class _RecordingConnection:
    """The real connection, keeping the parameters of each statement."""

    def __init__(self, conn):
        self._conn = conn
        self.params = []

    def execute(self, query, params=None):
        self.params.append(params)
        return self._conn.execute(query, params)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_stuck_reads_only_active_rows_in_id_order_through_the_partial_index(conn):
    """The scan's cost follows the active jobs, not the finished ones, and needs no sort."""
    from videoctl.db.queries import sql

    conn.execute("""
        WITH v AS (INSERT INTO video (title, source_key, status, hls_path)
                   SELECT 'old', 'videos/o/source/a.mp4', 'READY', 'videos/o/hls/1-1/master.m3u8'
                   FROM generate_series(1, 20000) RETURNING id)
        INSERT INTO video_transcode_job (video_id, state, attempt, max_attempts)
        SELECT id, 'SUCCEEDED', 1, 3 FROM v""")
    jobs = JobRepository(conn)
    job = jobs.fail(jobs.claim(jobs.begin_attempt(jobs.create(make_video(conn).id, max_attempts=3)),
                               "local:1", batch_job_id=None),
                    error_code="media_error", error_message="bad", runner_id="local:1")
    conn.execute("ANALYZE video_transcode_job")
    params = {"queued_after_s": 120.0, "stale_after_s": 300.0, "flagged_ids": "{}", "limit": 1000}
    plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
        "EXPLAIN (COSTS OFF) " + sql("stuck_jobs").rstrip().rstrip(";"), params))
    assert "video_transcode_job_active_idx" in plan, plan
    assert "Sort Key: job.id" not in plan and "Seq Scan" not in plan, plan  # only the flagged ids get sorted
    assert [c.id for c in jobs.stuck(**{**params, "flagged_ids": []}, lock=False)] == [job.id]
