"""A database that drops a connection is waited for, on the real server.

The server ends the connection (pg_terminate_backend: what a failover or a restart does
to every client); errors say whether to try again and whether a write may have
happened; steps reconnect and run again within the window; and run-job's writes are
safe to replay when a reply was lost after its commit.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import psycopg
import pytest

from tests import clips
from tests.processes import wait_until
from videoctl.db.connection import open_connection
from videoctl.db.reconnect import DbSteps, ReconnectingConnection, db_error
from videoctl.db.repositories import DeleteRequestRepository, JobRepository
from videoctl.domain.errors import DbError, JobFailed
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.services.heartbeat import Heartbeat
from videoctl.services.run_job import Runner, run_job
from videoctl.services.videos import add_video


def terminate(server_url: str, backend_pid: int) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))


@pytest.fixture
def reconnecting(db_url):
    opened = []

    def opener():
        opened.append(open_connection(db_url))
        return opened[-1]

    conn = ReconnectingConnection(opener)
    yield conn, opened
    conn.close()


@pytest.mark.parametrize(("error", "transient", "outcome_unknown"), [
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True, True),
    (psycopg.OperationalError("connection failed: Connection refused"), True, True),
    (psycopg.errors.CannotConnectNow("the database system is starting up"), True, True),
    (psycopg.errors.SerializationFailure("could not serialize access"), True, False),
    (psycopg.errors.TooManyConnections("sorry, too many clients already"), True, False),
    (psycopg.errors.UniqueViolation("duplicate key value"), False, False),
    (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False, False),
    (psycopg.errors.UndefinedColumn("column does not exist"), False, False),
])
def test_psycopg_errors_become_db_errors_that_say_whether_to_retry(error, transient, outcome_unknown):
    converted = db_error("get_job", error)
    assert (converted.code, converted.exit_code) == ("db_error", 7)
    assert (converted.transient, converted.outcome_unknown) == (transient, outcome_unknown)


def test_a_terminated_connection_is_a_transient_error_of_unknown_outcome(reconnecting, pg_server_url):
    conn, _ = reconnecting
    terminate(pg_server_url, conn.info.backend_pid)
    with pytest.raises(DbError) as info:
        JobRepository(conn).now()
    assert info.value.transient and info.value.outcome_unknown and conn.lost


def test_a_step_reconnects_and_runs_again(reconnecting, pg_server_url, caplog):
    conn, opened = reconnecting
    first = conn.info.backend_pid
    terminate(pg_server_url, first)
    with caplog.at_level(logging.WARNING):
        now = DbSteps(conn, window_s=30, max_wait_s=0.1)("reading the time", JobRepository(conn).now)
    assert isinstance(now, datetime)
    assert len(opened) == 2 and conn.info.backend_pid != first and not conn.lost
    assert "retrying reading the time" in caplog.text


def test_a_transaction_broken_halfway_is_run_again_whole(reconnecting, pg_server_url):
    conn, _ = reconnecting
    requests = DeleteRequestRepository(conn)
    tries = []

    def record_two():
        tries.append(1)
        with requests.transaction():
            requests.add("videos/1/hls/1-1/", "abandoned attempt", None)
            if len(tries) == 1:  # the server goes away before COMMIT
                terminate(pg_server_url, conn.info.backend_pid)
            requests.add("videos/1/hls/1-2/", "abandoned attempt", None)

    DbSteps(conn, window_s=30, max_wait_s=0.1)("recording deletions", record_two)
    assert len(tries) == 2
    # The first try was rolled back by the server: each row exists once.
    assert sorted(r.prefix for r in requests.pending()) == ["videos/1/hls/1-1/", "videos/1/hls/1-2/"]


def test_the_window_ends_with_the_error_as_it_came(db_url, pg_server_url):
    opens = []

    def unreachable():
        opens.append(1)
        return open_connection("postgresql://postgres@127.0.0.1:1/nothing")  # nobody listens there

    conn = ReconnectingConnection(unreachable, first=open_connection(db_url))
    terminate(pg_server_url, conn.info.backend_pid)
    with pytest.raises(DbError) as info:
        DbSteps(conn, window_s=0.5, max_wait_s=0.05)("reading the time", JobRepository(conn).now)
    assert info.value.transient and "could not connect" in info.value.message
    assert len(opens) >= 2  # it kept trying until the window closed


@pytest.mark.parametrize("refusal", [
    DbError("could not start the embedded PostgreSQL in /var/lib/videoctl/pgdata: starting"),  # classed permanent
    psycopg.OperationalError("connection is bad: connection to server on socket failed: No such file or directory"),
])
def test_every_failure_to_reconnect_is_transient_to_the_window(db_url, pg_server_url, refusal):
    """The server answered before: whatever keeps it away now is the outage, however the opener
    classed it (pgserver's own errors, a bare psycopg error from a helper that connects)."""
    opens = []

    def still_away():
        opens.append(1)
        if len(opens) < 3:
            raise refusal
        return open_connection(db_url)

    conn = ReconnectingConnection(still_away, first=open_connection(db_url))
    terminate(pg_server_url, conn.info.backend_pid)
    now = DbSteps(conn, window_s=30, max_wait_s=0.05)("reading the time", JobRepository(conn).now)
    assert isinstance(now, datetime) and len(opens) == 3
    conn.close()


def test_permanent_errors_are_not_retried(reconnecting):
    conn, opened = reconnecting
    calls = []

    def bad_step():
        calls.append(1)
        raise db_error("bad_query", psycopg.errors.UndefinedColumn("column does not exist"))

    with pytest.raises(DbError):
        DbSteps(conn, window_s=30)("a bad query", bad_step)
    assert len(calls) == 1 and len(opened) == 1


class LostReplies(DbSteps):
    """The real steps on the real database, each named one answered by a dropped connection
    once, after it ran: the write committed and the runner never heard of it."""

    def __init__(self, conn, lose: set[str]) -> None:
        super().__init__(conn, window_s=30, max_wait_s=0.01)
        self.lose = set(lose)
        self.lost: list[str] = []

    def __call__(self, what, step):
        def then_lose_the_reply():
            result = step()
            if what in self.lose:
                self.lose.discard(what)
                self.lost.append(what)
                raise DbError(f"{what}: server closed the connection unexpectedly", outcome_unknown=True)
            return result

        return super().__call__(what, then_lose_the_reply)


@pytest.fixture
def small_ladder(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))


@pytest.mark.slow
def test_run_job_replays_a_claim_and_a_completion_whose_replies_were_lost(ctx, small_ladder, tmp_path, caplog):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    steps = LostReplies(ctx.conn, {"claiming the job", "marking the video PROCESSING", "completing the job"})
    deps = dataclasses.replace(ctx.run_job_deps(), db_steps=steps)
    with caplog.at_level(logging.WARNING):
        result = run_job(job.id, deps, Runner.from_environment({}))
    assert steps.lost == ["claiming the job", "marking the video PROCESSING", "completing the job"]
    assert result.outcome == "encoded"
    done = ctx.jobs.get(job.id)
    assert done.state is JobState.SUCCEEDED and done.attempt == 1
    assert ctx.videos.get(video.id).status is VideoStatus.READY
    assert "could not" not in caplog.text


@pytest.mark.slow
def test_run_job_replays_a_failure_record_whose_reply_was_lost(ctx, small_ladder, tmp_path, caplog):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.not_media(find_ffmpeg(), tmp_path))
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    steps = LostReplies(ctx.conn, {"recording the failure"})
    deps = dataclasses.replace(ctx.run_job_deps(), db_steps=steps)
    with caplog.at_level(logging.WARNING), pytest.raises(Exception, match="invalid_input"):
        run_job(job.id, deps, Runner.from_environment({}))
    assert steps.lost == ["recording the failure"]
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "invalid_input"
    assert "could not record the failure" not in caplog.text


def test_the_heartbeat_reconnects_after_the_server_dropped_it(ctx, db_url, pg_server_url, caplog):
    video = ctx.videos.add(ctx.videos.next_id(), title="clip", source_key="videos/1/source/a.mp4", size_bytes=10)
    job = ctx.jobs.claim(ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3)), "local:1",
                         batch_job_id=None)
    opened: list[psycopg.Connection] = []

    def open_jobs() -> JobRepository:
        opened.append(open_connection(db_url))
        return JobRepository(opened[-1])

    def beat_after(moment) -> bool:
        return ctx.jobs.get(job.id).heartbeat_at > moment

    with caplog.at_level(logging.INFO), Heartbeat(job, open_jobs, interval_s=0.05) as heartbeat:
        wait_until(lambda: beat_after(job.heartbeat_at), timeout=10, what="a first beat")
        terminate(pg_server_url, opened[0].info.backend_pid)
        dropped = ctx.jobs.now()
        wait_until(lambda: beat_after(dropped), timeout=10, what="a beat on a fresh connection")
    assert len(opened) == 2 and heartbeat.fenced is None
    assert "heartbeat failed" in caplog.text and "heartbeat is back" in caplog.text


class DroppedBefore(DbSteps):
    """No retries; the server drops the connection just before the named step, as a failover would."""

    def __init__(self, conn, what: str, server_url: str) -> None:
        super().__init__(conn, window_s=0)
        self.what, self.server_url = what, server_url

    def __call__(self, what, step):
        if what == self.what:
            terminate(self.server_url, self.conn.info.backend_pid)
        return super().__call__(what, step)


@pytest.mark.slow
def test_a_database_failure_is_recorded_as_db_error_not_internal_error(ctx, small_ladder, tmp_path,
                                                                     pg_server_url):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    deps = dataclasses.replace(ctx.run_job_deps(),
                               db_steps=DroppedBefore(ctx.conn, "completing the job", pg_server_url))
    with pytest.raises(JobFailed, match="db_error: transaction failed: terminating connection"):
        run_job(job.id, deps, Runner.from_environment({}))
    # The failure itself is recorded on a fresh connection.
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "db_error"
