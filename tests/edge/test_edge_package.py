"""The edge Worker is deployed with wrangler from a checkout: its JavaScript and its node_modules
(hundreds of megabytes once `npm ci` ran) stay out of the Python wheel, which still carries the
delete-r2 Lambda's handler from the same worker/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_wheel_leaves_the_edge_worker_out(built_wheel):
    names = built_wheel.names
    assert "worker/delete_r2_handler.py" in names
    assert [name for name in names if name.startswith("worker/edge")] == []
