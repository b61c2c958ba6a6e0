"""Retention on a real database: old finished jobs go in batches; each video's last SUCCEEDED job,
jobs a pending delete request names, active jobs and every video row stay."""

from __future__ import annotations

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from videoctl.db.repositories import DeleteRequestRepository
from videoctl.services.retention import DailyPrune, PruneResult, prune_jobs


def finished(ctx, video, *, succeed: bool):
    job = ctx.jobs.mark_submitted(ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=1)), "b")
    if succeed:
        return ctx.jobs.complete(ctx.jobs.claim(job, "b", batch_job_id="b"))
    return ctx.jobs.mark_dead(ctx.jobs.fail(job, error_code="media_error", error_message="x", runner_id=None))


def age_all(ctx, days: int) -> None:
    ctx.conn.execute("UPDATE video_transcode_job SET updated_at = now() - make_interval(days => %s)", (days,))


def test_prune_keeps_what_must_stay(capsys, ctx):
    video, other = make_video(ctx.conn), make_video(ctx.conn)
    first_success = finished(ctx, video, succeed=True)
    dead = finished(ctx, video, succeed=False)
    last_success = finished(ctx, video, succeed=True)
    named = finished(ctx, other, succeed=False)
    DeleteRequestRepository(ctx.conn).add(f"videos/{other.id}/hls/{named.id}-1/", "abandoned attempt", other.id)
    age_all(ctx, 100)
    active = ctx.jobs.create(other.id, max_attempts=3)  # recent and active: never a candidate
    ctx.conn.execute("UPDATE video_transcode_job SET updated_at = now() - interval '100 days' WHERE id = %s",
                     (active.id,))

    plan = run_cli(capsys, "--json", "jobs", "prune", "--older-than", "90d", "--dry-run")
    assert plan.exit_code == 0, plan.stdout
    # The jobs' events are pending (no target configured): they never go, whatever their age.
    assert plan.json()["data"] == {"dry_run": True, "older_than_s": 90 * 86400, "jobs": 2, "events": 0}
    assert len(ctx.jobs.list(limit=100)) == 5  # a dry run deletes nothing

    done = run_cli(capsys, "--json", "jobs", "prune", "--older-than", "90d")
    assert done.json()["data"]["jobs"] == 2
    left = {j.id for j in ctx.jobs.list(limit=100)}
    assert left == {last_success.id, named.id, active.id}
    assert first_success.id not in left and dead.id not in left
    assert ctx.videos.get(video.id) and ctx.videos.get(other.id)  # video rows stay
    assert run_cli(capsys, "--json", "jobs", "prune", "--older-than", "200d").json()["data"]["jobs"] == 0


def test_prune_goes_in_batches(ctx):
    video = make_video(ctx.conn)
    jobs = [finished(ctx, video, succeed=False) for _ in range(7)]
    age_all(ctx, 30)
    batches: list[int] = []
    result = prune_jobs(ctx.jobs, older_than_s=86400, batch=3, on_batch=batches.append)
    assert result.jobs == len(jobs) and batches == [3, 6, 7]
    assert ctx.jobs.list(limit=100) == []


def test_the_loop_prunes_once_a_day():
    now, calls = [0.0], []

    def prune() -> PruneResult:
        calls.append(now[0])
        return PruneResult(False, 1.0, 0)

    daily = DailyPrune(prune, clock=lambda: now[0])
    for t in (0, 60, 3600, 86_399, 86_400, 90_000, 172_800):
        now[0] = t
        daily()
    assert calls == [0, 86_400, 172_800]


def test_scan_stuck_loop_prunes_when_retention_is_set(ctx, env, monkeypatch):
    import os
    import signal

    from videoctl.api import Client

    video = make_video(ctx.conn)
    finished(ctx, video, succeed=False)
    age_all(ctx, 40)
    monkeypatch.setenv("VIDEOCTL_RETENTION_DAYS", "30")
    reports = []

    def on_pass(passes, report):
        reports.append(report)
        os.kill(os.getpid(), signal.SIGTERM)  # one pass is enough: the loop stops after it

    with Client() as videoctl:
        summary = videoctl.scan_loop(0.01, on_pass=on_pass)
    assert summary.passes == 1 and reports[0].summary()["pruned"] == 1
    assert ctx.jobs.list(limit=10) == []


# ---------------------------------------------------------------- events (no foreign keys: decided and held)


def test_a_pending_event_never_keeps_its_job_and_is_still_delivered_whole(ctx):
    from tests.events_receiver import Receiver
    from videoctl.notify.webhook import WebhookSender
    from videoctl.services.events import drain_events

    dead = finished(ctx, make_video(ctx.conn), succeed=False)
    age_all(ctx, 100)
    assert ctx.events.count_pending() == 2  # job.failed and job.dead: no target, so they wait
    assert prune_jobs(ctx.jobs, older_than_s=90 * 86400, events=ctx.events).jobs == 1
    assert ctx.jobs.list(limit=10) == []
    with Receiver("whsec-retention-0123456789") as receiver:
        sent = drain_events(ctx.events, WebhookSender(receiver.url, "whsec-retention-0123456789"))
    assert sent.sent == 2
    assert [(e["type"], e["job_id"], e["data"]["error_code"]) for e in receiver.processed.values()] == [
        ("job.failed", dead.id, "media_error"), ("job.dead", dead.id, "media_error")]


def test_delivered_and_discarded_events_older_than_the_cut_off_go_pending_ones_stay(ctx, capsys):
    for _ in range(4):
        finished(ctx, make_video(ctx.conn), succeed=False)  # two events each
    events = sorted(ctx.events.list(limit=100)[0], key=lambda e: e.id)
    for event in events[:4]:
        ctx.events.mark_delivered(event.id, target="test", receipt=None)
    ctx.events.discard(events[4].id, "test")
    ctx.events.mark_delivered(events[5].id, target="test", receipt=None)
    ctx.conn.execute("UPDATE event SET delivered_at = now() - interval '100 days', "
                     "discarded_at = now() - interval '100 days', created_at = now() - interval '100 days' "
                     "WHERE id <= %s AND (delivered_at IS NOT NULL OR discarded_at IS NOT NULL)", (events[4].id,))
    ctx.conn.execute("UPDATE event SET created_at = now() - interval '100 days'")  # old, but pending or recent

    plan = run_cli(capsys, "--json", "jobs", "prune", "--older-than", "90d", "--dry-run")
    assert plan.json()["data"]["events"] == 5 and len(ctx.events.list(limit=100)[0]) == 8
    assert prune_jobs(ctx.jobs, older_than_s=90 * 86400, events=ctx.events, batch=2).events == 5
    left = {e.id for e in ctx.events.list(limit=100)[0]}
    assert left == {events[5].id, events[6].id, events[7].id}  # delivered just now, and the pending two
