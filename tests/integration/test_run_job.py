"""run-job end to end: real ffmpeg on generated clips, the real Postgres, a local store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import clips
from tests.cli import run_cli
from tests.mpd_schema import assert_valid_mpd
from videoctl.domain.errors import EXIT_CODES
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow

LADDER = "360:800,240:400"


@pytest.fixture
def ffmpeg_bin() -> str:
    return find_ffmpeg()


@pytest.fixture
def run_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", LADDER)
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return dict(os.environ)


@pytest.fixture
def marker_ffmpeg(tmp_path, monkeypatch) -> Path:
    """An 'ffmpeg' that only leaves a mark: proves a path never started the encoder."""
    mark = tmp_path / "ffmpeg-was-run"
    script = tmp_path / "ffmpeg-marker"
    script.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("VIDEOCTL_FFMPEG", str(script))
    return mark


def ready_job(ctx, path: Path, **create):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=path)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3, **create))
    return video, job


def plays(ffmpeg_bin: str, master: Path) -> None:
    # Every stream: ffmpeg's HLS demuxer, probing a variant it then discards, reads part of an
    # fMP4 fragment and complains about the cut, which says nothing about the ladder.
    result = subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(master), "-map", "0", "-f", "null", "-"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def start_run_job(job_id: int, *extra_env: tuple[str, str]) -> subprocess.Popen:
    env = dict(os.environ, VIDEOCTL_LOG_FORMAT="json", **dict(extra_env))
    return subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "run-job", str(job_id)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_until(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def resubmit_as_scan_stuck_would(ctx, job_id: int):
    """Fail the attempt (stale), wait out the backoff, begin the next attempt."""
    job = ctx.jobs.get(job_id)
    if job.state is JobState.RUNNING:
        job = ctx.jobs.fail(job, error_code="stale", error_message="heartbeat stopped", runner_id=None)
    return ctx.jobs.begin_attempt(ctx.jobs.schedule_retry(job, 0))


@pytest.fixture
def long_clip(ffmpeg_bin, tmp_path) -> Path:
    # Long enough to be caught mid-encode on 2 cores, small enough to stay quick.
    return generate_sample_clip(ffmpeg_bin, tmp_path / "long.mp4", seconds=20, width=640, height=360, noise=True)


def test_encodes_completes_and_is_idempotent(capsys, ctx, run_env, ffmpeg_bin, tmp_path):
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["data"]["outcome"] == "encoded"

    done = ctx.jobs.get(job.id)
    assert done.state is JobState.SUCCEEDED and done.progress == 100
    assert done.output_prefix == f"videos/{video.id}/hls/{job.id}-1/"
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY
    assert ready.hls_path == f"videos/{video.id}/hls/{job.id}-1/master.m3u8"
    assert (ready.width, ready.height, ready.has_audio) == (640, 360, True)
    assert ready.duration_s == pytest.approx(2.0, abs=0.1)
    master = Path(ctx.store.url_for(ready.hls_path))
    names = {p.relative_to(master.parent).as_posix() for p in master.parent.rglob("*") if p.is_file()}
    assert {"master.m3u8", "360p/index.m3u8", "240p/index.m3u8", "audio/index.m3u8", "manifest.mpd"} <= names
    assert {"360p/init_360p.mp4", "360p/seg_00000.m4s"} <= names  # CMAF segments by default
    prefix = f"videos/{video.id}/hls/{job.id}-1/"
    assert ready.mpd_path == prefix + "manifest.mpd"
    assert (ready.poster_path, ready.poster_small_path) == (prefix + "poster.jpg", prefix + "poster-320.jpg")
    assert ready.storyboard_path == prefix + "storyboard.vtt" and "storyboard.jpg" in names
    assert ready.download_path == prefix + "download.mp4"
    assert not {"poster-choice.txt", "storyboard-0.jpg", "storyboard-1.jpg"} & names  # only what a player reads
    assert not [name for name in names if name.startswith(".")]
    plays(ffmpeg_bin, master)
    plays(ffmpeg_bin, master.parent / "manifest.mpd")
    assert_valid_mpd(master.parent / "manifest.mpd")
    assert list((tmp_path / "scratch").iterdir()) == []  # scratch removed

    again = run_cli(capsys, "--json", "run-job", str(job.id))
    assert again.exit_code == 0 and again.json()["data"]["outcome"] == "already_succeeded"
    assert ctx.jobs.get(job.id).updated_at == done.updated_at  # nothing touched


def test_a_portrait_upload_gets_rungs_keyed_on_its_short_side(capsys, ctx, run_env, ffmpeg_bin, tmp_path,
                                                              monkeypatch):
    # 360x640: its short side (360) picks the rungs. Keyed on its height (640), a 480p rung
    # was chosen above the picture's width and the job failed.
    monkeypatch.setenv("VIDEOCTL_LADDER", "480:1500,360:800,240:400")
    video, job = ready_job(ctx, clips.portrait(ffmpeg_bin, tmp_path))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout + result.stderr
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY
    master = Path(ctx.store.url_for(ready.hls_path)).read_text()
    assert "RESOLUTION=360x640" in master and "RESOLUTION=240x426" in master and "480p" not in master


def test_an_output_that_fails_verification_fails_the_attempt_and_nothing_is_uploaded(
        capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    from videoctl.media import download

    real_remux = download.remux_download

    def remux_with_the_index_at_the_end(ffmpeg, out_dir, rung, *, has_audio):
        path = real_remux(ffmpeg, out_dir, rung, has_audio=has_audio)
        moved = path.with_name("moved.mp4")
        subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-map", "0", "-c", "copy", str(moved)], check=True)
        return moved.replace(path)

    monkeypatch.setattr(download, "remux_download", remux_with_the_index_at_the_end)
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 1
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "verify_failed"
    assert "download.mp4 has its moov index after its media" in failed.error_message
    assert ctx.videos.get(video.id).status is not VideoStatus.READY
    assert list(ctx.store.list_prefix(f"videos/{video.id}/hls/")) == []  # verified before any upload


def test_mpeg_ts_ladders_have_every_output_but_the_mpd(capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_SEGMENT_FORMAT", "ts")
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY and ready.mpd_path is None
    assert None not in (ready.poster_path, ready.storyboard_path, ready.download_path)
    master = Path(ctx.store.url_for(ready.hls_path))
    assert (master.parent / "360p" / "seg_00000.ts").is_file()
    plays(ffmpeg_bin, master)
    plays(ffmpeg_bin, Path(ctx.store.url_for(ready.download_path)))


def test_with_downloads_off_there_is_no_download(capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_DOWNLOAD_RUNG", "off")
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY and ready.download_path is None
    assert ready.poster_path is not None


def test_ready_video_completes_without_download_or_ffmpeg(capsys, ctx, run_env, ffmpeg_bin, tmp_path,
                                                          marker_ffmpeg, monkeypatch):
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    ctx.videos.set_ready(video.id, f"videos/{video.id}/hls/0-1/master.m3u8")
    ctx.store.delete_keys([video.source_key])  # a download would now fail
    monkeypatch.setenv("VIDEO_JOB_ID", str(job.id))
    result = run_cli(capsys, "--json", "run-job")
    assert result.exit_code == 0, result.stdout
    assert result.json()["data"]["outcome"] == "ready_guard"
    assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED
    assert ctx.videos.get(video.id).hls_path == f"videos/{video.id}/hls/0-1/master.m3u8"
    assert not marker_ffmpeg.exists()


def test_unknown_job_is_not_found(capsys, ctx, run_env):
    result = run_cli(capsys, "--json", "run-job", "4242")
    assert result.exit_code == EXIT_CODES["not_found"]
    assert result.json()["error"]["code"] == "not_found"


def test_missing_job_id_is_a_usage_error(capsys, ctx, run_env):
    result = run_cli(capsys, "--json", "run-job")
    assert result.exit_code == EXIT_CODES["usage_error"]
    assert "VIDEO_JOB_ID" in result.json()["error"]["message"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (clips.not_media, "not a media file"),
        (clips.truncated, "truncated"),
        (clips.audio_only, "audio-only"),
        (None, "does not exist"),
    ],
)
def test_bad_source_fails_the_attempt_with_invalid_input(capsys, ctx, run_env, ffmpeg_bin, tmp_path, make, reason):
    path = make(ffmpeg_bin, tmp_path) if make else clips.normal(ffmpeg_bin, tmp_path)
    video, job = ready_job(ctx, path)
    if make is None:
        ctx.store.delete_keys([video.source_key])
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 1
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "invalid_input"
    assert reason in failed.error_message.lower()
    assert ctx.videos.get(video.id).status is not VideoStatus.READY


def test_two_concurrent_containers_one_encodes(ctx, run_env, ffmpeg_bin, tmp_path):
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    procs = [start_run_job(job.id) for _ in range(2)]
    results = [(p.wait(timeout=120), json.loads(p.stdout.read())) for p in procs]
    encoded = [doc for code, doc in results if code == 0 and doc["data"]["outcome"] == "encoded"]
    assert len(encoded) == 1, results
    # The other one was refused at the claim, or (started late) found the job done.
    [(code, doc)] = [r for r in results if r[1] is not encoded[0]]
    assert (code in (EXIT_CODES["invalid_state"], EXIT_CODES["fenced"])
            or doc["data"]["outcome"] == "already_succeeded"), doc
    assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED
    hls = Path(ctx.store.url_for(f"videos/{video.id}/hls"))
    assert [p.name for p in hls.iterdir()] == [f"{job.id}-1"]


def test_stale_runner_is_fenced_out_mid_encode(ctx, run_env, ffmpeg_bin, long_clip):
    video, job = ready_job(ctx, long_clip)
    proc = start_run_job(job.id)
    wait_until(lambda: ctx.jobs.get(job.id).progress >= 15, what="encode progress")
    resubmit_as_scan_stuck_would(ctx, job.id)  # attempt 2 now; the runner holds attempt 1
    assert proc.wait(timeout=60) == EXIT_CODES["fenced"], proc.stderr.read()
    after = ctx.jobs.get(job.id)
    assert after.state is JobState.RETRY_WAIT and after.attempt == 2
    assert not ctx.store.exists(f"videos/{video.id}/hls/{job.id}-1/master.m3u8")
    assert ctx.videos.get(video.id).status is not VideoStatus.READY


def test_kill_9_during_encode_then_rerun_completes(capsys, ctx, run_env, ffmpeg_bin, long_clip):
    video, job = ready_job(ctx, long_clip)
    proc = start_run_job(job.id)
    wait_until(lambda: ctx.jobs.get(job.id).progress >= 15, what="encode progress")
    os.killpg(proc.pid, signal.SIGKILL)  # the container dies with its ffmpeg
    proc.wait(timeout=10)
    assert ctx.jobs.get(job.id).state is JobState.RUNNING  # nobody recorded anything
    # As if it had died halfway through its upload: a partial ladder under attempt 1.
    ctx.store.upload_file(long_clip, f"videos/{video.id}/hls/{job.id}-1/360p/seg_00000.ts")
    resubmit_as_scan_stuck_would(ctx, job.id)
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ctx.videos.get(video.id).hls_path == f"videos/{video.id}/hls/{job.id}-2/master.m3u8"
    # The abandoned attempt's prefix was recorded with the completion and, with
    # local storage, deleted right after it by the same code as the Lambda.
    assert ctx.delete_requests.pending() == []
    assert list(ctx.store.list_prefix(f"videos/{video.id}/hls/{job.id}-1/")) == []
    assert ctx.store.exists(f"videos/{video.id}/hls/{job.id}-2/master.m3u8")


def test_crash_after_upload_reruns_without_ffmpeg(capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    from videoctl.services import run_job as run_job_module

    def crash(*args, **kwargs):
        raise SystemExit("killed after upload")

    with monkeypatch.context() as patch:
        patch.setattr(run_job_module, "_complete", crash)
        crashed = run_cli(capsys, "run-job", str(job.id))
    assert crashed.exit_code != 0
    assert ctx.store.exists(f"videos/{video.id}/hls/{job.id}-1/master.m3u8")
    assert ctx.videos.get(video.id).status is not VideoStatus.READY

    resubmit_as_scan_stuck_would(ctx, job.id)
    mark = tmp_path / "ffmpeg-was-run"
    script = tmp_path / "ffmpeg-marker"
    script.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("VIDEOCTL_FFMPEG", str(script))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout
    assert result.json()["data"]["outcome"] == "reused_upload"
    assert ctx.videos.get(video.id).hls_path == f"videos/{video.id}/hls/{job.id}-1/master.m3u8"
    assert not mark.exists()


def test_sigterm_cleans_scratch_and_never_ready(ctx, run_env, ffmpeg_bin, long_clip, tmp_path):
    video, job = ready_job(ctx, long_clip)
    proc = start_run_job(job.id)
    wait_until(lambda: ctx.jobs.get(job.id).progress >= 15, what="encode progress")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 1
    failed = ctx.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "interrupted"
    assert ctx.videos.get(video.id).status is not VideoStatus.READY
    assert list((tmp_path / "scratch").iterdir()) == []
    ffmpegs = subprocess.run(["pgrep", "-f", str(tmp_path / "scratch")], capture_output=True, text=True)
    assert ffmpegs.stdout.strip() == ""  # the encoder died with its container


def test_progress_is_mirrored_to_redis(capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    import json

    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    client.delete(f"videoctl:progress:video:{video.id}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.1")
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0
    document = json.loads(client.get(f"videoctl:progress:video:{video.id}"))
    assert document["job_id"] == job.id and document["state"] == "SUCCEEDED" and document["progress"] == 100
    assert 0 < client.ttl(f"videoctl:progress:video:{video.id}") <= 3600


def test_redis_down_never_fails_the_job(capsys, ctx, run_env, ffmpeg_bin, tmp_path, monkeypatch):
    video, job = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.1")
    assert run_cli(capsys, "run-job", str(job.id)).exit_code == 0
    assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED


def test_reencode_keeps_old_ladder_live_until_replaced(capsys, ctx, run_env, ffmpeg_bin, tmp_path):
    video, first = ready_job(ctx, clips.normal(ffmpeg_bin, tmp_path))
    assert run_cli(capsys, "run-job", str(first.id)).exit_code == 0
    old = ctx.videos.get(video.id).hls_path
    second = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3, reencode=True))
    assert run_cli(capsys, "run-job", str(second.id)).exit_code == 0
    new = ctx.videos.get(video.id)
    assert new.status is VideoStatus.READY and new.hls_path == f"videos/{video.id}/hls/{second.id}-1/master.m3u8"
    # The replaced ladder is deleted once the new one is live, nothing else.
    assert not ctx.store.exists(old) and list(ctx.store.list_prefix(old.rsplit("/", 1)[0] + "/")) == []
    assert ctx.store.exists(new.hls_path) and ctx.store.exists(video.source_key)
    assert ctx.delete_requests.pending() == []
