"""scan-stuck against the real Postgres and moto Batch: every rule, and concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from tests.integration.test_submit import all_batch_jobs, batch_jobs_named
from videoctl.context import AppContext
from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain.states import JobState, VideoStatus
from videoctl.services.scan import scan_pass


def age(conn, job_id: int, **columns_seconds_ago: float) -> None:
    """Move a job's timestamps into the past (tests only)."""
    for column, seconds in columns_seconds_ago.items():
        assert column in {"updated_at", "heartbeat_at", "submitted_at", "next_attempt_at"}
        conn.execute(f"UPDATE video_transcode_job SET {column} = now() - make_interval(secs => %s) WHERE id = %s",
                     (seconds, job_id))


def submitted_job(ctx, video=None, **create):
    video = video or make_video(ctx.conn)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3, **create))
    batch_id = ctx.executor.submit(f"video-{video.id}-job-{job.id}-a1", job_id=job.id, video_id=video.id,
                                   attempt=1)
    return ctx.jobs.mark_submitted(job, batch_id)


def concurrent_scans(count: int, db_url: str, executor, settings, **kw) -> list:
    """Run `count` scan passes at once, each on its own connection; their reports."""
    barrier = threading.Barrier(count)
    reports, errors = [], []

    def scanner():
        try:
            with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as own:
                barrier.wait()
                reports.append(scan_pass(jobs=JobRepository(own), videos=VideoRepository(own), executor=executor,
                                         settings=settings, sleep=lambda s: None, **kw))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scanner) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return reports


def scan(ctx, **kw):
    return scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor, settings=ctx.settings,
                     sleep=lambda s: None, **kw)


def test_failed_transient_goes_to_retry_wait_then_is_resubmitted(ctx, moto_batch, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_BACKOFF_BASE_SECONDS", "10")
    job = submitted_job(ctx)
    running = ctx.jobs.claim(job, job.executor_job_id, batch_job_id=job.executor_job_id)
    ctx.jobs.fail(running, error_code="media_error", error_message="ffmpeg crashed", runner_id=running.runner_id)

    report = scan(ctx)
    assert report.summary()["retry_scheduled"] == 1
    waiting = ctx.jobs.get(job.id)
    assert waiting.state is JobState.RETRY_WAIT
    delay = (waiting.next_attempt_at - waiting.updated_at).total_seconds()
    assert 5 <= delay <= 10  # backoff(1) with jitter: [base/2, base]

    assert scan(ctx).summary()["resubmitted"] == 0  # not due yet
    age(ctx.conn, job.id, next_attempt_at=1)
    report = scan(ctx)
    assert report.summary()["resubmitted"] == 1
    again = ctx.jobs.get(job.id)
    assert again.state is JobState.SUBMITTED and again.attempt == 2
    assert len(batch_jobs_named(f"video-{job.video_id}-job-{job.id}-a2")) == 1


def test_attempts_used_up_is_dead_and_video_failed(ctx, moto_batch):
    job = submitted_job(ctx)
    conn = ctx.conn
    conn.execute("UPDATE video_transcode_job SET max_attempts = 1 WHERE id = %s", (job.id,))
    ctx.jobs.fail(ctx.jobs.get(job.id), error_code="media_error", error_message="boom", runner_id=None)
    assert scan(ctx).summary()["dead"] == 1
    dead = ctx.jobs.get(job.id)
    assert dead.state is JobState.DEAD and dead.error_message == "boom"
    assert ctx.videos.get(job.video_id).status is VideoStatus.FAILED


def test_permanent_error_is_dead_at_once_reason_kept(ctx, moto_batch):
    job = submitted_job(ctx)
    ctx.jobs.fail(job, error_code="invalid_input", error_message="not a media file", runner_id=None)
    report = scan(ctx)
    assert [i.reason for i in report.items] == ["permanent error"]
    dead = ctx.jobs.get(job.id)
    assert (dead.state, dead.error_code, dead.error_message) == (JobState.DEAD, "invalid_input", "not a media file")


def test_the_same_verify_failure_twice_is_dead_without_a_third_encode(ctx, moto_batch):
    job = submitted_job(ctx)
    ctx.conn.execute("UPDATE video_transcode_job SET max_attempts = 5 WHERE id = %s", (job.id,))
    ctx.jobs.fail(ctx.jobs.get(job.id), error_code="verify_failed", error_message="360p lasts 1.0 s of 500 s",
                  runner_id=None)
    assert scan(ctx).summary()["retry_scheduled"] == 1  # once: it might have been the machine
    age(ctx.conn, job.id, next_attempt_at=1)
    assert scan(ctx).summary()["resubmitted"] == 1
    second = ctx.jobs.get(job.id)
    assert second.attempt == 2 and second.error_code is None  # a new attempt shows no stale error
    ctx.jobs.fail(second, error_code="verify_failed", error_message="360p lasts 1.0 s of 500 s", runner_id=None)

    report = scan(ctx)
    assert [i.reason for i in report.items] == ["permanent error: verify_failed on 2 attempts in a row"]
    dead = ctx.jobs.get(job.id)
    assert dead.state is JobState.DEAD and dead.attempt == 2 and dead.failure_repeats == 2
    assert ctx.videos.get(job.video_id).status is VideoStatus.FAILED
    # An operator's retry starts the count again: the next verify failure is retried once more.
    retried = ctx.jobs.requeue(job.id)
    assert (retried.failure_code, retried.failure_repeats) == (None, 0)


@pytest.mark.parametrize("claimed", [False, True], ids=["SUBMITTED", "RUNNING"])
def test_a_container_that_ended_without_completing_fails_its_attempt_and_is_retried(ctx, moto_batch, claimed):
    # moto's Batch runs nothing: its jobs end SUCCEEDED at once, as a wrong image or an
    # entrypoint that exits 0 early would.
    import time

    job = submitted_job(ctx)
    if claimed:  # the container claimed the job, then ended without a word
        job = ctx.jobs.claim(job, job.executor_job_id, batch_job_id=job.executor_job_id)
    deadline = time.monotonic() + 10
    while ctx.executor.describe([job.executor_job_id])[job.executor_job_id].status != "SUCCEEDED":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    report = scan(ctx)
    [item] = report.items
    assert (item.rule, item.action, item.outcome) == ("exited_early", "fail_attempt", "done")
    assert item.reason.startswith("the container ended (SUCCEEDED") and "without completing the job" in item.reason
    retried = ctx.jobs.get(job.id)
    assert retried.state is JobState.RETRY_WAIT and retried.error_code == "exited_early"
    assert scan(ctx).items == []  # settled: nothing more until the retry is due


def test_stale_running_is_failed_and_old_container_fenced(ctx, moto_batch):
    job = submitted_job(ctx)
    running = ctx.jobs.claim(job, job.executor_job_id, batch_job_id=job.executor_job_id)
    age(ctx.conn, job.id, heartbeat_at=10_000)
    report = scan(ctx)
    [item] = report.items
    assert item.rule == "stale_heartbeat" and item.outcome == "done"
    after = ctx.jobs.get(job.id)
    assert after.state is JobState.RETRY_WAIT and after.error_code == "stale"
    from videoctl.domain.errors import Fenced, InvalidState

    with pytest.raises(InvalidState):
        ctx.jobs.complete(running)
    age(ctx.conn, job.id, next_attempt_at=1)
    scan(ctx)
    with pytest.raises(Fenced):
        ctx.jobs.heartbeat(running, 50)


def test_batch_failure_is_a_failed_attempt_with_batch_reason(ctx, moto_batch, monkeypatch):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    job = submitted_job(ctx)
    batch = boto3.client("batch", region_name="us-east-1")
    assert batch.describe_jobs(jobs=[job.executor_job_id])["jobs"][0]["status"] == "FAILED"
    report = scan(ctx)
    [item] = report.items
    assert item.rule == "executor_failed"
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.RETRY_WAIT and failed.error_code == "executor_failed"


def test_unknown_batch_job_is_failed_only_after_threshold(ctx, moto_batch):
    video = make_video(ctx.conn)
    job = ctx.jobs.mark_submitted(ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3)),
                                  "00000000-0000-0000-0000-00000000dead")
    report = scan(ctx)
    assert [(i.rule, i.action) for i in report.items] == [("unknown", "report")]
    assert ctx.jobs.get(job.id).state is JobState.SUBMITTED
    age(ctx.conn, job.id, submitted_at=10_000)
    report = scan(ctx)
    assert [i.rule for i in report.items] == ["lost"]
    assert ctx.jobs.get(job.id).state is JobState.RETRY_WAIT


def test_queued_never_submitted_is_submitted(ctx, moto_batch):
    video = make_video(ctx.conn)
    job = ctx.jobs.create(video.id, max_attempts=3)  # the API died before SubmitJob
    assert scan(ctx).items == []
    age(ctx.conn, job.id, updated_at=10_000)
    report = scan(ctx)
    assert report.summary()["resubmitted"] == 1
    submitted = ctx.jobs.get(job.id)
    assert submitted.state is JobState.SUBMITTED and submitted.attempt == 1
    assert len(all_batch_jobs()) == 1


def begun_unsent(ctx, *, submitted: bool):
    """A job whose submitter began attempt 1 and died before marking it SUBMITTED,
    after SubmitJob went through (submitted=True) or before it was sent."""
    video = make_video(ctx.conn)
    job = ctx.jobs.create(video.id, max_attempts=3, begin=True)
    batch_id = None
    if submitted:
        batch_id = ctx.executor.submit(f"video-{video.id}-job-{job.id}-a1", job_id=job.id, video_id=video.id,
                                       attempt=1)
    age(ctx.conn, job.id, updated_at=10_000)
    return job, batch_id


def test_a_begun_attempt_whose_container_exists_is_adopted_not_submitted_again(ctx, moto_batch):
    job, batch_id = begun_unsent(ctx, submitted=True)
    report = scan(ctx)
    assert report.summary()["adopted"] == 1 and report.summary()["resubmitted"] == 0
    [item] = report.items
    assert item.action == "adopt" and batch_id in item.reason
    adopted = ctx.jobs.get(job.id)
    assert (adopted.state, adopted.attempt, adopted.executor_job_id) == (JobState.SUBMITTED, 1, batch_id)
    assert len(all_batch_jobs()) == 1  # no second container for the same job


def test_a_begun_attempt_that_never_reached_batch_gets_the_next_attempt(ctx, moto_batch):
    job, _ = begun_unsent(ctx, submitted=False)
    report = scan(ctx)
    assert report.summary()["resubmitted"] == 1 and report.summary()["adopted"] == 0
    sent = ctx.jobs.get(job.id)
    assert (sent.state, sent.attempt) == (JobState.SUBMITTED, 2)
    assert [j["jobName"] for j in all_batch_jobs()] == [f"video-{sent.video_id}-job-{job.id}-a2"]


def test_concurrent_scanners_adopt_a_begun_attempt_once(ctx, moto_batch, db_url):
    jobs = [begun_unsent(ctx, submitted=i % 2 == 0) for i in range(6)]
    reports = concurrent_scans(4, db_url, ctx.executor, ctx.settings)
    assert sum(r.errors for r in reports) == 0  # a lost race is skipped, not an error
    assert len(all_batch_jobs()) == 6  # 3 adopted + 3 submitted once each, none twice
    for job, batch_id in jobs:
        final = ctx.jobs.get(job.id)
        assert final.state is JobState.SUBMITTED
        assert (final.attempt, final.executor_job_id) == ((1, batch_id) if batch_id else (2, final.executor_job_id))


def test_a_scanner_that_loses_the_adoption_race_skips_without_error(ctx, moto_batch, db_url, monkeypatch):
    job, batch_id = begun_unsent(ctx, submitted=True)
    real_find = ctx.executor.find

    def find_while_another_scanner_adopts(name):
        found = real_find(name)
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as other:
            JobRepository(other).mark_submitted(job, found)  # the other scanner got there first
        return found

    monkeypatch.setattr(ctx.executor, "find", find_while_another_scanner_adopts)
    report = scan(ctx)
    [item] = report.items
    assert item.outcome == "skipped" and "another scanner" in item.reason and report.errors == 0
    assert ctx.jobs.get(job.id).executor_job_id == batch_id and len(all_batch_jobs()) == 1


def test_local_process_gone_is_a_failed_attempt(ctx, env):
    video = make_video(ctx.conn)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    job = ctx.jobs.mark_submitted(job, f"local:{dead.pid}")
    ctx.jobs.claim(job, f"local:{dead.pid}", batch_job_id=f"local:{dead.pid}")
    report = scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor, settings=ctx.settings)
    assert [i.rule for i in report.items] == ["executor_failed"]
    assert ctx.jobs.get(job.id).error_message == "the local process is gone"


def test_dry_run_json_and_limit(capsys, ctx, moto_batch):
    jobs = []
    for _ in range(3):
        job = submitted_job(ctx)
        jobs.append(ctx.jobs.fail(job, error_code="media_error", error_message="x", runner_id=None))
    result = run_cli(capsys, "--json", "scan-stuck", "--dry-run", "--limit", "2")
    assert result.exit_code == 0
    data = result.json()["data"]
    assert data["dry_run"] is True and data["summary"]["found"] == 2
    assert {i["job_id"] for i in data["items"]} == {jobs[0].id, jobs[1].id}
    assert all(i["outcome"] == "planned" and i["action"] == "retry" for i in data["items"])
    assert all(ctx.jobs.get(j.id).state is JobState.FAILED for j in jobs)  # nothing changed
    human = run_cli(capsys, "scan-stuck", "--dry-run")
    assert "dry run: planned" in human.stdout and "retry" in human.stdout
    real = run_cli(capsys, "--json", "scan-stuck")
    assert real.json()["data"]["summary"]["retry_scheduled"] == 3


def test_eight_concurrent_scanners_submit_each_of_1000_jobs_once(ctx, moto_batch, db_url, monkeypatch):
    conn = ctx.conn
    video_rows = conn.execute(
        "INSERT INTO video (title, source_key, status) "
        "SELECT 'v' || g, 'videos/' || g || '/source/a.mp4', 'UPLOADED' FROM generate_series(1, 1000) g "
        "RETURNING id").fetchall()
    ids = [r["id"] for r in video_rows]
    # Half due retries, half submissions that never happened.
    conn.execute("INSERT INTO video_transcode_job (video_id, state, attempt, max_attempts, next_attempt_at, "
                 "updated_at) SELECT v, 'RETRY_WAIT', 1, 5, now() - interval '1 minute', now() "
                 "FROM unnest(%s::bigint[]) v", (ids[:500],))
    conn.execute("INSERT INTO video_transcode_job (video_id, state, attempt, max_attempts, updated_at) "
                 "SELECT v, 'QUEUED', 0, 5, now() - interval '1 hour' FROM unnest(%s::bigint[]) v", (ids[500:],))

    executor = ctx.executor
    sent: list[str] = []
    lock = threading.Lock()
    real_submit = executor.submit

    def counting_submit(name, **kw):
        with lock:
            sent.append(name)
        return real_submit(name, **kw)

    executor.submit = counting_submit
    concurrent_scans(8, db_url, executor, ctx.settings, limit=1000)
    assert len(sent) == 1000 and len(set(sent)) == 1000
    assert len(all_batch_jobs()) == 1000
    rows = conn.execute("SELECT state, attempt, count(*) AS n FROM video_transcode_job GROUP BY 1, 2").fetchall()
    assert {(r["state"], r["attempt"], r["n"]) for r in rows} == {("SUBMITTED", 2, 500), ("SUBMITTED", 1, 500)}


def test_loop_stops_cleanly_on_sigterm(env):
    proc = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "scan-stuck", "--loop", "1"],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert json.loads(first)["data"]["summary"]["found"] == 0
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped after" not in out  # JSON mode keeps stdout to documents


def test_stats(capsys, ctx, moto_batch):
    done = submitted_job(ctx)
    running = ctx.jobs.claim(done, done.executor_job_id, batch_job_id=done.executor_job_id)
    ctx.jobs.complete(running)
    failing = submitted_job(ctx)
    ctx.jobs.fail(failing, error_code="media_error", error_message="ffmpeg exited 1", runner_id=None)
    result = run_cli(capsys, "--json", "stats")
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert data["by_state"] == {"SUCCEEDED": 1, "FAILED": 1}
    assert data["oldest_active"]["id"] == failing.id
    assert data["failure_reasons"][0]["error_code"] == "media_error"
    assert len(data["hourly"]) == 24 and sum(h["completed"] for h in data["hourly"]) == 1
    assert data["encodes"] == 1 and data["mean_encode_s"] >= 0
    assert "jobs by state" in run_cli(capsys, "stats").stdout


def test_stats_over_a_month_fit_a_terminal(capsys, ctx, moto_batch):
    for _ in range(2):
        job = submitted_job(ctx)
        ctx.jobs.complete(ctx.jobs.claim(job, job.executor_job_id, batch_job_id=job.executor_job_id))
    ctx.conn.execute("UPDATE video_transcode_job SET finished_at = now() - interval '3 days' "
                     "WHERE id = (SELECT min(id) FROM video_transcode_job)")
    human = run_cli(capsys, "stats", "--hours", "720")
    assert human.exit_code == 0, human.stderr
    lines = human.stdout.splitlines()
    # Two busy hours get a row each; the 718 quiet ones fold into the sparklines.
    assert len(lines) < 60, human.stdout
    [completed] = [line for line in lines if line.strip().startswith("completed")]
    assert completed.count("█") == 2 and completed.rstrip().endswith("│ 2")
    assert "718 hour(s) without activity folded" in human.stderr
    assert len(run_cli(capsys, "--json", "stats", "--hours", "720").json()["data"]["hourly"]) == 720


def test_a_sparkline_scales_to_the_largest_and_leaves_zero_blank():
    from videoctl.commands._render import sparkline

    assert sparkline([0, 1, 4, 8]) == " ▂▅█"
    assert sparkline([0, 0]) == "  " and sparkline([]) == ""


def test_app_context_reads_env_lazily(env, monkeypatch):
    context = AppContext()
    monkeypatch.setenv("VIDEOCTL_MAX_ATTEMPTS", "7")
    assert context.settings.max_attempts == 7


def test_a_pass_with_errors_exits_non_zero_and_says_why(capsys, ctx, moto_batch, monkeypatch):
    video = make_video(ctx.conn)
    job = ctx.jobs.create(video.id, max_attempts=3)
    age(ctx.conn, job.id, updated_at=10_000)
    monkeypatch.setenv("VIDEO_BATCH_JOB_DEFINITION", "no-such-definition")
    result = run_cli(capsys, "--json", "scan-stuck")
    assert result.exit_code == 1
    data = result.json()["data"]
    assert data["summary"]["errors"] == 1
    [item] = data["items"]
    assert item["outcome"] == "error" and "no-such-definition" in item["error"]
    after = ctx.jobs.get(job.id)
    assert after.state is JobState.QUEUED and after.attempt == 0  # the refused attempt was undone


def test_a_pass_also_sends_pending_deletions(capsys, ctx, env, tmp_path):
    video = make_video(ctx.conn)
    leftover = f"videos/{video.id}/hls/9-1/"
    source = tmp_path / "seg.ts"
    source.write_bytes(b"x")
    ctx.store.upload_file(source, leftover + "seg_00000.ts")
    ctx.delete_requests.add(leftover, "abandoned attempt of job 9", video.id)
    result = run_cli(capsys, "--json", "scan-stuck")
    assert result.exit_code == 0, result.stdout
    assert result.json()["data"]["summary"]["deletions_sent"] == 1
    assert ctx.delete_requests.pending() == [] and list(ctx.store.list_prefix(leftover)) == []
    dry = run_cli(capsys, "--json", "scan-stuck", "--dry-run")
    assert dry.json()["data"]["summary"]["deletions_sent"] == 0
