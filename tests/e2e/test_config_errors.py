"""A configuration mistake is a config_error at start (exit 6) naming the variable, before
anything is written: never a db_error, an internal_error, or a job and video that fail."""

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.domain.errors import EXIT_CODES
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg

MISTAKES = [
    ("VIDEOCTL_LADDER", "1080:fast"),
    ("VIDEOCTL_LADDER", "garbage"),
    ("VIDEOCTL_STALE_AFTER_SECONDS", "nan"),
    ("VIDEOCTL_BACKOFF_BASE_SECONDS", "inf"),
    ("VIDEOCTL_QUEUED_AFTER_SECONDS", "1e300"),
    ("VIDEOCTL_MAX_ATTEMPTS", "1000000"),
    ("VIDEOCTL_SUBMIT_RATE", "500"),
    ("AWS_ENDPOINT_URL", "http://bad host"),
    ("AWS_ENDPOINT_URL_BATCH", "http://bad_host:4566"),
    ("VIDEOCTL_AWS_ENDPOINT_URL", "localhost:4566"),
    ("AWS_REGION", "us east 1"),
    ("VIDEOCTL_VIDEOS_ROOT", "./videos"),
    ("VIDEOCTL_VIDEOS_ROOT", "videos//x"),
    ("REDIS_URL", "redis://:abc/def@127.0.0.1:6379/0"),
    ("REDIS_URL", "redis://:p%zz@127.0.0.1:6379/0"),
    ("VIDEOCTL_MEASURE_QUALITY", "sometimes"),
    ("VIDEOCTL_SIZING", "0:2-4096"),  # not GPX:VCPU/MEMORY_MIB
    ("VIDEOCTL_SIZING", "0:4/4096"),  # a pair Fargate does not offer (moto would take it)
    ("VIDEOCTL_SIZING", "0:2/4096,200:8/16384,50:4/8192"),  # thresholds out of order
    ("VIDEOCTL_CHUNK_SECONDS", "10"),  # not a whole number of the default 4 s segments
    ("VIDEOCTL_CHUNK_AFTER_SECONDS", "soon"),  # a number of seconds, or off
]


@pytest.fixture
def video_id(capsys, env, tmp_path) -> int:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 2048)
    added = run_cli(capsys, "--json", "video", "add", str(clip))
    assert added.exit_code == 0, added.stderr
    return added.json()["data"]["id"]


@pytest.mark.parametrize(("name", "value"), MISTAKES)
def test_a_mistake_stops_config_show_and_submit_naming_the_variable(capsys, monkeypatch, conn, video_id, name, value):
    monkeypatch.setenv(name, value)
    for args in (("config", "show"), ("submit", str(video_id))):
        result = run_cli(capsys, "--json", *args)
        error = result.json()["error"]
        assert result.exit_code == EXIT_CODES["config_error"] == 6, (args, error)
        assert error["code"] == "config_error" and name in error["message"], error
    # Nothing was written: no job, the video as it was.
    assert conn.execute("SELECT count(*) AS n FROM video_transcode_job").fetchone()["n"] == 0
    assert conn.execute("SELECT status FROM video WHERE id = %s", (video_id,)).fetchone()["status"] == "UPLOADED"


def test_the_human_rendering_names_the_variable_too(capsys, monkeypatch, video_id):
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "nan")
    result = run_cli(capsys, "submit", str(video_id))
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert result.exit_code == 6
    assert "config_error" in said and "VIDEOCTL_HEARTBEAT_SECONDS must be from 0.1 to 3600, got 'nan'" in said


@pytest.mark.slow
def test_a_bad_ladder_never_turns_a_video_failed(capsys, monkeypatch, ctx, tmp_path):
    """The container's ladder is wrong: run-job and scan-stuck refuse to start, the job and
    its video are left as they were, and once the ladder is fixed the same job encodes."""
    ffmpeg = find_ffmpeg()
    added = run_cli(capsys, "--json", "video", "add", str(clips.normal(ffmpeg, tmp_path)))
    video_id = added.json()["data"]["id"]
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video_id, max_attempts=3))

    monkeypatch.setenv("VIDEOCTL_LADDER", "1080:5000,720:fast")
    for args in (("run-job", str(job.id)), ("scan-stuck",)):
        result = run_cli(capsys, "--json", *args)
        assert result.exit_code == 6, result
        assert result.json()["error"]["code"] == "config_error"
        assert "VIDEOCTL_LADDER" in result.json()["error"]["message"]
    untouched = ctx.jobs.get(job.id)
    assert (untouched.state, untouched.attempt, untouched.error_code) == (job.state, job.attempt, None)
    assert ctx.videos.get(video_id).status is VideoStatus.UPLOADED

    monkeypatch.setenv("VIDEOCTL_LADDER", "360:800,240:400")
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0
    assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED
    assert ctx.videos.get(video_id).status is VideoStatus.READY
