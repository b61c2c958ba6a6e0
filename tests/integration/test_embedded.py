"""The embedded default: no database configured → a pgserver PostgreSQL, shared safely."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from videoctl.db import embedded


@pytest.fixture
def embedded_home():
    # Not under a home folder: as root pgserver opens every parent folder.
    home = Path(f"/tmp/videoctl-embedded-{uuid.uuid4().hex[:8]}")
    yield home
    embedded.stop_server(home / "pgdata")
    shutil.rmtree(home, ignore_errors=True)


def _videoctl(home: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOCTL_", "DATABASE_URL"))}
    env["VIDEOCTL_HOME"] = str(home)
    return subprocess.Popen([sys.executable, "-m", "videoctl", "--json", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_start_one_embedded_server_and_migrate_it(embedded_home):
    procs = [_videoctl(embedded_home, "jobs", "list") for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out) == {"data": []}
    pgdata = embedded_home / "pgdata"
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, 0)  # one live postmaster serves both

    # Reattach: a later command uses the same server, already migrated.
    status = _videoctl(embedded_home, "db", "status")
    out, err = status.communicate(timeout=60)
    assert status.returncode == 0, err
    assert all(row["applied_at"] for row in json.loads(out)["data"])
    assert int((pgdata / "postmaster.pid").read_text().splitlines()[0]) == pid

    stop = _videoctl(embedded_home, "db", "stop")
    out, _ = stop.communicate(timeout=60)
    assert json.loads(out)["data"]["stopped"] is True
    assert not (pgdata / "postmaster.pid").exists()


def test_default_home_is_outside_home_folders_for_root():
    from videoctl.settings import default_home

    home = default_home()
    if os.geteuid() == 0:
        assert home == Path("/var/lib/videoctl")
    else:
        assert str(home).startswith(str(Path.home()))
