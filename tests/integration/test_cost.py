"""Each attempt's usage is recorded and priced: a real local encode, a Batch attempt confirmed
by moto Batch, and what `jobs show` and `stats` make of them (real PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from tests import clips
from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from videoctl.api import Client
from videoctl.domain import cost
from videoctl.media.binary import find_ffmpeg
from videoctl.media.cpus import cpu_budget
from videoctl.services.videos import add_video


def _age_usage(conn, job_id: int, seconds: float) -> None:
    conn.execute("UPDATE job_attempt_usage SET finished_at = now() - make_interval(secs => %s) WHERE job_id = %s",
                 (seconds, job_id))


@pytest.mark.slow
def test_a_local_encode_records_its_usage_and_stats_compares_mediaconvert(capsys, ctx, env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0

    [row] = ctx.conn.execute("SELECT * FROM job_attempt_usage WHERE job_id = %s", (job.id,)).fetchall()
    duration = ctx.videos.get(video.id).duration_s
    assert (row["attempt"], row["capacity"], row["runtime_source"]) == (1, "local", "runner")
    assert row["vcpus"] == cpu_budget().cpus and row["memory_mib"] > 0 and row["runtime_s"] > 0
    assert row["source_duration_s"] == pytest.approx(duration) and (row["hd_renditions"], row["sd_renditions"]) == (0, 1)

    shown = run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]
    assert shown["cost"]["attempts"] == 1 and shown["cost"]["cost_usd"] == 0  # a local process costs nothing
    assert shown["cost"]["vcpu_hours"] == pytest.approx(row["vcpus"] * row["runtime_s"] / 3600, abs=1e-6)
    human = run_cli(capsys, "jobs", "show", str(job.id))
    assert "$0.0000 (1 attempt(s)" in human.stdout

    stats = run_cli(capsys, "--json", "stats").json()["data"]["cost"]
    [day] = stats["days"]
    assert day["attempts"] == 1 and day["source_minutes"] == pytest.approx(duration / 60, abs=1e-3)
    # One SD rendition of the source's minutes, at the default Basic-tier SD rate.
    assert day["mediaconvert_usd"] == pytest.approx(duration / 60 * 0.0075, abs=1e-6)
    assert stats["cost_usd"] == 0 and stats["cost_per_source_minute_usd"] == 0
    table = run_cli(capsys, "stats").stdout
    assert "MediaConvert for the same outputs" in table and "vCPU-h" in table


def test_a_batch_attempt_is_priced_from_what_batch_says(ctx, moto_batch, monkeypatch, conn):
    monkeypatch.setenv("VIDEO_BATCH_COMPUTE_TYPE", "fargate_spot")
    video = make_video(conn)
    with Client() as client:
        job = client.submit(video.id)
    attempt = ctx.jobs.get(job.id)
    # What the runner inside the container recorded: its own wall time and budget.
    assert ctx.usage.record(attempt, capacity="fargate", executor_job_id=attempt.executor_job_id, vcpus=4,
                            memory_mib=8192, runtime_s=3600)
    assert not ctx.usage.record(attempt, capacity="fargate", executor_job_id=attempt.executor_job_id, vcpus=4,
                                memory_mib=8192, runtime_s=1)  # a replay changes nothing
    prices = ctx.settings.prices
    with Client() as client:
        before = client.get_job(job.id).cost
        assert before.cost_usd == pytest.approx(4 * prices.fargate_vcpu_hour + 8 * prices.fargate_gb_hour)
        assert client.scan().summary()["usage_confirmed"] == 0  # its container may still be stopping
        _age_usage(conn, job.id, 120)
        assert client.scan().summary()["usage_confirmed"] == 1
        after = client.get_job(job.id).cost
    [row] = conn.execute("SELECT * FROM job_attempt_usage WHERE job_id = %s", (job.id,)).fetchall()
    # moto's job definition gives 1 vCPU and 512 MiB, and its container starts and stops at once.
    assert (row["runtime_source"], row["capacity"], row["vcpus"], row["memory_mib"]) == (
        "executor", "fargate_spot", 1, 512)
    # jobs show gives the runtime to a tenth of a second; moto's container may run for a millisecond.
    assert after.runtime_s == round(row["runtime_s"], 1) and after.cost_usd == pytest.approx(
        cost.usage_cost(cost.Usage("fargate_spot", 1, 512, row["runtime_s"]), prices))


def test_stats_prices_a_day_of_fargate_usage(ctx, env, conn, capsys):
    video = make_video(conn)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    ctx.usage.record(job, capacity="fargate", executor_job_id="batch-1", vcpus=4, memory_mib=8192, runtime_s=1800,
                     source_duration_s=600, hd_renditions=2, sd_renditions=2)
    data = json.loads(run_cli(capsys, "--json", "stats").stdout)["data"]["cost"]
    prices = ctx.settings.prices
    spent = 2 * prices.fargate_vcpu_hour + 4 * prices.fargate_gb_hour
    assert data["cost_usd"] == pytest.approx(spent, abs=1e-6) and data["source_minutes"] == 10
    assert data["cost_per_source_minute_usd"] == pytest.approx(spent / 10, abs=1e-6)
    assert data["mediaconvert_usd"] == pytest.approx(20 * prices.mediaconvert_hd_minute
                                                     + 20 * prices.mediaconvert_sd_minute, abs=1e-6)
    [day] = data["days"]
    assert (day["vcpu_hours"], day["gb_hours"]) == (2, 4)
