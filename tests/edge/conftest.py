"""The edge Worker's fixtures: the ladder of tests/playback_ladder.py (encoded once per session, per
xdist worker) and Workers over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.worker import EdgeWorker, node_or_skip
from tests.playback_ladder import APP_ORIGIN, KEYS, Ladder, encoded_ladder  # noqa: F401 - shared with the tests


@pytest.fixture(scope="session")
def edge_ladder(pg_server_url, template_db, tmp_path_factory) -> Iterator[Ladder]:
    node_or_skip()  # before the encode: without Node nothing here can run
    with encoded_ladder(pg_server_url, template_db, tmp_path_factory.mktemp("edge-home")) as ladder:
        yield ladder


def start_worker(ladder: Ladder, state: Path, **options) -> EdgeWorker:
    return EdgeWorker(seed=ladder.storage, keys=KEYS, state=state, origins=options.pop("origins", APP_ORIGIN),
                      **options)


@pytest.fixture(scope="module")
def edge(edge_ladder, tmp_path_factory) -> Iterator[EdgeWorker]:
    """One Worker for a module's tests, its R2 holding the whole store (the source and captions too)."""
    worker = start_worker(edge_ladder, tmp_path_factory.mktemp("edge") / "state")
    yield worker
    worker.stop()


@pytest.fixture
def fresh_edge(edge_ladder, tmp_path) -> Iterator[EdgeWorker]:
    """A Worker of this test's own: an empty cache, a bucket it may change."""
    worker = start_worker(edge_ladder, tmp_path / "state")
    yield worker
    worker.stop()
