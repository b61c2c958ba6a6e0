"""The edge Worker is deployed with wrangler from a checkout: its JavaScript and its node_modules
(hundreds of megabytes once `npm ci` ran) stay out of the Python wheel, which still carries the
delete-r2 Lambda's handler from the same worker/ folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_wheel_leaves_the_edge_worker_out(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("videoctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "worker/delete_r2_handler.py" in names
    assert [name for name in names if name.startswith("worker/edge")] == []
