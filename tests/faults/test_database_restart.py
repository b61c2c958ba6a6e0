"""The database stopped in the middle of an encode and started again: run-job waits for it.

The embedded default is stopped the same way and kept away for seconds, through several
reconnects, before it is started again. And `scan-stuck --loop` goes on through a restart:
its passes fail while the server is away, and work again once it is back.

A throwaway PostgreSQL (pgserver) of this test's own is stopped while ffmpeg is held
half way through the encode, so every connection of run-job ends with AdminShutdown,
and started again only once run-job has finished its encode and upload and is
waiting to complete. The same attempt then completes, with one encode.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tests import clips
from tests.processes import state, wait_for_encoder, wait_until
from videoctl.context import AppContext
from videoctl.db import embedded, migrate
from videoctl.db.repositories import DeleteRequestRepository
from videoctl.domain.errors import EXIT_CODES
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.services.videos import add_video

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def own_server():
    """A PostgreSQL this test may stop and start: never the server the other tests share."""
    home = Path(f"/tmp/videoctl-faults-{uuid.uuid4().hex[:8]}")  # pgserver opens every parent folder
    pgdata = home / "pgdata"
    url = embedded.ensure_server(pgdata)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate.migrate(conn)
    yield pgdata, url
    embedded.stop_server(pgdata)
    shutil.rmtree(home, ignore_errors=True)


def start_again(pgdata: Path) -> None:
    """Start the stopped server, from a process of its own: pgserver remembers, per process,
    the servers it started as running."""
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from videoctl.db import embedded; "
                                          "embedded.ensure_server(Path(sys.argv[1]))", str(pgdata)],
                   check=True, capture_output=True, timeout=60)


@pytest.fixture
def counted_ffmpeg(tmp_path, monkeypatch) -> Path:
    """The real ffmpeg behind a script that writes down each start's arguments, a line each."""
    starts = tmp_path / "ffmpeg-starts"
    script = tmp_path / "ffmpeg-counted"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{starts}"\nexec "{find_ffmpeg()}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("VIDEOCTL_FFMPEG", str(script))
    return starts


def test_a_database_restart_mid_encode_is_waited_for_by_the_same_attempt(env, monkeypatch, tmp_path, own_server,
                                                                          counted_ffmpeg):
    pgdata, url = own_server
    for name, value in {"VIDEOCTL_DATABASE_URL": url, "VIDEOCTL_LADDER": "240:400",
                        "VIDEOCTL_SCRATCH_DIR": str(tmp_path / "scratch"), "VIDEOCTL_HEARTBEAT_SECONDS": "0.2",
                        "VIDEOCTL_DB_RETRY_SECONDS": "120",
                        # The MP4 download is remuxed by a second, cheap ffmpeg, and loudness is
                        # measured and checked by others: off here, so that the ffmpeg starts
                        # counted are the encode and the quality measurement.
                        "VIDEOCTL_DOWNLOAD_RUNG": "off", "VIDEOCTL_LOUDNESS": "off"}.items():
        monkeypatch.setenv(name, value)
    ctx = AppContext()
    try:
        video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
        job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
        store = ctx.store
    finally:
        ctx.close()
    log = tmp_path / "run-job.log"
    with log.open("w") as stderr:
        run_job = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "run-job", str(job.id)],
                                   env=dict(os.environ), stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ffmpeg = wait_for_encoder(run_job.pid)
        os.kill(ffmpeg, signal.SIGSTOP)  # the encode is held half done while the server goes away
        wait_until(lambda: state(ffmpeg) == "T", what="ffmpeg to stop")
        embedded.stop_server(pgdata)  # fast shutdown: AdminShutdown on every connection
        os.kill(ffmpeg, signal.SIGCONT)
        wait_until(lambda: "retrying completing the job" in log.read_text(), what="run-job to wait to complete")
        assert store.exists(f"videos/{video.id}/hls/{job.id}-1/master.m3u8")  # encoded and uploaded meanwhile
        start_again(pgdata)
        out, _ = run_job.communicate(timeout=120)
    finally:
        if run_job.poll() is None:
            run_job.kill()
            run_job.wait()

    assert run_job.returncode == 0, log.read_text()
    assert json.loads(out)["data"]["outcome"] == "encoded"
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT state, attempt FROM video_transcode_job WHERE id = %s", (job.id,)).fetchone()
        ready = conn.execute("SELECT status, hls_path FROM video WHERE id = %s", (video.id,)).fetchone()
    assert row == {"state": "SUCCEEDED", "attempt": 1}
    assert ready == {"status": "READY", "hls_path": f"videos/{video.id}/hls/{job.id}-1/master.m3u8"}
    starts = counted_ffmpeg.read_text().splitlines()
    assert len(starts) == 2 and "libx264" in starts[0]  # no second encode,
    assert "libvmaf" in starts[1] and "libx264" not in starts[1]  # then the quality measurement
    with psycopg.connect(url, row_factory=dict_row) as conn:  # recorded with the completion that waited
        measured = conn.execute("SELECT rung, attempt FROM rung_quality").fetchall()
    assert measured == [{"rung": "240p", "attempt": 1}]
    assert [p.name for p in Path(store.url_for(f"videos/{video.id}/hls")).iterdir()] == [f"{job.id}-1"]
    assert "heartbeat" in log.read_text()  # the heartbeat lost its connection too, and said so once


@pytest.fixture
def embedded_home(monkeypatch):
    """The embedded default (no database URL) in a home of this test's own, which it may stop."""
    home = Path(f"/tmp/videoctl-faults-{uuid.uuid4().hex[:8]}")  # pgserver opens every parent folder
    monkeypatch.setenv("VIDEOCTL_HOME", str(home))
    yield home
    embedded.stop_server(home / "pgdata")
    shutil.rmtree(home, ignore_errors=True)


def retries_logged(log: Path, what: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if "database unavailable" in line and f"retrying {what}" in line)


def test_an_embedded_server_away_for_seconds_is_waited_for_by_the_same_attempt(embedded_home, monkeypatch,
                                                                                tmp_path, counted_ffmpeg):
    """The embedded default: each reconnect asks pgserver for the server again, which in the same
    process hands back the one it knew, stopped or not; connecting to it must be transient too."""
    for name, value in {"VIDEOCTL_STORAGE_DIR": str(tmp_path / "storage"), "VIDEOCTL_EXECUTOR": "local",
                        "VIDEOCTL_LADDER": "240:400", "VIDEOCTL_SCRATCH_DIR": str(tmp_path / "scratch"),
                        "VIDEOCTL_HEARTBEAT_SECONDS": "0.2", "VIDEOCTL_DB_RETRY_SECONDS": "120",
                        "VIDEOCTL_DOWNLOAD_RUNG": "off", "VIDEOCTL_LOUDNESS": "off"}.items():
        monkeypatch.setenv(name, value)
    ctx = AppContext()
    try:
        assert ctx.settings.embedded_db
        video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
        job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
        store = ctx.store
    finally:
        ctx.close()
    pgdata = embedded_home / "pgdata"
    log = tmp_path / "run-job.log"
    with log.open("w") as stderr:
        run_job = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "run-job", str(job.id)],
                                   env=dict(os.environ), stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ffmpeg = wait_for_encoder(run_job.pid)
        os.kill(ffmpeg, signal.SIGSTOP)
        wait_until(lambda: state(ffmpeg) == "T", what="ffmpeg to stop")
        embedded.stop_server(pgdata)
        stopped_at = time.monotonic()
        os.kill(ffmpeg, signal.SIGCONT)
        # A real outage: the server stays away while run-job reconnects again and again, and
        # for several seconds in all, not only across one quick retry.
        wait_until(lambda: run_job.poll() is not None
                   or (retries_logged(log, "completing the job") >= 4 and time.monotonic() - stopped_at >= 6),
                   timeout=90, what="run-job to retry its completion through a long outage")
        assert run_job.poll() is None, log.read_text()  # still waiting, not failed
        assert store.exists(f"videos/{video.id}/hls/{job.id}-1/master.m3u8")
        start_again(pgdata)
        out, _ = run_job.communicate(timeout=120)
    finally:
        if run_job.poll() is None:
            run_job.kill()
            run_job.wait()

    assert run_job.returncode == 0, log.read_text()
    assert json.loads(out)["data"]["outcome"] == "encoded"
    assert "internal_error" not in log.read_text()
    ctx = AppContext()
    try:
        assert (ctx.jobs.get(job.id).state, ctx.jobs.get(job.id).attempt) == (JobState.SUCCEEDED, 1)
        assert ctx.videos.get(video.id).status is VideoStatus.READY
    finally:
        ctx.close()
    starts = counted_ffmpeg.read_text().splitlines()
    assert [start for start in starts if "libx264" in start] == starts[:1]  # no second encode
    assert len(starts) == 2 and "libvmaf" in starts[1]  # the quality measurement, once


class PassLines:
    """The one-line --json documents a `scan-stuck --loop` prints, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.passes: list[dict] = []
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.passes.append(json.loads(line)["data"])

    def since(self, index: int) -> list[dict]:
        return self.passes[index:]


def test_scan_stuck_loop_outlives_a_database_restart(env, monkeypatch, tmp_path, own_server):
    pgdata, url = own_server
    monkeypatch.setenv("VIDEOCTL_DATABASE_URL", url)
    log = tmp_path / "scan-stuck.log"
    with log.open("w") as stderr:
        loop = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "scan-stuck", "--loop", "1"],
                                env=dict(os.environ), stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines = PassLines(loop)
    try:
        wait_until(lambda: lines.passes or loop.poll() is not None, what="a first pass")
        assert lines.passes[0]["summary"]["errors"] == 0, log.read_text()

        embedded.stop_server(pgdata)  # fast shutdown: every connection ends
        stopped = len(lines.passes)
        wait_until(lambda: sum(1 for p in lines.since(stopped) if p["summary"]["errors"]) >= 3
                   or loop.poll() is not None, what="passes to fail while the server is away")
        assert loop.poll() is None, log.read_text()  # still looping, not exited with db_error
        failed = next(p for p in lines.since(stopped) if p["summary"]["errors"])
        jobs_task = next(t for t in failed["tasks"] if t["name"] == "jobs")
        assert jobs_task["status"] == "failed" and jobs_task["error"]["code"] == "db_error"
        assert "jobs failed: db_error" in log.read_text()  # each failure is logged with its error

        start_again(pgdata)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            DeleteRequestRepository(conn).add("videos/1/hls/1-1/", "abandoned attempt", None)
        back = len(lines.passes)
        wait_until(lambda: any(p["summary"]["deletions_sent"] for p in lines.since(back))
                   or loop.poll() is not None, what="a pass to work again after the restart")
        recovered = next(p for p in lines.since(back) if p["summary"]["deletions_sent"])
        assert recovered["summary"]["tasks_failed"] == 0 and all(t["status"] == "done" for t in recovered["tasks"])

        loop.send_signal(signal.SIGTERM)
        loop.wait(timeout=60)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
    # Stopped by SIGTERM between passes; the failed passes make it exit as a scan with errors.
    assert loop.returncode == EXIT_CODES["job_failed"], log.read_text()
