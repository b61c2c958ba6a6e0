"""The database stopped in the middle of an encode and started again: run-job waits for it.

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
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tests import clips
from tests.processes import state, wait_for_encoder, wait_until
from videoctl.context import AppContext
from videoctl.db import embedded, migrate
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
                        # The MP4 download is remuxed by a second, cheap ffmpeg: off here, so that
                        # the starts counted are the encode and the quality measurement.
                        "VIDEOCTL_DOWNLOAD_RUNG": "off"}.items():
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
