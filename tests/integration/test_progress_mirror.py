"""Redis is optional: a REDIS_URL redis-py cannot use turns the mirror off with a warning, never fails a job."""

import logging

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.db.progress_mirror import RedisProgressMirror
from videoctl.domain.states import JobState
from videoctl.media.binary import find_ffmpeg
from videoctl.services.videos import add_video

#: Well formed (Settings accepts it), but redis-py refuses the option when it builds the client.
UNUSABLE = "redis://:s3cret-pw@127.0.0.1:6379/0?socket_timeout=soon"


def test_an_unusable_url_turns_the_mirror_off_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="videoctl.db.progress_mirror"):
        mirror = RedisProgressMirror(UNUSABLE)
    assert mirror.client is None
    assert mirror.publish(video_id=1, job_id=1, attempt=1, state="RUNNING", progress=5) is False
    mirror.close()
    assert "progress is not mirrored to Redis" in caplog.text and "s3cret-pw" not in caplog.text


@pytest.mark.slow
def test_an_unusable_redis_url_never_fails_the_job(capsys, ctx, env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("REDIS_URL", UNUSABLE)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    result = run_cli(capsys, "run-job", str(job.id))
    assert result.exit_code == 0, result.stderr
    assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED


def _redis_or_skip(url: str):
    import os

    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            raise  # CI starts Redis: its absence is a broken machine, not a skip
        pytest.skip("no Redis at 127.0.0.1:6379 (CI has one)")
    return client


def test_the_mirror_carries_progress_and_the_eta_of_a_running_job(ctx):
    import json

    from tests.integration.test_repositories import make_video
    from videoctl.db.progress_mirror import progress_key
    from videoctl.services.heartbeat import Heartbeat

    url = "redis://127.0.0.1:6379/0"
    redis_client = _redis_or_skip(url)
    video = make_video(ctx.conn)
    job = ctx.jobs.claim(ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3)), "runner-1",
                         batch_job_id=None)
    ctx.conn.execute("UPDATE video_transcode_job SET started_at = now() - interval '40 seconds' WHERE id = %s",
                     (job.id,))
    job = ctx.jobs.get(job.id)
    mirror = RedisProgressMirror(url)
    heartbeat = Heartbeat(job, lambda: ctx.jobs, interval_s=60, mirror=mirror)
    try:
        heartbeat.update(2)  # below 5 %: the rate says nothing yet
        heartbeat.publish("RUNNING")
        early = json.loads(redis_client.get(progress_key(video.id)))
        assert (early["job_id"], early["state"], early["progress"], early["eta_s"]) == (job.id, "RUNNING", 2, None)
        heartbeat.update(40)  # 40 % in 40 s: 60 s to go
        heartbeat.publish("RUNNING")
        running = json.loads(redis_client.get(progress_key(video.id)))
        assert running["progress"] == 40 and running["eta_s"] == pytest.approx(60, abs=3)
        heartbeat.publish("SUCCEEDED")
        assert json.loads(redis_client.get(progress_key(video.id)))["eta_s"] is None
    finally:
        redis_client.delete(progress_key(video.id))
        mirror.close()


class RecordingMirror(RedisProgressMirror):
    """The real mirror to Redis, each document it published also kept in order."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.published: list[dict] = []

    def publish(self, **document) -> bool:
        self.published.append(document)
        return super().publish(**document)


@pytest.mark.slow
def test_a_chunked_jobs_mirror_follows_its_chunks_not_the_leads_own_pace(ctx, env, monkeypatch, tmp_path):
    import dataclasses
    import json

    from tests.chunking import FakeChunkExecutor, chunk_env, encode_in_chunks, lecture
    from videoctl.db.progress_mirror import progress_key

    url = "redis://127.0.0.1:6379/0"
    redis_client = _redis_or_skip(url)
    chunk_env(monkeypatch, tmp_path)
    mirror = RecordingMirror(url)
    executor = FakeChunkExecutor()
    deps = dataclasses.replace(ctx.run_job_deps(), mirror=mirror, chunk_executor=lambda on_batch: executor)
    source = lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20)
    try:
        video, job = encode_in_chunks(ctx, deps, source, chunks=3)
        lead = [d for d in mirror.published if d["progress"] <= 25]  # the lead's part ends at 25 %
        chunks = [d for d in mirror.published if 25 < d["progress"] < 94 and d["state"] == "RUNNING"]
        # The lead's pace said nothing once its chunks were out: its last word has no ETA.
        assert lead and lead[-1]["eta_s"] is None
        # Each chunk but the last (it assembles) published the job's progress as the counter moved
        # it, and the time the chunks left will take at the pace the finished ones measured.
        assert [d["progress"] for d in chunks] == [25 + 69 * 1 // 3, 25 + 69 * 2 // 3]
        assert all(d["eta_s"] is not None and d["eta_s"] > 0 for d in chunks)
        final = json.loads(redis_client.get(progress_key(video.id)))
        assert (final["job_id"], final["state"], final["progress"], final["eta_s"]) == (job.id, "SUCCEEDED", 100, None)
    finally:
        redis_client.delete(progress_key(video.id))
        mirror.close()
