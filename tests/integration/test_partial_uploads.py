"""The local store's partial uploads: one whose uploader was killed goes with its prefix, one in
progress stays. Real uploader processes, held mid-upload by a source that is a FIFO."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import wait_until
from videoctl.storage.base import delete_prefix
from videoctl.storage.local import LocalStore

PREFIX = "videos/1/hls/1-1/"
UPLOAD = """
import sys
from pathlib import Path
from videoctl.storage.local import LocalStore
LocalStore(Path(sys.argv[1])).upload_file(Path(sys.argv[2]), sys.argv[3])
"""


@pytest.fixture
def store(tmp_path) -> LocalStore:
    store = LocalStore(tmp_path / "storage")
    segment = tmp_path / "seg.ts"
    segment.write_bytes(b"\x47" * 188)
    store.upload_file(segment, f"{PREFIX}240p/seg_00000.ts")
    return store


@pytest.fixture
def uploader(store, tmp_path):
    """An upload of 240p/seg_00001.ts stuck reading its source: a FIFO that gave some bytes and
    then nothing more (held open here, so the uploader neither sees its end nor fails to open it)."""
    fifo = tmp_path / "source.fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # on Linux a FIFO opens read-write without waiting
    os.write(writer, b"\x47" * 188)
    proc = subprocess.Popen([sys.executable, "-c", UPLOAD, str(store.root), str(fifo), f"{PREFIX}240p/seg_00001.ts"])
    folder = store.root / PREFIX / "240p"
    wait_until(lambda: any(p.name.startswith(".upload-") for p in folder.iterdir()), what="the partial upload")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    os.close(writer)


def partials(store: LocalStore) -> list[Path]:
    return [p for p in store.root.rglob(".upload-*")]


def test_a_partial_upload_in_progress_survives_the_deletion_of_its_prefix(store, uploader):
    assert delete_prefix(store, PREFIX) == 1
    assert not store.exists(f"{PREFIX}240p/seg_00000.ts")
    assert len(partials(store)) == 1 and uploader.poll() is None  # its folder stays for it
    assert list(store.list_prefix(PREFIX)) == []  # and it is no object


def test_the_partial_upload_of_a_killed_uploader_goes_with_its_prefix(store, uploader):
    uploader.send_signal(signal.SIGKILL)
    uploader.wait()
    assert len(partials(store)) == 1  # nobody will ever rename it
    assert delete_prefix(store, PREFIX) == 1
    assert partials(store) == [] and not (store.root / PREFIX).exists()
