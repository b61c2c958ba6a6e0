"""ffmpeg cannot outlive its run-job: a SIGKILL that runs no cleanup still takes the encoder with it.

Without that, the retry would encode beside an orphan that runs to the end of its encode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.processes import pid_alive, processes_mentioning, wait_for_encoder, wait_until
from videoctl.domain.states import JobState
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow

#: Starts `sleep` the way _run_ffmpeg starts ffmpeg, prints its pid, and waits on it.
PARENT = textwrap.dedent("""
    import subprocess
    from videoctl.media import child
    proc = child.start(["sleep", "60"], stdin=subprocess.DEVNULL)
    print(proc.pid, flush=True)
    proc.wait()
""")


def test_a_child_started_by_media_child_dies_with_its_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    sleeper = int(parent.stdout.readline())
    try:
        assert os.getpgid(sleeper) == parent.pid  # in run-job's group: a cancel's killpg reaches it
        os.kill(parent.pid, signal.SIGKILL)  # the parent alone, as the OOM killer would
        parent.wait(timeout=5)
        wait_until(lambda: not pid_alive(sleeper), timeout=2, poll_s=0.01, what="the child to die")
    finally:
        if pid_alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)


def test_kill_9_of_run_job_mid_encode_leaves_no_ffmpeg(ctx, env, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("VIDEOCTL_LADDER", "360:800,240:400")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(scratch))
    clip = generate_sample_clip(find_ffmpeg(), tmp_path / "clip.mp4", seconds=10, width=640, height=360,
                                noise=True)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clip)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    run_job = subprocess.Popen([sys.executable, "-m", "videoctl", "run-job", str(job.id)], env=dict(os.environ),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ffmpeg = wait_for_encoder(run_job.pid)
        os.kill(run_job.pid, signal.SIGKILL)  # run-job only: nothing of it runs to clean up
        run_job.wait(timeout=5)
        wait_until(lambda: not pid_alive(ffmpeg), timeout=2, poll_s=0.01, what="ffmpeg to die with run-job")
        assert processes_mentioning(str(scratch)) == []
        assert ctx.jobs.get(job.id).state is JobState.RUNNING  # it died without a word, as intended
    finally:
        for pid in [run_job.pid, *processes_mentioning(str(scratch))]:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        run_job.wait()
