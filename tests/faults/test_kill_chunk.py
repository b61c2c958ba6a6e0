"""One chunk of a long video killed with SIGKILL mid-encode; scan-stuck sends that chunk alone
again and the video ends READY with one ladder, one prefix, nothing running and nothing on
disk (#23 point 3). On the local executor, with real processes: the lead, a process per CPU."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path, PurePosixPath

import pytest

from tests.chunking import chunk_env, lecture
from tests.processes import state, wait_for_encoder, wait_until
from videoctl.api import Client
from videoctl.context import AppContext
from videoctl.domain import keys
from videoctl.domain.chunks import ChunkState
from videoctl.domain.states import JobState, VideoStatus
from videoctl.executor.local import is_running, parse_id
from videoctl.media.binary import find_ffmpeg
from videoctl.media.m3u8 import parse_master_playlist, parse_media_playlist

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def client(env, monkeypatch, tmp_path):
    chunk_env(monkeypatch, tmp_path)
    for name, value in {"VIDEOCTL_STALE_AFTER_SECONDS": "300", "VIDEOCTL_QUEUED_AFTER_SECONDS": "1",
                        "VIDEOCTL_BACKOFF_BASE_SECONDS": "0", "VIDEOCTL_BACKOFF_CAP_SECONDS": "0"}.items():
        monkeypatch.setenv(name, value)
    ctx = AppContext()
    client = Client(context=ctx)
    yield client
    client.close()


def test_kill_9_of_one_chunk_mid_encode_ends_ready_with_one_ladder_and_nothing_behind(client, tmp_path):
    ctx = client._ctx
    video = client.add_video(lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20))  # 3 chunks of 8 s
    job = client.submit(video.id)
    lead = parse_id(job.executor_job_id)

    def encoding_chunk():
        rows = ctx.chunks.of_attempt(job.id, 1) if ctx.jobs.get(job.id).chunks else []
        return next((r for r in rows if r.idx == 1 and r.state is ChunkState.RUNNING and r.executor_job_id), None)

    wait_until(encoding_chunk, timeout=240, what="chunk 1 to run in a process of its own")
    victim = parse_id(encoding_chunk().executor_job_id)
    ffmpeg = wait_for_encoder(victim.pid, timeout=120)
    os.kill(ffmpeg, signal.SIGSTOP)  # the chunk stays half encoded until its run-job is gone
    wait_until(lambda: state(ffmpeg) == "T", what="ffmpeg to stop")
    os.kill(victim.pid, signal.SIGKILL)
    wait_until(lambda: state(ffmpeg) in (None, "Z"), timeout=5, what="ffmpeg to die with its run-job")

    rules: list[str] = []
    deadline = time.monotonic() + 300
    while ctx.jobs.get(job.id).state is not JobState.SUCCEEDED:
        assert time.monotonic() < deadline, rules
        report = client.scan()
        rules += [item.rule for item in report.items if item.job_id == job.id]
        assert ctx.jobs.get(job.id).state in (JobState.RUNNING, JobState.SUCCEEDED), rules
        time.sleep(0.3)

    done = ctx.jobs.get(job.id)
    assert done.attempt == 1 and (done.chunks, done.chunks_done) == (3, 3)  # the attempt went on: one chunk again
    assert "chunk_executor_failed" in rules and "chunk_retry_due" in rules
    rows = ctx.chunks.of_attempt(job.id, 1)
    assert [(r.state, r.tries) for r in rows] == [(ChunkState.SUCCEEDED, 1), (ChunkState.SUCCEEDED, 2),
                                                  (ChunkState.SUCCEEDED, 1)]
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY
    prefix = keys.prefix_of_master(ready.hls_path)
    master_path = Path(ctx.store.url_for(ready.hls_path))
    assert sorted(p.name for p in master_path.parent.parent.iterdir()) == [PurePosixPath(prefix).name]  # one prefix
    master = parse_master_playlist(master_path.read_text())
    for name in [v.uri for v in master.variants] + [m["URI"] for m in master.media if "URI" in m]:
        playlist = parse_media_playlist(Path(ctx.store.url_for(prefix + name)).read_text())
        folder = PurePosixPath(name).parent
        missing = [s.uri for s in playlist.segments if not ctx.store.exists(f"{prefix}{folder / s.uri}")]
        assert playlist.segments and missing == [], (name, missing)
    # Nothing left running: the lead, every chunk's every try; nothing on disk but the ladder.
    processes = [lead, victim, *(parse_id(r.executor_job_id) for r in rows)]
    wait_until(lambda: not any(is_running(p) for p in processes), timeout=30, what="every process to end")
    client.scan()  # the pass that finds the killed chunk's scratch unlocked reclaims it, if no run-job did
    scratch = tmp_path / "scratch"
    assert not scratch.exists() or list(scratch.iterdir()) == []
    assert not list(master_path.parent.glob("tiles/*"))
