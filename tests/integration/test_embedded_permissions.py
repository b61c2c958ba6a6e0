"""The embedded database never widens a folder's permissions.

As root, pgserver adds read/execute for group and others to every parent folder of its
data directory and of its install. videoctl refuses to start it where that would open a
folder, and leaves the folder exactly as it was.
"""

import os
import shutil
import stat
import uuid
from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.db.embedded import refuse_widening
from videoctl.domain.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_dir():
    """A folder with open parents (under /tmp, not pytest's private base)."""
    path = Path(f"/tmp/videoctl-perm-{uuid.uuid4().hex[:8]}")
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def private(path: Path, permissions: int = 0o700) -> Path:
    path.mkdir(parents=True)
    path.chmod(permissions)
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="pgserver opens parent folders only as root")
@pytest.mark.parametrize("permissions", [0o700, 0o711, 0o750])
def test_a_home_under_a_private_folder_is_refused_and_the_folder_left_as_it_was(
        capsys, monkeypatch, open_dir, permissions):
    folder = private(open_dir / "private", permissions)
    monkeypatch.setenv("VIDEOCTL_HOME", str(folder / "videoctl"))
    result = run_cli(capsys, "--json", "jobs", "list")
    error = result.json()["error"]
    assert result.exit_code == 6 and error["code"] == "config_error"
    assert f"VIDEOCTL_HOME {folder / 'videoctl'} is inside {folder} (mode {permissions:04o})" in error["message"]
    assert "/var/lib/videoctl" in error["hint"] and "VIDEOCTL_DATABASE_URL" in error["hint"]
    assert mode(folder) == permissions
    assert not (folder / "videoctl").exists()  # nothing created either


def test_install_and_runtime_folders_are_checked_too(open_dir):
    install = private(open_dir / "home-of-root") / "venv" / "pgserver" / "pginstall" / "bin"
    with pytest.raises(ConfigError, match="videoctl's installation .* is inside .*home-of-root"):
        refuse_widening(open_dir / "home" / "pgdata", install=install, runtime=open_dir / "run")

    runtime = private(open_dir / "run-user-0") / "python_PostgresServer"
    short = open_dir / "home" / "pgdata"
    refuse_widening(short, install=open_dir / "bin", runtime=runtime)  # its socket stays in pgdata
    long = open_dir / ("h" * 100) / "pgdata"
    with pytest.raises(ConfigError, match="pgserver's runtime folder .* is inside .*run-user-0"):
        refuse_widening(long, install=open_dir / "bin", runtime=runtime)
    assert mode(open_dir / "home-of-root") == mode(open_dir / "run-user-0") == 0o700


def test_open_folders_pass(open_dir):
    refuse_widening(open_dir / "a" / "b" / "pgdata", install=open_dir / "bin", runtime=open_dir / "run")
