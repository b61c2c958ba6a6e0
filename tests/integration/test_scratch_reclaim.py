"""Scratch left by a run-job killed with SIGKILL is reclaimed, by run-job and by scan-stuck.

Owners are real processes holding their scratch directory; whether the owner is gone is
decided by its lock, never by age, and nothing but run-job's own directories is touched.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.executor.local import LocalExecutor
from videoctl.services.scan import scan_pass
from videoctl.storage import scratch

#: Holds a job scratch directory the way run-job does, until killed.
OWNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from videoctl.storage.scratch import scratch_dir
    with scratch_dir(Path(sys.argv[1]), sys.argv[2]) as path:
        (path / "source.mp4").write_bytes(b"x" * 4096)
        print(path, flush=True)
        time.sleep(120)
""")


@pytest.fixture
def owners():
    started: list[subprocess.Popen] = []

    def start(base: Path, name: str) -> tuple[subprocess.Popen, Path]:
        proc = subprocess.Popen([sys.executable, "-c", OWNER, str(base), name], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return proc, Path(proc.stdout.readline().strip())

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def killed(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def unrelated_entries(base: Path) -> set[str]:
    """What shares the scratch folder without being a run-job's directory."""
    (base / "someone-elses-folder").mkdir()
    (base / "someone-elses-folder" / scratch.OWNER_LOCK).write_text("")  # even with our lock's name
    (base / "videoctl-job-3-a1-nolock").mkdir()  # our naming, but no lock: not ours to judge
    (base / "videoctl-job-4-a1-afile").write_text("a file, not a directory")
    (base / "videoctl-job-5-a1-link").symlink_to(base / "someone-elses-folder")
    return {"someone-elses-folder", "videoctl-job-3-a1-nolock", "videoctl-job-4-a1-afile", "videoctl-job-5-a1-link"}


def test_only_directories_whose_owner_died_are_removed(tmp_path, owners):
    base = tmp_path / "scratch"
    alive, in_use = owners(base, "videoctl-job-1-a1")
    dead, abandoned = owners(base, "videoctl-job-2-a1")
    others = unrelated_entries(base)
    killed(dead)  # kill -9: its scratch directory stays behind
    assert abandoned.is_dir() and (abandoned / "source.mp4").exists()

    assert scratch.reclaim(base) == [abandoned]
    assert not abandoned.exists()
    assert in_use.is_dir() and (in_use / "source.mp4").exists() and alive.poll() is None
    assert {p.name for p in base.iterdir()} == others | {in_use.name}
    assert scratch.reclaim(base) == []  # the live owner's directory survives every pass

    killed(alive)
    assert scratch.reclaim(base) == [in_use]
    assert {p.name for p in base.iterdir()} == others


def test_a_scratch_directory_is_removed_by_its_owner_on_exit(tmp_path):
    with scratch.scratch_dir(tmp_path, "videoctl-job-1-a1") as path:
        assert path.name.startswith("videoctl-job-1-a1-") and scratch.JOB_SCRATCH.fullmatch(path.name)
        assert scratch.reclaim(tmp_path) == []  # in use by this very process
        assert path.is_dir()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_scratch_folder_is_nothing_to_reclaim(tmp_path):
    assert scratch.reclaim(tmp_path / "not-there") == []


def test_scan_stuck_on_the_local_executor_reclaims(ctx, settings, tmp_path, owners):
    base = tmp_path / "scratch"
    dead, abandoned = owners(base, "videoctl-job-9-a2")
    killed(dead)
    report = scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=LocalExecutor(tmp_path / "logs"),
                       settings=dataclasses.replace(settings, scratch_dir=base))
    assert report.items == [] and not abandoned.exists()


def test_run_job_reclaims_at_start(capsys, env, monkeypatch, tmp_path, owners):
    base = tmp_path / "scratch"
    dead, abandoned = owners(base, "videoctl-job-9-a1")
    killed(dead)
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(base))
    result = run_cli(capsys, "--json", "run-job", "4242")  # no such job: it still tidies up first
    assert result.json()["error"]["code"] == "not_found"
    assert not abandoned.exists() and list(base.iterdir()) == []


def test_no_reclaim_needs_the_owner_pid(tmp_path, owners):
    """The pid written in the lock file is for humans: a reused pid changes nothing."""
    dead, abandoned = owners(tmp_path, "videoctl-job-6-a1")
    pid = int((abandoned / scratch.OWNER_LOCK).read_text())
    assert pid == dead.pid
    killed(dead)
    (abandoned / scratch.OWNER_LOCK).write_text(f"{os.getpid()}\n")  # a live pid now
    assert scratch.reclaim(tmp_path) == [abandoned]
