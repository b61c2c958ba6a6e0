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
