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
