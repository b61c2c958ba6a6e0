"""Both stores against the same contract: local directory and R2 (moto)."""

from pathlib import Path

import pytest

from videoctl.domain.errors import InvalidInput, NotFound
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
