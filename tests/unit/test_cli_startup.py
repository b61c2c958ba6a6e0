"""CLI start-up stays light: `videoctl --help` and shell completion import every command module,
so those modules import the heavy libraries (PyAV, boto3, psycopg, ffmpeg-python, tenacity, which
loads asyncio, and the web page's Starlette, uvicorn and Jinja2) only when a command runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMANDS = {"submit", "run-job", "scan-stuck", "stats", "demo", "video", "jobs", "config", "db", "r2", "infra", "serve"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_importing_the_cli_loads_no_heavy_library():
    result = _run("-c", "import sys, videoctl.cli; print(sorted(m for m in "
                        "('av', 'boto3', 'botocore', 'psycopg', 'ffmpeg', 'tenacity', 'starlette', 'uvicorn', 'jinja2') "
                        "if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_lists_every_command():
    result = _run("-m", "videoctl", "--help")
    assert result.returncode == 0, result.stderr
    # The first word of each row in the help panels: command names (and option names).
    listed = set(re.findall(r"^\W+([a-z0-9][a-z0-9-]*)\s{2,}", result.stdout, re.MULTILINE))
    assert COMMANDS <= listed, COMMANDS - listed
