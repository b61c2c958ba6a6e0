"""Each attempt's usage is recorded and priced: a real local encode, a Batch attempt confirmed
by moto Batch, a chunked attempt's every container, and what `jobs show` and `stats` make of
them (real PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from tests import clips
from tests.cli import run_cli
from tests.integration.test_chunk_repository import chunked_job
from tests.integration.test_repositories import make_video
from videoctl.api import Client
from videoctl.db.repositories import ChunkRepository
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


def test_a_chunked_attempt_is_priced_with_every_chunk_container(ctx, env, conn, capsys):
    """The lead and each try of each chunk are rows of their own: the job's cost and the day's
    sum them all, count the attempt once, and the source's minutes once (the assembler's)."""
    job = chunked_job(conn)  # four chunks
    chunks = ChunkRepository(conn)
    lead = dict(capacity="fargate", vcpus=8, memory_mib=16384)
    assert ctx.usage.record(job, executor_job_id="lead", runtime_s=360, **lead)
    rows = chunks.of_attempt(job.id, job.attempt)
    for row in rows:  # each child: 2 vCPU for 30 minutes
        assert ctx.usage.record(job, capacity="fargate", executor_job_id=f"array:{row.idx}", vcpus=2, memory_mib=4096,
                                runtime_s=1800, chunk=row)
    assert not ctx.usage.record(job, capacity="fargate", executor_job_id="array:1", vcpus=2, memory_mib=4096,
                                runtime_s=1, chunk=rows[1])  # a replay changes nothing
    retried = chunks.begin_try(chunks.fail(rows[3], error_code="media_error", error_message="x", runner_id=None))
    assert ctx.usage.record(job, capacity="fargate", executor_job_id="single-3", vcpus=2, memory_mib=4096,
                            runtime_s=1800, chunk=retried, source_duration_s=600, hd_renditions=1, sd_renditions=2)

    prices = ctx.settings.prices
    vcpu_hours, gb_hours = 8 * 0.1 + 5 * 2 * 0.5, 16 * 0.1 + 5 * 4 * 0.5
    with Client() as client:
        priced = client.get_job(job.id).cost
    assert (priced.attempts, priced.containers, priced.runtime_s) == (1, 6, 360 + 5 * 1800)
    assert (priced.vcpu_hours, priced.gb_hours) == (pytest.approx(vcpu_hours), pytest.approx(gb_hours))
    spent = vcpu_hours * prices.fargate_vcpu_hour + gb_hours * prices.fargate_gb_hour
    assert priced.cost_usd == pytest.approx(spent, abs=1e-6)

    data = json.loads(run_cli(capsys, "--json", "stats").stdout)["data"]["cost"]
    [day] = data["days"]
    assert (day["attempts"], day["source_minutes"]) == (1, 10)
    assert (day["vcpu_hours"], day["cost_usd"]) == (pytest.approx(vcpu_hours), pytest.approx(spent, abs=1e-6))
    assert data["mediaconvert_usd"] == pytest.approx(10 * prices.mediaconvert_hd_minute
                                                     + 20 * prices.mediaconvert_sd_minute, abs=1e-6)


def test_confirming_a_chunks_usage_changes_that_container_alone(ctx, env, conn):
    job = chunked_job(conn)
    [first, second, *_] = ChunkRepository(conn).of_attempt(job.id, job.attempt)
    ctx.usage.record(job, capacity="fargate", executor_job_id="lead", vcpus=4, memory_mib=8192, runtime_s=60)
    for row in (first, second):
        ctx.usage.record(job, capacity="fargate", executor_job_id=f"array:{row.idx}", vcpus=1, memory_mib=2048,
                         runtime_s=600, chunk=row)
    _age_usage(conn, job.id, 120)
    unconfirmed = {r["executor_job_id"]: (r["chunk"], r["chunk_try"])
                   for r in ctx.usage.unconfirmed(settled_s=60, limit=10) if r["job_id"] == job.id}
    assert unconfirmed == {"lead": (None, None), "array:0": (0, 1), "array:1": (1, 1)}
    ctx.usage.confirm(job.id, job.attempt, chunk=1, chunk_try=1, capacity="fargate_spot", vcpus=1, memory_mib=2048,
                      runtime_s=700)
    rows = conn.execute("SELECT chunk, runtime_s, runtime_source, capacity FROM job_attempt_usage "
                        "WHERE job_id = %s ORDER BY chunk", (job.id,)).fetchall()
    assert [tuple(r.values()) for r in rows] == [
        (-1, 60, "runner", "fargate"), (0, 600, "runner", "fargate"), (1, 700, "executor", "fargate_spot")]
    ctx.usage.confirm(job.id, job.attempt, capacity="fargate", vcpus=4, memory_mib=8192, runtime_s=65)  # the lead's
    assert conn.execute("SELECT runtime_s FROM job_attempt_usage WHERE job_id = %s AND chunk = -1",
                        (job.id,)).fetchone()["runtime_s"] == 65
