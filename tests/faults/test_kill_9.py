"""run-job killed with SIGKILL at each phase, on the local executor; scan-stuck recovers it whole.

Each case submits a 2 s clip, holds the run-job at one phase with a gate from outside
(tests/faults/gates.py), kills it with SIGKILL (run-job alone, as the OOM killer
would: nothing of it runs to clean up), then runs scan-stuck passes until the job
settles. Then the video is READY, storage holds exactly one ladder prefix with every
playlist and segment its master names, no ffmpeg runs, and no scratch is left. The
dead process is found by its pid (the heartbeat is still fresh), never by heartbeat age.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

from tests import clips
from tests.faults.gates import FileLease, RowLock
from tests.processes import pid_alive, processes_mentioning, state, wait_for_encoder, wait_until
from videoctl.api import Client
from videoctl.context import AppContext
from videoctl.db.repositories import QualityRepository
from videoctl.domain import keys
from videoctl.domain.models import Job, Video
from videoctl.domain.states import JobState, VideoStatus
from videoctl.executor.local import parse_pid
from videoctl.media.binary import find_ffmpeg
from videoctl.media.m3u8 import parse_master_playlist, parse_media_playlist

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@dataclass
class Run:
    """One video through submit, a kill, and scan-stuck, with what the test needs to watch it."""

    ctx: AppContext
    client: Client
    video: Video
    db_url: str
    scratch: Path
    #: The environment every run-job of the case inherits.
    env: pytest.MonkeyPatch
    #: Rules scan-stuck applied to the job, pass after pass.
    rules: list[str] = field(default_factory=list)
    #: Every run-job process started for the job, to reap.
    pids: list[int] = field(default_factory=list)

    def submit(self) -> tuple[Job, int]:
        job = self.client.submit(self.video.id)
        pid = parse_pid(job.executor_job_id)
        self.pids.append(pid)
        return job, pid

    def path_of(self, key: str) -> Path:
        return Path(self.ctx.store.url_for(key))

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # the executor ran in this process: its children are ours to reap

    def settle(self, job_id: int, timeout: float = 90) -> Job:
        """scan-stuck passes until the job SUCCEEDED and its last run-job has exited."""
        deadline = time.monotonic() + timeout
        while True:
            report = self.client.scan()
            self.rules += [item.rule for item in report.items if item.job_id == job_id]
            job = self.ctx.jobs.get(job_id)
            pid = parse_pid(job.executor_job_id)
            if pid not in self.pids:
                self.pids.append(pid)
            if job.state is JobState.SUCCEEDED and not pid_alive(pid):
                return job
            assert job.state not in (JobState.DEAD, JobState.CANCELLED), job
            assert time.monotonic() < deadline, f"job still {job.state} after {timeout:.0f}s: {self.rules}"
            time.sleep(0.2)

    def reap(self) -> None:
        for pid in self.pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


@pytest.fixture
def run(env, db_url, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    for name, value in {
        "VIDEOCTL_LADDER": "240:400",
        # Two segments per rendition: the second is opened by nothing before the upload. That
        # needs MPEG-TS (verifying a CMAF ladder reads every fragment) and no MP4 download (it is
        # remuxed from the segments); what is killed and recovered is the same in either format.
        "VIDEOCTL_SEGMENT_SECONDS": "1",
        "VIDEOCTL_SEGMENT_FORMAT": "ts",
        "VIDEOCTL_DOWNLOAD_RUNG": "off",
        # A quality measurement opens the segments it samples (all of these two) before the
        # upload: it is on only where it is the phase killed (kill_in_quality).
        "VIDEOCTL_MEASURE_QUALITY": "off",
        "VIDEOCTL_SCRATCH_DIR": str(scratch),
        "VIDEOCTL_HEARTBEAT_SECONDS": "0.2",
        # Far longer than a case: only the dead pid can be what fails the attempt.
        "VIDEOCTL_STALE_AFTER_SECONDS": "300",
        "VIDEOCTL_QUEUED_AFTER_SECONDS": "1",
        "VIDEOCTL_BACKOFF_BASE_SECONDS": "0",
        "VIDEOCTL_BACKOFF_CAP_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    ctx = AppContext()
    client = Client(context=ctx)
    video = client.add_video(clips.normal(find_ffmpeg(), tmp_path))
    run = Run(ctx, client, video, db_url, scratch, monkeypatch)
    yield run
    run.reap()
    client.close()


# ---------------------------------------------------------------- the phases


def kill_in_download(run: Run) -> None:
    with FileLease(run.path_of(run.video.source_key)) as lease:
        job, pid = run.submit()
        wait_until(lambda: lease.opener_waiting, what="run-job to open the source")
        run.kill(pid)


def kill_in_encode(run: Run) -> None:
    job, pid = run.submit()
    ffmpeg = wait_for_encoder(pid)
    os.kill(ffmpeg, signal.SIGSTOP)  # the encode stays half done until run-job is gone
    wait_until(lambda: state(ffmpeg) == "T", what="ffmpeg to stop")
    run.kill(pid)
    wait_until(lambda: not pid_alive(ffmpeg), timeout=2, poll_s=0.01, what="ffmpeg to die with its run-job")


def kill_in_upload(run: Run) -> None:
    job, pid = run.submit()
    ffmpeg = wait_for_encoder(pid)
    os.kill(pid, signal.SIGSTOP)  # run-job waits while its ffmpeg writes the whole ladder
    wait_until(lambda: state(ffmpeg) in (None, "Z"), what="the encode to finish")
    [workdir] = run.scratch.iterdir()
    prefix = keys.attempt_prefix("videos", run.video.id, job.id, 1)
    with FileLease(next((workdir / "hls" / "240p").glob("seg_00001.*"))) as lease:
        os.kill(pid, signal.SIGCONT)
        wait_until(lambda: lease.opener_waiting, what="the upload to open the second segment")
        wait_until(lambda: any(run.ctx.store.list_prefix(prefix)), what="part of the ladder to be uploaded")
        assert not run.ctx.store.exists(keys.master_key(prefix))  # the master goes last
        run.kill(pid)


def kill_in_quality(run: Run) -> None:
    run.env.setenv("VIDEOCTL_MEASURE_QUALITY", "sample")  # for the retry too
    job, pid = run.submit()
    ffmpeg = wait_for_encoder(pid)
    os.kill(pid, signal.SIGSTOP)  # run-job waits while its ffmpeg writes the whole ladder
    wait_until(lambda: state(ffmpeg) in (None, "Z"), what="the encode to finish")
    [workdir] = run.scratch.iterdir()
    prefix = keys.attempt_prefix("videos", run.video.id, job.id, 1)
    with FileLease(next((workdir / "hls" / "240p").glob("seg_00001.*"))) as lease:
        os.kill(pid, signal.SIGCONT)
        wait_until(lambda: lease.opener_waiting, what="the measurement to open the second segment")
        assert not any(run.ctx.store.list_prefix(prefix))  # measured before anything is uploaded
        run.kill(pid)


def kill_before_complete(run: Run) -> None:
    job, pid = run.submit()
    # After the claim, the decision about the source is written to the row before the encode.
    wait_until(lambda: run.ctx.jobs.get(job.id).decision is not None, what="the claim and the decision")
    lock = RowLock(run.db_url, job.id)  # the heartbeat waits on it too; the encode goes on
    try:
        wait_until(lock.completion_waiting, what="run-job to wait to complete")
        assert run.ctx.store.exists(keys.master_key(keys.attempt_prefix("videos", run.video.id, job.id, 1)))
        run.kill(pid)
    finally:
        lock.release()


PHASES: dict[str, Callable[[Run], None]] = {
    "download": kill_in_download,
    "encode": kill_in_encode,
    "upload": kill_in_upload,
    "quality": kill_in_quality,
    "before_complete": kill_before_complete,
}


# ---------------------------------------------------------------- the outcome


def assert_recovered(run: Run, job: Job) -> None:
    video = run.ctx.videos.get(run.video.id)
    assert video.status is VideoStatus.READY
    prefix = keys.prefix_of_master(video.hls_path)
    hls_root = run.path_of(keys.master_key(prefix)).parent.parent
    assert sorted(p.name for p in hls_root.iterdir()) == [PurePosixPath(prefix).name]  # one ladder prefix
    master = parse_master_playlist(run.path_of(video.hls_path).read_text())
    playlists = [v.uri for v in master.variants] + [m["URI"] for m in master.media if "URI" in m]
    assert playlists
    for name in playlists:
        playlist = parse_media_playlist(run.path_of(prefix + name).read_text())
        folder = PurePosixPath(name).parent
        missing = [s.uri for s in playlist.segments if not run.ctx.store.exists(f"{prefix}{folder / s.uri}")]
        assert playlist.segments and missing == [], (name, missing)
    assert processes_mentioning(str(run.scratch)) == []  # no ffmpeg of any attempt
    assert not run.scratch.exists() or list(run.scratch.iterdir()) == []
    # The dead run-job was found by its pid, with its heartbeat still fresh.
    assert "executor_failed" in run.rules and "stale_heartbeat" not in run.rules


@pytest.mark.parametrize("phase", PHASES)
def test_kill_9_then_scan_stuck_leaves_one_complete_ladder_and_nothing_behind(run, phase):
    PHASES[phase](run)
    [job] = run.ctx.jobs.list(video_id=run.video.id)
    assert job.state is JobState.RUNNING and job.attempt == 1  # it died without a word
    done = run.settle(job.id)
    assert done.attempt == 2
    assert_recovered(run, done)
    if phase == "quality":  # the retry measured its own ladder, and nothing else was recorded
        rungs, failure = QualityRepository(run.ctx.conn).of_ladder(done.output_prefix)
        assert [r.rung for r in rungs] == ["240p"] and failure is None
        assert run.ctx.conn.execute("SELECT count(*) AS n FROM rung_quality").fetchone()["n"] == 1
