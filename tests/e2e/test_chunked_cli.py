"""A long video through the `videoctl` executable on the local executor: `submit --wait` runs
its lead and its chunks as processes, at most one per CPU, and ends READY (#23 point 2)."""

from __future__ import annotations

import json
import os

import pytest

from tests.chunking import chunk_env, lecture
from tests.e2e.test_cli_pipeline import plays, videoctl
from tests.processes import wait_until
from videoctl.executor.local import is_running, parse_id
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_env(env, monkeypatch, tmp_path) -> dict[str, str]:
    chunk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDEOCTL_HOME", str(tmp_path / "home"))
    return dict(os.environ)


def test_submit_wait_encodes_a_long_video_in_chunks_with_local_processes(cli_env, tmp_path, conn):
    source = lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20)
    video = json.loads(videoctl("--json", "video", "add", str(source), env=cli_env).stdout)["data"]
    done = videoctl("--json", "submit", str(video["id"]), "--wait", env=cli_env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    job = json.loads(done.stdout)["data"]["job"]
    assert job["state"] == "SUCCEEDED" and (job["chunks"], job["chunks_done"]) == (3, 3)
    rows = conn.execute("SELECT idx, state, executor_job_id, runner_id FROM job_chunk WHERE job_id = %s ORDER BY idx",
                        (job["id"],)).fetchall()
    assert [(r["idx"], r["state"]) for r in rows] == [(0, "SUCCEEDED"), (1, "SUCCEEDED"), (2, "SUCCEEDED")]
    # Each chunk was a process of its own: the lead's log, then one per chunk.
    assert len({r["executor_job_id"] for r in rows}) == 3 and all(r["executor_job_id"].startswith("local:") for r in rows)
    logs = sorted(p.name for p in (tmp_path / "home" / "logs").glob("*.log"))
    assert len(logs) == 4 and sum("-c" in name for name in logs) == 3
    shown = json.loads(videoctl("--json", "video", "show", str(video["id"]), env=cli_env).stdout)["data"]
    assert shown["status"] == "READY"
    plays(tmp_path / "home" / "storage" / shown["hls_path"])
    # Nothing left running or on disk: the lead and every chunk process ended, their scratch removed.
    processes = [parse_id(job["executor_job_id"]), *(parse_id(r["executor_job_id"]) for r in rows)]
    wait_until(lambda: not any(is_running(p) for p in processes), timeout=30, what="every process to end")
    assert not list((tmp_path / "scratch").glob("videoctl-job-*")), "scratch left behind"
