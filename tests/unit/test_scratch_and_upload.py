"""Scratch space checks and the upload's retry rules, on a real local store."""

import io
import threading
import time
from collections import namedtuple
from pathlib import Path

import pytest

from videoctl.domain.errors import StorageError
from videoctl.services.encode import download_files, upload_ladder
from videoctl.storage import scratch
from videoctl.storage.local import LocalStore


def test_free_space_check_fails_early_with_numbers(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(scratch.shutil, "disk_usage", lambda p: usage(10 << 30, 0, 300 << 20))
    with pytest.raises(StorageError, match=r"300 MiB free, 3328 MiB needed for a 1024 MiB source") as info:
        scratch.require_free_space(tmp_path, 1 << 30)
    assert "VIDEOCTL_SCRATCH_DIR" in info.value.hint
    scratch.require_free_space(tmp_path, 1 << 20)  # enough for a small source


def test_scratch_dir_is_removed_on_any_exit(tmp_path):
    with pytest.raises(KeyboardInterrupt), scratch.scratch_dir(tmp_path, "job") as work:
        (work / "f").write_text("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def ladder(tmp_path: Path) -> Path:
    out = tmp_path / "hls"
    for rel in ("360p/seg_00000.ts", "360p/seg_00001.ts", "360p/index.m3u8", "audio/seg_00000.ts",
                "audio/index.m3u8", "master.m3u8"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(rel)
    return out


class FlakyStore(LocalStore):
    """A real local store whose first upload of some keys fails."""

    def __init__(self, root: Path, *, fail_once: set[str], transient: bool) -> None:
        super().__init__(root)
        self.fail_once, self.transient, self.calls = set(fail_once), transient, []

    def upload_file(self, path, key, *, content_type=None):
        self.calls.append((key, content_type))
        if key in self.fail_once:
            self.fail_once.discard(key)
            raise StorageError(f"upload {key!r} failed: SlowDown", transient=self.transient)
        super().upload_file(path, key, content_type=content_type)


def test_upload_retries_transient_errors_and_puts_master_last(tmp_path):
    store = FlakyStore(tmp_path / "store", fail_once={"p/360p/seg_00001.ts"}, transient=True)
    seen: list[float] = []
    upload_ladder(store, ladder(tmp_path), "p/", seen.append)
    assert store.exists("p/360p/seg_00001.ts") and store.exists("p/master.m3u8")
    assert [k for k, _ in store.calls].count("p/360p/seg_00001.ts") == 2
    assert store.calls[-1] == ("p/master.m3u8", "application/vnd.apple.mpegurl")
    assert dict(store.calls)["p/360p/seg_00000.ts"] == "video/mp2t"
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_permanent_upload_error_fails_without_the_master(tmp_path):
    store = FlakyStore(tmp_path / "store", fail_once={"p/360p/seg_00000.ts"}, transient=False)
    with pytest.raises(StorageError, match="SlowDown"):
        upload_ladder(store, ladder(tmp_path), "p/", lambda done: None)
    assert not store.exists("p/master.m3u8")  # a player never sees half a ladder


class SlowFlakyDownloads(LocalStore):
    """A real local store whose downloads each take a round trip, the first of one key failing."""

    def __init__(self, root: Path, *, fail_once: str, transient: bool) -> None:
        super().__init__(root)
        self.fail_once, self.transient = fail_once, transient
        self.lock, self.in_flight, self.most_at_once = threading.Lock(), 0, 0

    def download_file(self, key, path, *, if_match=None):
        with self.lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            time.sleep(0.05)
            if key == self.fail_once:
                self.fail_once = None
                raise StorageError(f"download {key!r} failed: SlowDown", transient=self.transient)
            super().download_file(key, path)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_an_assemblers_downloads_run_side_by_side_each_retried(tmp_path):
    store = SlowFlakyDownloads(tmp_path / "store", fail_once="p/seg_3.m4s", transient=True)
    keys = [f"p/seg_{n}.m4s" for n in range(20)]
    for key in keys:
        store.upload_fileobj(io.BytesIO(key.encode()), key)
    (tmp_path / "got").mkdir()
    download_files(store, [(key, tmp_path / "got" / key.replace("/", "_")) for key in keys])
    assert [(tmp_path / "got" / key.replace("/", "_")).read_bytes() for key in keys] == [key.encode() for key in keys]
    assert store.most_at_once > 1  # not one round trip after another


def test_a_download_that_keeps_failing_fails_the_whole_fetch(tmp_path):
    store = SlowFlakyDownloads(tmp_path / "store", fail_once="p/seg_1.m4s", transient=False)
    for n in range(3):
        store.upload_fileobj(io.BytesIO(b"x"), f"p/seg_{n}.m4s")
    (tmp_path / "got").mkdir()
    with pytest.raises(StorageError, match="SlowDown"):
        download_files(store, [(f"p/seg_{n}.m4s", tmp_path / "got" / f"{n}") for n in range(3)])
