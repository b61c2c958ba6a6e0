"""Both stores against the same contract: local directory and R2 (moto)."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from videoctl.domain.errors import InvalidInput, NotFound, SourceChanged, StorageError
from videoctl.settings import Settings
from videoctl.storage import open_store
from videoctl.storage.base import delete_prefix
from videoctl.storage.local import LocalStore
from videoctl.storage.s3 import S3Store


@pytest.fixture(params=["local", "r2"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        env = request.getfixturevalue("r2_env")
        s = open_store(Settings.from_env(env))
        assert isinstance(s, S3Store)
        yield s


def write(path: Path, size: int) -> Path:
    path.write_bytes(b"x" * size)
    return path


def test_upload_download_exists_size(store, tmp_path):
    src = write(tmp_path / "a.bin", 3000)
    store.upload_file(src, "videos/1/source/a.bin", content_type="video/mp4")
    assert store.exists("videos/1/source/a.bin")
    assert store.size("videos/1/source/a.bin") == 3000
    assert not store.exists("videos/1/source/b.bin") and store.size("videos/1/source/b.bin") is None
    out = tmp_path / "back.bin"
    store.download_file("videos/1/source/a.bin", out)
    assert out.read_bytes() == src.read_bytes()
    with pytest.raises(NotFound):
        store.download_file("videos/1/source/missing.bin", tmp_path / "m.bin")


def test_head_names_the_content_and_a_download_held_to_it_reads_that_content_or_nothing(store, tmp_path):
    key = "videos/1/source/a.bin"
    store.upload_file(write(tmp_path / "a.bin", 3000), key)
    first = store.head(key)
    assert (first.key, first.size) == (key, 3000) and first.etag
    assert store.head("videos/1/source/missing.bin") is None
    store.download_file(key, tmp_path / "same.bin", if_match=first.etag)
    assert (tmp_path / "same.bin").read_bytes() == b"x" * 3000

    (tmp_path / "b.bin").write_bytes(b"y" * 3000)  # another file of the same size
    store.upload_file(tmp_path / "b.bin", key)
    assert store.head(key).etag != first.etag and store.head(key).size == 3000
    with pytest.raises(SourceChanged, match="no longer the one recorded"):
        store.download_file(key, tmp_path / "other.bin", if_match=first.etag)
    assert not (tmp_path / "other.bin").exists()  # not a byte of the other object is left
    store.download_file(key, tmp_path / "b-again.bin", if_match=store.head(key).etag)
    assert (tmp_path / "b-again.bin").read_bytes() == b"y" * 3000
    with pytest.raises(NotFound):
        store.download_file("videos/1/source/missing.bin", tmp_path / "m.bin", if_match=first.etag)


def test_a_local_rewrite_in_place_that_keeps_size_and_times_is_still_another_object(tmp_path):
    local = LocalStore(tmp_path / "store")
    local.upload_file(write(tmp_path / "a.bin", 100), "videos/1/source/a.bin")
    recorded = local.head("videos/1/source/a.bin")
    assert recorded.etag.startswith("sha256:")
    path = local.root / "videos/1/source/a.bin"
    before = path.stat()
    with open(path, "r+b") as file:  # the same inode, the same size, the times set back
        file.write(b"y")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)
    with pytest.raises(SourceChanged):
        local.download_file("videos/1/source/a.bin", tmp_path / "copy", if_match=recorded.etag)


def test_an_r2_download_held_to_an_etag_comes_in_ranges_each_held_to_it(r2_env, tmp_path):
    """Above 16 MiB the download is ranged GETs in parallel, every one with If-Match: the
    bytes land in their places, and an object replaced between the HEAD and a GET, or
    between two GETs, fails the download with nothing left behind."""
    store = open_store(Settings.from_env(r2_env))
    key = "videos/2/source/big.bin"
    data = bytes(range(251)) * ((33 << 20) // 251 + 1)  # 251: no range boundary falls on a repeat
    store.client.put_object(Bucket=store.bucket, Key=key, Body=data)
    recorded = store.head(key)
    store.download_file(key, tmp_path / "whole.bin", if_match=recorded.etag)
    assert (tmp_path / "whole.bin").read_bytes() == data

    gets: list[dict] = []

    def replace_after_the_first_get(params, **_):
        gets.append(params)
        if len(gets) == 2:  # the first range is in; the object is replaced before the next one
            store.client.meta.events.unregister("before-parameter-build.s3.GetObject", replace_after_the_first_get)
            store.client.put_object(Bucket=store.bucket, Key=key, Body=data[::-1])

    store.client.meta.events.register("before-parameter-build.s3.GetObject", replace_after_the_first_get)
    with pytest.raises(SourceChanged, match="no longer the one recorded"):
        store.download_file(key, tmp_path / "mixed.bin", if_match=recorded.etag)
    assert all(get["IfMatch"] == recorded.etag and get["Range"].startswith("bytes=") for get in gets)
    assert not (tmp_path / "mixed.bin").exists()


def test_list_and_delete_prefix_never_touch_neighbours(store, tmp_path):
    src = write(tmp_path / "s", 10)
    inside = [f"videos/12/hls/1-1/seg{i:04d}.ts" for i in range(1203)]  # more than one page/batch
    neighbours = ["videos/123/hls/1-1/seg0000.ts", "videos/12.txt", "videos/1/x.ts"]
    for key in inside + neighbours:
        store.upload_file(src, key)
    listed = [o.key for o in store.list_prefix("videos/12/")]
    assert sorted(listed) == sorted(inside)
    assert delete_prefix(store, "videos/12/") == len(inside)
    assert list(store.list_prefix("videos/12/")) == []
    assert all(store.exists(k) for k in neighbours)
    # Absent keys are done, not errors.
    assert store.delete_keys(["videos/12/hls/1-1/seg0000.ts"]) == 1


@pytest.mark.parametrize("prefix", ["", "/", "videos/12", "../videos/", "/videos/12/"])
def test_delete_prefix_refuses_unsafe_prefixes(store, prefix):
    with pytest.raises(InvalidInput):
        delete_prefix(store, prefix)


def test_r2_client_is_shaped_for_r2(r2_env):
    store = open_store(Settings.from_env(r2_env))
    config = store.client.meta.config
    assert config.s3["addressing_style"] == "path"
    assert config.request_checksum_calculation == "when_required"
    assert store.client.meta.region_name == "auto"
    assert store.client.meta.endpoint_url == r2_env["R2_ENDPOINT_URL"]


def test_s3_errors_are_classified_for_retry():
    from botocore.exceptions import ClientError, EndpointConnectionError

    from videoctl.storage.s3 import _error

    def client_error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "PutObject")

    assert _error("upload", "k", client_error("InternalError", 500)).transient
    assert _error("upload", "k", client_error("SlowDown", 503)).transient
    assert not _error("upload", "k", client_error("AccessDenied", 403)).transient
    assert not _error("upload", "k", client_error("NoSuchBucket", 404)).transient
    assert _error("upload", "k", EndpointConnectionError(endpoint_url="https://r2")).transient
    assert "AccessDenied" in _error("upload", "k", client_error("AccessDenied", 403)).message


# ---------------------------------------------------------------- the local store never follows a link


@pytest.fixture
def planted(tmp_path):
    """A local store where someone planted links under video 5 into video 10's source."""
    local = LocalStore(tmp_path / "store")
    src = write(tmp_path / "s", 10)
    for key in ("videos/10/source/a.mp4", "videos/5/source/b.mp4", "videos/5/hls/1-1/seg.ts"):
        local.upload_file(src, key)
    (local.root / "videos/5/source/evil.mp4").symlink_to("../../10/source/a.mp4")  # a link to a file
    (local.root / "videos/5/hls/2-1").symlink_to("../../10/source")  # a link to a folder
    (local.root / "videos/5/out.mp4").symlink_to(tmp_path / "s")  # a link out of the store
    return local


def test_deleting_a_prefix_never_reaches_through_a_planted_link(planted, tmp_path):
    from videoctl.domain import prefixes

    listed = [o.key for o in planted.list_prefix("videos/5/")]
    assert listed == ["videos/5/hls/1-1/seg.ts", "videos/5/source/b.mp4"]

    # The consumer every delete goes through (local mode and the Lambda).
    message = prefixes.build_message("videos/5/", "test", bucket="local", videos_root="videos",
                                     requested_at=datetime.now(UTC))
    result = prefixes.process_message(message.to_json(), planted, bucket="local", videos_root="videos")
    assert result.deleted == 2
    assert (planted.root / "videos/10/source/a.mp4").read_bytes() == b"x" * 10  # video 10's source is whole
    assert (tmp_path / "s").exists()
    # The links stay where they were planted, for a person to look at; nothing else of video 5 does.
    left = sorted(p.relative_to(planted.root).as_posix() for p in planted.root.rglob("*") if p.is_symlink())
    assert left == ["videos/5/hls/2-1", "videos/5/out.mp4", "videos/5/source/evil.mp4"]
    assert not (planted.root / "videos/5/hls/1-1").exists()


@pytest.mark.parametrize("key", ["videos/5/source/evil.mp4", "videos/5/hls/2-1/a.mp4", "videos/5/out.mp4"])
def test_no_read_write_or_delete_goes_through_a_link(planted, tmp_path, key):
    target = planted.root / "videos/10/source/a.mp4"
    checks = {
        "exists": lambda: planted.exists(key),
        "size": lambda: planted.size(key),
        "head": lambda: planted.head(key),
        "download": lambda: planted.download_file(key, tmp_path / "copy"),
        "delete": lambda: planted.delete_keys([key]),
        "upload": lambda: planted.upload_file(write(tmp_path / "new", 3), key),
    }
    for name, call in checks.items():
        with pytest.raises(StorageError, match="symbolic link; the store never follows one") as refused:
            call()
        assert "videos/5/" in refused.value.message, name
    assert target.read_bytes() == b"x" * 10 and (tmp_path / "s").read_bytes() == b"x" * 10
    assert not (tmp_path / "copy").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.mp4"]  # nothing written beside it


def test_a_prefix_below_a_link_lists_nothing_and_deletes_nothing(planted):
    with pytest.raises(StorageError, match="symbolic link"):
        list(planted.list_prefix("videos/5/hls/2-1/"))
    assert planted.exists("videos/10/source/a.mp4")


def test_a_fifo_in_the_store_is_not_an_object_and_hangs_nothing(planted, tmp_path):
    os.mkfifo(planted.root / "videos/5/source/pipe.mp4")
    assert "videos/5/source/pipe.mp4" not in [o.key for o in planted.list_prefix("videos/5/")]
    assert planted.size("videos/5/source/pipe.mp4") is None
    with pytest.raises(NotFound):
        planted.download_file("videos/5/source/pipe.mp4", tmp_path / "copy")


@pytest.mark.parametrize("segment_bytes", [256, 1000])
def test_a_key_segment_longer_than_a_file_name_is_invalid_input(tmp_path, segment_bytes):
    local = LocalStore(tmp_path / "store")
    key = f"videos/5/source/{'é' * (segment_bytes // 2)}"
    for call in (lambda: local.exists(key), lambda: local.upload_file(write(tmp_path / "a", 1), key),
                 lambda: list(local.list_prefix(key + "/")), lambda: local.delete_keys([key]),
                 lambda: local.download_file(key, tmp_path / "b")):
        with pytest.raises(InvalidInput, match="at most 255 per segment"):
            call()
    assert local.exists("videos/5/source/" + "a" * 255) is False  # 255 bytes is a file name like any other
