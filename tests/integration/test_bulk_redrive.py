"""Bulk retry and cancel by filters (state, error code, age, video) on a real database and moto Batch:
the plan first, a confirmation above ten jobs, the bulk rate, and one failure never stops the rest."""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from videoctl.domain.errors import EXIT_CODES, AwsError, UsageError
from videoctl.domain.selection import JobFilter, parse_duration
from videoctl.domain.states import JobState
from videoctl.services.submit import RateLimiter, retry_jobs


def dead_job(ctx, error_code: str, video=None):
    video = video or make_video(ctx.conn)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=1))
    job = ctx.jobs.mark_submitted(job, f"batch-{job.id}")
    job = ctx.jobs.fail(job, error_code=error_code, error_message=f"{error_code} in the outage", runner_id=None)
    return ctx.jobs.mark_dead(job)


def test_last_nights_outage_is_redriven_by_filter(capsys, ctx, moto_batch):
    outage = [dead_job(ctx, "executor_failed") for _ in range(12)]
    refused = [dead_job(ctx, "invalid_input") for _ in range(3)]

    plan = run_cli(capsys, "--json", "jobs", "retry", "--state", "DEAD", "--error-code", "executor_failed",
                   "--dry-run")
    assert plan.exit_code == 0, plan.stdout
    assert [j["id"] for j in plan.json()["data"]["jobs"]] == [j.id for j in outage]
    assert all(ctx.jobs.get(j.id).state is JobState.DEAD for j in outage)  # a plan changes nothing

    unconfirmed = run_cli(capsys, "--json", "jobs", "retry", "--state", "DEAD", "--error-code", "executor_failed")
    assert unconfirmed.exit_code == EXIT_CODES["usage_error"]
    assert "12 jobs match: add --yes" in unconfirmed.json()["error"]["message"]

    done = run_cli(capsys, "--json", "jobs", "retry", "--state", "DEAD", "--error-code", "executor_failed", "--yes")
    assert done.exit_code == 0, done.stdout
    assert sorted(j["id"] for j in done.json()["data"]["done"]) == [j.id for j in outage]
    again = [ctx.jobs.get(j.id) for j in outage]
    assert all(j.state is JobState.SUBMITTED and j.attempt == 2 for j in again)
    assert all(ctx.jobs.get(j.id).state is JobState.DEAD for j in refused)


def test_filters_by_video_and_age_and_cancel_in_bulk(capsys, ctx, moto_batch):
    video = make_video(ctx.conn)
    mine = [ctx.jobs.create(video.id, max_attempts=3)]
    other = ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3)
    old = dead_job(ctx, "media_error")
    ctx.conn.execute("UPDATE video_transcode_job SET updated_at = now() - interval '3 hours' WHERE id = %s",
                     (old.id,))
    recent = run_cli(capsys, "--json", "jobs", "retry", "--state", "DEAD", "--since", "2h", "--dry-run")
    assert recent.json()["data"]["jobs"] == []
    assert [j["id"] for j in run_cli(capsys, "--json", "jobs", "retry", "--state", "DEAD", "--since", "4h",
                                     "--dry-run").json()["data"]["jobs"]] == [old.id]

    cancelled = run_cli(capsys, "--json", "jobs", "cancel", "--video", str(video.id), "--reason", "wrong upload")
    assert cancelled.exit_code == 0, cancelled.stdout
    assert [j["id"] for j in cancelled.json()["data"]["done"]] == [j.id for j in mine]
    assert ctx.jobs.get(mine[0].id).state is JobState.CANCELLED
    assert ctx.jobs.get(other.id).state is JobState.QUEUED


@pytest.mark.parametrize("args", [
    ("jobs", "retry"),                                  # neither an id nor a filter
    ("jobs", "retry", "5", "--state", "DEAD"),          # both
    ("jobs", "retry", "--state", "RUNNING"),            # not retryable
    ("jobs", "cancel", "--state", "SUCCEEDED"),         # not cancellable
    ("jobs", "retry", "--state", "DEAD", "--since", "yesterday"),
])
def test_what_cannot_be_meant_is_a_usage_error(capsys, env, args):
    result = run_cli(capsys, "--json", *args)
    assert result.exit_code == EXIT_CODES["usage_error"], result.stdout


def test_one_failure_does_not_stop_the_rest_and_the_rate_holds(ctx, moto_batch):
    jobs = [dead_job(ctx, "executor_failed") for _ in range(4)]
    executor = ctx.executor
    real = executor.submit

    def submit(name, **kw):
        if kw["job_id"] == jobs[1].id:
            raise AwsError("SubmitJob failed: ClientException: boom")
        return real(name, **kw)

    executor.submit = submit
    now, slept = [0.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s

    result = retry_jobs(JobFilter((JobState.DEAD,)), jobs=ctx.jobs, executor=executor, rate=2, limit=100,
                        limiter=RateLimiter(2, clock=lambda: now[0], sleep=sleep))
    assert sorted(j.id for j in result.submitted) == sorted(j.id for j in jobs if j is not jobs[1])
    assert [job_id for job_id, _ in result.failed] == [jobs[1].id]
    assert slept == [0.5, 0.5, 0.5]  # 2 a second, the first at once


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("2h") == 7200 and parse_duration("1.5d") == 129600
    with pytest.raises(UsageError):
        parse_duration("-2h")
