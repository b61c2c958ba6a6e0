"""ETA and place in line, as `jobs show`, `jobs list` and `submit --wait` show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from videoctl.domain.eta import eta_s

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_eta_from_the_rate_then_from_the_duration():
    started = NOW - timedelta(seconds=60)
    assert eta_s(25, started, NOW, duration_s=None, seconds_per_source_second=None) == 180  # 60 s for 25 %
    # Too little progress to trust: the probed duration at recent speed, less what has passed.
    assert eta_s(1, started, NOW, duration_s=300, seconds_per_source_second=0.5) == 90
    assert eta_s(1, started, NOW, duration_s=None, seconds_per_source_second=0.5) is None
    assert eta_s(100, started, NOW, duration_s=None, seconds_per_source_second=None) == 0
    assert eta_s(50, None, NOW, duration_s=None, seconds_per_source_second=None) is None


def test_running_jobs_show_an_eta_and_waiting_ones_their_place(capsys, ctx, moto_batch):
    high = ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3, priority=50)
    first, second = (ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3) for _ in range(2))
    running = ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3)
    running = ctx.jobs.claim(ctx.jobs.mark_submitted(ctx.jobs.begin_attempt(running), "b-9"), "b-9",
                             batch_job_id="b-9")
    ctx.conn.execute("UPDATE video_transcode_job SET progress = 40, started_at = now() - interval '80 seconds' "
                     "WHERE id = %s", (running.id,))

    shown = run_cli(capsys, "--json", "jobs", "show", str(running.id)).json()["data"]
    assert 110 <= shown["eta_s"] <= 130 and shown["queue_position"] is None  # 80 s for 40 %: 120 s to go
    listed = {j["id"]: j for j in run_cli(capsys, "--json", "jobs", "list").json()["data"]}
    # Higher priority first, then the order they came in.
    assert [listed[j.id]["queue_position"] for j in (high, first, second)] == [1, 2, 3]
    assert listed[first.id]["eta_s"] is None
    human = run_cli(capsys, "jobs", "list")
    assert "#1 in line" in human.stdout and "left" in human.stdout


def test_a_submitted_job_says_what_batch_says(capsys, ctx, moto_batch):
    result = run_cli(capsys, "--json", "submit", str(make_video(ctx.conn).id))
    job_id = result.json()["data"]["job_id"]
    shown = run_cli(capsys, "--json", "jobs", "show", str(job_id)).json()["data"]
    assert shown["queue_position"] == 1
    assert shown["executor_status"] in {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"}
