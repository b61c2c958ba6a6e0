"""Enqueue (moto SQS), and flushing the r2_delete_request table on the real Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
from moto import mock_aws

from tests.conftest import R2_TEST_ENDPOINT
from videoctl.aws.clients import AwsClients
from videoctl.context import AppContext
from videoctl.db.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.errors import AwsError, InvalidInput, InvalidState, StorageError
from videoctl.domain.prefixes import DeleteMessage, idempotency_key, parse_message
from videoctl.services.r2_delete import (
    Sent,
    enqueue_delete_r2,
    flush_delete_requests,
    sender_for,
)
from videoctl.settings import Settings

R2_VARS = {"R2_BUCKET": "videos-test", "R2_ENDPOINT_URL": R2_TEST_ENDPOINT, "R2_ACCESS_KEY_ID": "k",
           "R2_SECRET_ACCESS_KEY": "s"}


@pytest.fixture
def aws_settings(tmp_path):
    with mock_aws():
        yield Settings.from_env({**R2_VARS, "VIDEOCTL_HOME": str(tmp_path)})


def no_store():
    raise AssertionError("SQS mode must not open the object store")


def receive_all(sqs, url, **extra):
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **extra).get("Messages"):
        messages += batch
    return messages


class Recorder:
    """A sender that records messages, and fails for one prefix if told to."""

    def __init__(self, fail_for: str | None = None) -> None:
        self.messages: list[DeleteMessage] = []
        self.fail_for = fail_for

    def __call__(self, message: DeleteMessage) -> Sent:
        if message.prefix == self.fail_for:
            raise AwsError("sqs:SendMessage academy-video-delete-r2 failed: ServiceUnavailable: try later")
        self.messages.append(message)
        return Sent("sqs", message_id=f"m{len(self.messages)}")


def ready_video(conn, attempt: int = 1):
    videos = VideoRepository(conn)
    video_id = videos.next_id()
    videos.add(video_id, title="t", source_key=keys.source_key("videos", video_id, "a.mp4"), size_bytes=1)
    video, _ = videos.set_ready(video_id, keys.master_key(keys.attempt_prefix("videos", video_id, 9, attempt)))
    return video


# ---------------------------------------------------------------- enqueue → SQS


def test_enqueue_sends_every_field_to_sqs(aws_settings):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=aws_settings.delete_queue_name)["QueueUrl"]
    send = sender_for(aws_settings, store=no_store, sqs_client=lambda: AwsClients(aws_settings).sqs)
    before = datetime.now(UTC)

    done = enqueue_delete_r2("videos/12/hls/3-1/", "replaced ladder", 12, settings=aws_settings, send=send,
                             videos=None)

    [received] = receive_all(sqs, url)
    assert received["MessageId"] == done.sent.message_id and done.sent.mode == "sqs"
    body = json.loads(received["Body"])
    assert set(body) == {"version", "prefix", "bucket", "reason", "video_id", "requested_at", "idempotency_key"}
    assert body["version"] == 1
    assert body["prefix"] == "videos/12/hls/3-1/"
    assert body["bucket"] == "videos-test"
    assert body["reason"] == "replaced ladder"
    assert body["video_id"] == 12
    at = datetime.fromisoformat(body["requested_at"])
    assert at.utcoffset() == timedelta(0) and before <= at <= datetime.now(UTC)
    assert body["idempotency_key"] == idempotency_key(bucket="videos-test", prefix="videos/12/hls/3-1/",
                                                      reason="replaced ladder", video_id=12)
    # What the Lambda will read back.
    assert parse_message(received["Body"], bucket="videos-test", videos_root="videos") == done.message


def test_a_fifo_queue_deduplicates_by_the_idempotency_key(tmp_path):
    with mock_aws():
        settings = Settings.from_env({**R2_VARS, "VIDEOCTL_HOME": str(tmp_path),
                                      "VIDEO_DELETE_R2_QUEUE": "academy-video-delete-r2.fifo"})
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="academy-video-delete-r2.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        send = sender_for(settings, store=no_store, sqs_client=lambda: sqs)
        first = enqueue_delete_r2("videos/3/", "r", settings=settings, send=send, videos=None)
        enqueue_delete_r2("videos/3/", "r", settings=settings, send=send, videos=None)  # the same request again
        received = receive_all(sqs, url, MessageSystemAttributeNames=["MessageDeduplicationId"])
        assert len(received) == 1
        assert received[0]["Attributes"]["MessageDeduplicationId"] == first.message.idempotency_key


def test_a_missing_queue_is_an_aws_error_with_code_and_action(aws_settings):
    send = sender_for(aws_settings, store=no_store, sqs_client=lambda: AwsClients(aws_settings).sqs)
    with pytest.raises(AwsError) as failed:
        enqueue_delete_r2("videos/1/", "r", settings=aws_settings, send=send, videos=None)
    assert "sqs:GetQueueUrl academy-video-delete-r2" in failed.value.message
    assert "NonExistentQueue" in failed.value.message
    assert "infra setup" in failed.value.hint


@pytest.mark.parametrize(("prefix", "video_id"), [("videos/", None), ("videos/1", None), ("videos/2/", 1)])
def test_refused_before_anything_is_sent(tmp_path, prefix, video_id):
    settings, send = Settings.from_env({"VIDEOCTL_HOME": str(tmp_path)}), Recorder()
    with pytest.raises(InvalidInput):
        enqueue_delete_r2(prefix, "r", video_id, settings=settings, send=send, videos=None)
    assert send.messages == []


def test_what_a_video_uses_is_never_deleted_whatever_is_confirmed(settings, conn):
    video = ready_video(conn)
    send, videos, jobs = Recorder(), VideoRepository(conn), JobRepository(conn)
    ladder = keys.prefix_of_master(video.hls_path)
    cases = {keys.video_prefix("videos", video.id): "the only copy of video",
             keys.source_prefix("videos", video.id): "the only copy of video",
             ladder: "serves its ladder", ladder + "v0/": "serves its ladder"}
    for prefix, words in cases.items():
        for confirm in (False, True):
            with pytest.raises(InvalidState, match=words) as refused:
                enqueue_delete_r2(prefix, "r", settings=settings, send=send, videos=videos, jobs=jobs,
                                  confirm_source=confirm)
            assert f"videoctl video delete {video.id} --yes" in refused.value.hint
    assert send.messages == []
    # An older attempt's prefix is not in use.
    enqueue_delete_r2(keys.attempt_prefix("videos", video.id, 9, 0), "r", settings=settings, send=send,
                      videos=videos, jobs=jobs)
    assert [m.prefix for m in send.messages] == [keys.attempt_prefix("videos", video.id, 9, 0)]
    assert {m.video_id for m in send.messages} == {video.id}  # derived from the prefix when not given


def test_an_active_job_is_named_and_what_it_writes_is_kept(settings, conn):
    """Today's main deleted an UPLOADED video's source from under its QUEUED job without a word."""
    videos, jobs, send = VideoRepository(conn), JobRepository(conn), Recorder()
    video_id = videos.next_id()
    videos.add(video_id, title="t", source_key=keys.source_key("videos", video_id, "a.mp4"), size_bytes=1)
    job = jobs.create(video_id, max_attempts=3)
    with pytest.raises(InvalidState, match=f"its job {job.id} is QUEUED") as refused:
        enqueue_delete_r2(keys.video_prefix("videos", video_id), "r", video_id, settings=settings, send=send,
                          videos=videos, jobs=jobs, confirm_source=True)
    assert f"videoctl video delete {video_id} --yes" in refused.value.hint
    for prefix in (keys.attempt_prefix("videos", video_id, job.id, 1), f"videos/{video_id}/hls/"):
        with pytest.raises(InvalidState, match=f"job {job.id} \\(QUEUED\\) of video {video_id} writes under"):
            enqueue_delete_r2(prefix, "r", settings=settings, send=send, videos=videos, jobs=jobs)
    # Another job's leftovers are not this job's: they may go.
    enqueue_delete_r2(keys.attempt_prefix("videos", video_id, job.id + 100, 1), "r", settings=settings, send=send,
                      videos=videos, jobs=jobs)
    assert len(send.messages) == 1


def test_a_source_folder_no_video_answers_for_needs_confirmation(settings, conn):
    send = Recorder()
    for prefix in ("videos/77/", "videos/77/source/", "videos/77/source/old/"):
        with pytest.raises(InvalidState, match="no video 77 exists to answer for it") as refused:
            enqueue_delete_r2(prefix, "r", settings=settings, send=send, videos=VideoRepository(conn))
        assert "--yes" in refused.value.hint
    assert send.messages == []
    enqueue_delete_r2("videos/77/hls/", "r", settings=settings, send=send, videos=VideoRepository(conn))
    enqueue_delete_r2("videos/77/", "r", settings=settings, send=send, videos=VideoRepository(conn),
                      confirm_source=True)
    assert [m.prefix for m in send.messages] == ["videos/77/hls/", "videos/77/"]


# ---------------------------------------------------------------- the request table


def add_rows(conn, *prefixes: str) -> list[int]:
    repo = DeleteRequestRepository(conn)
    return [repo.add(p, "abandoned attempt", None).id for p in prefixes]


def sent_at(conn, ids):
    rows = conn.execute("SELECT id, sent_at FROM r2_delete_request WHERE id = ANY(%s)", [ids]).fetchall()
    return {r["id"]: r["sent_at"] for r in rows}


def test_flush_sends_marks_sent_and_leaves_failures_pending(settings, conn):
    ids = add_rows(conn, "videos/1/hls/1-1/", "videos/2/hls/1-1/", "videos/3/hls/1-1/")
    failures = []
    send = Recorder(fail_for="videos/2/hls/1-1/")
    sent = flush_delete_requests(DeleteRequestRepository(conn), send, settings=settings, videos=VideoRepository(conn),
                                 on_failure=failures.append)
    assert sent == 2
    assert [m.prefix for m in send.messages] == ["videos/1/hls/1-1/", "videos/3/hls/1-1/"]
    assert [(f.request_id, f.error.code) for f in failures] == [(ids[1], "aws_error")]
    marks = sent_at(conn, ids)
    assert marks[ids[0]] and marks[ids[2]] and marks[ids[1]] is None
    # The row's id is part of the key: a re-send of the same row carries the same key.
    assert send.messages[0].idempotency_key == idempotency_key(
        bucket="local", prefix="videos/1/hls/1-1/", reason="abandoned attempt", video_id=1, request_id=ids[0])

    retry = Recorder()
    assert flush_delete_requests(DeleteRequestRepository(conn), retry, settings=settings, videos=None) == 1
    assert [m.prefix for m in retry.messages] == ["videos/2/hls/1-1/"] and all(sent_at(conn, ids).values())


def test_flush_skips_rows_another_drain_holds(settings, conn, db_url):
    ids = add_rows(conn, "videos/1/a/", "videos/2/a/")
    with psycopg.connect(db_url) as other:  # another drain, mid-flight
        other.execute("SELECT id FROM r2_delete_request WHERE id = %s FOR UPDATE", [ids[0]])
        send = Recorder()
        assert flush_delete_requests(DeleteRequestRepository(conn), send, settings=settings, videos=None) == 1
        assert [m.prefix for m in send.messages] == ["videos/2/a/"]
    assert sent_at(conn, ids)[ids[0]] is None


def test_flush_never_sends_a_live_ladder(settings, conn):
    video = ready_video(conn)
    [row] = add_rows(conn, keys.prefix_of_master(video.hls_path))
    failures, send = [], Recorder()
    assert flush_delete_requests(DeleteRequestRepository(conn), send, settings=settings, videos=VideoRepository(conn),
                                 on_failure=failures.append) == 0
    assert send.messages == [] and failures[0].error.code == "invalid_state"
    assert sent_at(conn, [row])[row] is None


def test_drain_in_local_mode_deletes_now(ctx, conn):
    root = Path(ctx.settings.storage_dir)
    for key in ("videos/4/hls/1-1/a.ts", "videos/4/hls/1-1/b.ts", "videos/4/hls/2-1/a.ts", "videos/41/hls/1-1/a.ts"):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"x")
    ids = add_rows(conn, "videos/4/hls/1-1/", "videos/99/gone/")  # the second has nothing left: still done
    result = ctx.drain_deletions()
    assert (result.mode, result.sent, result.failures) == ("local", 2, [])
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "videos/4/hls/2-1/a.ts", "videos/41/hls/1-1/a.ts"]
    assert all(sent_at(conn, ids).values())


def test_drain_in_aws_mode_sends_to_sqs(r2_env, conn):
    context = AppContext(Settings.from_env(r2_env))
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=context.settings.delete_queue_name)["QueueUrl"]
    ids = add_rows(conn, "videos/5/hls/1-1/", "videos/6/hls/2-1/")
    try:
        result = context.drain_deletions()
    finally:
        context.close()
    assert (result.mode, result.sent, result.failures) == ("sqs", 2, [])
    bodies = [json.loads(m["Body"]) for m in receive_all(sqs, url)]
    assert sorted(b["prefix"] for b in bodies) == ["videos/5/hls/1-1/", "videos/6/hls/2-1/"]
    assert {b["bucket"] for b in bodies} == {"videos-test"}
    assert all(sent_at(conn, ids).values())


def test_a_storage_failure_in_local_mode_stays_pending(settings, conn):
    class Broken:
        location = "broken://"

        def list_prefix(self, prefix):
            raise StorageError(f"list {prefix!r} failed: disk gone")

    [row] = add_rows(conn, "videos/8/")
    failures = []
    send = sender_for(settings, store=Broken, sqs_client=lambda: pytest.fail("local mode must not use SQS"))
    assert flush_delete_requests(DeleteRequestRepository(conn), send, settings=settings, videos=None,
                                 on_failure=failures.append) == 0
    assert failures[0].error.code == "storage_error" and sent_at(conn, [row])[row] is None


def test_a_discarded_request_is_never_sent_and_stays_on_record(settings, conn):
    from videoctl.domain.errors import InvalidState, NotFound

    video = ready_video(conn)
    live, other = add_rows(conn, keys.prefix_of_master(video.hls_path), "videos/2/hls/1-1/")
    repo = DeleteRequestRepository(conn)
    row = repo.discard(live, "the prefix is the live ladder now")
    assert row.discarded_at is not None and row.discard_reason == "the prefix is the live ladder now"

    failures, send = [], Recorder()
    assert flush_delete_requests(repo, send, settings=settings, videos=VideoRepository(conn),
                                 on_failure=failures.append) == 1
    assert failures == [] and [m.prefix for m in send.messages] == ["videos/2/hls/1-1/"]
    assert repo.list_pending() == ([], 0)

    with pytest.raises(InvalidState, match="already discarded: the prefix is the live ladder now"):
        repo.discard(live, "again")
    with pytest.raises(InvalidState, match="already sent"):
        repo.discard(other, "too late")
    with pytest.raises(NotFound, match="delete request 999 not found"):
        repo.discard(999, "nothing")
    assert sent_at(conn, [live])[live] is None
