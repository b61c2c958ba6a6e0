"""The events outbox on a real PostgreSQL: one event with each transition, in its transaction, drained once.

Every transition the app hears of (video READY or FAILED, job FAILED, DEAD, CANCELLED) writes
its event in the same transaction, whoever makes it (run-job, scan-stuck, `jobs cancel`,
`video delete`); a transition that does not commit leaves no event, and an event that cannot
be written stops the transition. Drains deliver each event once to a real local webhook (two
drains at once included), keep what failed pending, and stop at a target that is down.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from tests import clips
from tests.events_receiver import Receiver
from tests.integration.test_repositories import make_video
from videoctl.api import Client
from videoctl.db.repositories import EventRepository, JobRepository, VideoRepository
from videoctl.domain.errors import DbError, InvalidState, JobFailed, NotFound
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.notify.webhook import WebhookSender
from videoctl.services.events import drain_events

SECRET = "whsec-integration-0123456789"


def recorded(conn) -> list[tuple[str, int | None, int | None]]:
    """(type, video, job) of every event, in the order they were recorded."""
    return [(e.type, e.video_id, e.job_id) for e in reversed(EventRepository(conn).list(limit=1000)[0])]


def running_job(conn, video=None):
    jobs = JobRepository(conn)
    video = video or make_video(conn)
    job = jobs.mark_submitted(jobs.begin_attempt(jobs.create(video.id, max_attempts=3)), "local:1:1")
    return jobs.claim(job, "runner-1", batch_job_id=None)


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


@pytest.fixture
def webhook_env(monkeypatch, env, receiver):
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url)
    monkeypatch.setenv("VIDEOCTL_EVENTS_WEBHOOK_SECRET", SECRET)
    return receiver


# ---------------------------------------------------------------- written with the transition


def test_each_transition_records_one_event_with_what_the_app_needs(conn):
    jobs, videos = JobRepository(conn), VideoRepository(conn)
    job = running_job(conn)
    failed = jobs.fail(job, error_code="media_error", error_message="ffmpeg exited 1", runner_id="runner-1")
    dead = jobs.mark_dead(failed)
    videos.mark_failed(job.video_id, error_code=dead.error_code, error_message=dead.error_message, job_id=dead.id)
    other = running_job(conn)
    jobs.cancel(other.id, "wrong file")
    third = make_video(conn)
    video, replaced = videos.set_ready(third.id, f"videos/{third.id}/hls/31-2/master.m3u8")

    assert recorded(conn) == [("job.failed", job.video_id, job.id), ("job.dead", job.video_id, job.id),
                              ("video.failed", job.video_id, job.id), ("job.cancelled", other.video_id, other.id),
                              ("video.ready", third.id, 31)]
    events = {e.type: e for e in EventRepository(conn).list(limit=10)[0]}
    assert events["job.failed"].data["error_code"] == "media_error"
    assert events["video.failed"].data == {"error_code": "media_error", "error_message": "ffmpeg exited 1"}
    assert events["job.cancelled"].data["reason"] == "wrong file"
    assert events["video.ready"].data["hls_path"] == video.hls_path and replaced is None
    assert all(e.pending and e.attempts == 0 for e in events.values())
    assert len({e.event_id for e in events.values()}) == 5


def test_a_transition_that_rolls_back_leaves_no_event(conn):
    jobs = JobRepository(conn)
    job = running_job(conn)
    with pytest.raises(RuntimeError), jobs.transaction():
        jobs.cancel(job.id, "changed my mind")
        raise RuntimeError("the caller's transaction fails after the cancel")
    assert jobs.get(job.id).state is JobState.RUNNING
    assert recorded(conn) == []


def test_a_transition_whose_event_cannot_be_written_does_not_happen(conn, db_url):
    """One transaction: with the outbox unwritable, the cancel is refused whole, not half done."""
    job = running_job(conn)
    with psycopg.connect(db_url) as blocker:  # holds the table so inserts fail at once
        blocker.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
        conn.execute("SET lock_timeout = '200ms'")
        with pytest.raises(DbError, match="insert_event"):
            JobRepository(conn).cancel(job.id, "x")
        conn.execute("RESET lock_timeout")
        blocker.rollback()
    assert JobRepository(conn).get(job.id).state is JobState.RUNNING
    assert recorded(conn) == []


def test_ready_and_failed_never_skip_their_event(conn):
    video = make_video(conn)
    for target in (VideoStatus.READY, VideoStatus.FAILED):
        with pytest.raises(AssertionError, match="set_ready or mark_failed"):
            VideoRepository(conn).set_status(video.id, target)


def test_a_ready_video_keeps_its_ladder_and_gets_no_video_failed(conn):
    videos = VideoRepository(conn)
    video = make_video(conn)
    videos.set_ready(video.id, f"videos/{video.id}/hls/1-1/master.m3u8")
    assert videos.mark_failed(video.id, error_code="media_error", error_message="re-encode died") is None
    assert videos.get(video.id).status is VideoStatus.READY
    assert [t for t, _, _ in recorded(conn)] == ["video.ready"]


def test_a_re_encode_says_which_ladder_it_replaced(conn):
    videos, jobs = VideoRepository(conn), JobRepository(conn)
    video = make_video(conn)
    videos.set_ready(video.id, f"videos/{video.id}/hls/0-1/master.m3u8")
    job = jobs.create(video.id, max_attempts=3, reencode=True, begin=True)
    videos.set_ready(video.id, f"videos/{video.id}/hls/{job.id}-1/master.m3u8", job=job)
    newest = EventRepository(conn).list(limit=1)[0][0]
    assert newest.job_id == job.id and newest.data["reencode"] is True and newest.data["attempt"] == 1
    assert newest.data["replaced_hls_path"] == f"videos/{video.id}/hls/0-1/master.m3u8"


def test_scan_stuck_records_failed_dead_and_video_failed_in_its_pass(ctx):
    from videoctl.services.scan import scan_pass

    job = running_job(ctx.conn)
    ctx.jobs.fail(job, error_code="invalid_input", error_message="not a media file", runner_id="runner-1")
    scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor, settings=ctx.settings, sleep=lambda s: None)
    assert recorded(ctx.conn) == [("job.failed", job.video_id, job.id), ("job.dead", job.video_id, job.id),
                                  ("video.failed", job.video_id, job.id)]
    assert ctx.videos.get(job.video_id).status is VideoStatus.FAILED


def test_cancel_and_video_delete_are_delivered_right_after_their_commit(webhook_env, ctx):
    job = ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3)
    videoctl = Client(context=ctx)  # the ctx fixture closes it
    videoctl.cancel(job.id, "wrong file")
    assert [e["type"] for e in webhook_env.processed.values()] == ["job.cancelled"]
    other = ctx.jobs.create(make_video(ctx.conn).id, max_attempts=3)
    videoctl.delete_video(other.video_id, confirm=True, reason="gone")
    delivered = list(webhook_env.processed.values())
    assert [(e["type"], e["job_id"]) for e in delivered] == [("job.cancelled", job.id), ("job.cancelled", other.id)]
    assert delivered[1]["data"]["reason"] == f"video {other.video_id} deleted: gone"
    assert EventRepository(ctx.conn).count_pending() == 0


@pytest.mark.slow
def test_run_job_tells_the_app_where_the_ladder_is(webhook_env, ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    videoctl = Client(context=ctx)
    video = videoctl.add_video(clips.normal(find_ffmpeg(), tmp_path))
    job = ctx.jobs.create(video.id, max_attempts=3, begin=True)  # attempt 1, as submit makes it
    videoctl.run_job(job.id)
    ready = ctx.videos.get(video.id)
    [event] = webhook_env.processed.values()
    assert (event["type"], event["video_id"], event["job_id"], event["version"]) == ("video.ready", video.id, job.id, 1)
    data = event["data"]
    assert data["hls_path"] == ready.hls_path and data["mpd_path"] == ready.mpd_path
    assert data["poster_path"] == ready.poster_path and ctx.store.exists(data["poster_path"])
    assert data["duration_s"] == pytest.approx(ready.duration_s) and data["duration_s"] > 1
    assert (data["attempt"], data["reencode"], data["replaced_hls_path"]) == (1, False, None)


def test_run_job_tells_the_app_of_a_failed_attempt(webhook_env, ctx, tmp_path):
    not_media = tmp_path / "notes.mp4"
    not_media.write_bytes(b"this is not a video" * 100)
    videoctl = Client(context=ctx)
    video = videoctl.add_video(not_media)
    job = ctx.jobs.create(video.id, max_attempts=3)
    with pytest.raises(JobFailed, match="invalid_input"):
        videoctl.run_job(job.id)
    [event] = webhook_env.processed.values()
    assert (event["type"], event["job_id"], event["data"]["error_code"]) == ("job.failed", job.id, "invalid_input")


# ---------------------------------------------------------------- the drain


def sender(receiver: Receiver, **kw) -> WebhookSender:
    return WebhookSender(receiver.url, SECRET, **kw)


def pending_events(conn, count: int) -> list:
    jobs = JobRepository(conn)
    return [jobs.cancel(jobs.create(make_video(conn).id, max_attempts=1).id, f"n{i}") for i in range(count)]


def test_a_drain_delivers_each_pending_event_once_oldest_first(conn, receiver):
    pending_events(conn, 3)
    repo = EventRepository(conn)
    result = drain_events(repo, sender(receiver))
    assert (result.sent, result.failures, result.pending, result.stopped_early) == (3, [], 0, False)
    assert [e["sequence"] for e in receiver.processed.values()] == sorted(e["sequence"] for e in receiver.processed.values())
    assert drain_events(repo, sender(receiver)).sent == 0  # nothing twice
    assert len(receiver.arrivals) == 3 and receiver.duplicates == 0
    delivered = repo.list(limit=10)[0]
    assert all(e.delivered_to == receiver.url and e.receipt == "HTTP 204" and e.attempts == 1 for e in delivered)


def test_two_drains_at_once_never_send_an_event_twice(conn, db_url, receiver):
    pending_events(conn, 12)
    barrier, results = threading.Barrier(2), []

    def drain() -> None:
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as own:
            barrier.wait()
            results.append(drain_events(EventRepository(own), sender(receiver)))

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 12
    assert len(receiver.arrivals) == 12 and receiver.duplicates == 0 and len(receiver.processed) == 12


def test_with_no_target_events_stay_pending_and_are_counted(conn):
    pending_events(conn, 2)
    result = drain_events(EventRepository(conn), None)
    assert (result.target, result.sent, result.pending) == (None, 0, 2)
    assert all(e.attempts == 0 for e in EventRepository(conn).list()[0])


def test_a_refused_event_stays_pending_and_the_next_still_goes(conn, receiver):
    first, second = pending_events(conn, 2)
    receiver.script = [400]
    result = drain_events(EventRepository(conn), sender(receiver), sleep=lambda s: None)
    assert result.sent == 1 and not result.stopped_early and result.pending == 1
    [failure] = result.failures
    assert failure.error.code == "delivery_error" and "HTTP 400" in failure.error.message
    refused = EventRepository(conn).get(failure.event.id)
    assert refused.pending and refused.attempts == 1 and "HTTP 400" in refused.last_error
    assert len(receiver.arrivals) == 2  # a refusal is not retried


def test_a_target_that_is_down_ends_the_drain_and_loses_nothing(conn, receiver):
    pending_events(conn, 3)
    receiver.script = [503] * 3
    sleeps: list[float] = []
    result = drain_events(EventRepository(conn), sender(receiver), sleep=sleeps.append)
    assert result.stopped_early and result.sent == 0 and result.pending == 3 and len(result.failures) == 1
    assert len(receiver.arrivals) == 3 and len(sleeps) == 2  # three tries of the first event, then stop
    assert all(0 <= s <= 8 for s in sleeps)
    assert drain_events(EventRepository(conn), sender(receiver)).sent == 3  # back up: all of them go


def test_discard_by_number_or_uuid_and_not_twice(conn, receiver):
    pending_events(conn, 2)
    repo = EventRepository(conn)
    first, second = sorted(repo.list()[0], key=lambda e: e.id)
    assert repo.discard(first.id, "the app dropped it").discard_reason == "the app dropped it"
    assert repo.discard(second.event_id, "also").discarded_at is not None
    with pytest.raises(InvalidState, match="already discarded: the app dropped it"):
        repo.discard(str(first.id), "again")
    assert drain_events(repo, sender(receiver)).sent == 0  # discarded events are never sent
    with pytest.raises(NotFound):
        repo.discard("00000000-0000-0000-0000-000000000000", "x")
    with pytest.raises(NotFound, match="its number or its UUID"):
        repo.get("not-an-id")


def test_a_delivered_event_cannot_be_discarded(conn, receiver):
    pending_events(conn, 1)
    drain_events(EventRepository(conn), sender(receiver))
    [event] = EventRepository(conn).list()[0]
    with pytest.raises(InvalidState, match="already delivered"):
        EventRepository(conn).discard(event.id, "too late")


def test_list_filters_and_counts(conn):
    jobs = pending_events(conn, 2)
    repo = EventRepository(conn)
    repo.discard(repo.list(limit=1)[0][0].id, "x")
    events, total = repo.list(pending_only=True)
    assert total == 1 and [e.job_id for e in events] == [jobs[0].id]
    assert repo.list(video_id=jobs[1].video_id)[1] == 1
    assert repo.list(type="video.ready")[1] == 0 and repo.list(type="job.cancelled")[1] == 2
    assert repo.list(video_id=10**20) == ([], 0)
