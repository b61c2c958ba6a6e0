"""The delete-r2 Lambda handler against moto S3 behind the R2-style endpoint, and moto SSM.

moto's Lambda never runs our code here, so the handler is called as a function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from tests.conftest import R2_TEST_ENDPOINT
from videoctl.aws.clients import r2_client as cli_r2_client
from videoctl.domain.errors import ConfigError, StorageError
from videoctl.domain.prefixes import build_message
from videoctl.settings import Settings
from videoctl.storage.s3 import S3Store
from worker import delete_r2_handler as h

BUCKET = "videos-test"
REPO = Path(__file__).resolve().parents[2]
SECRETS = ("r2-test-key", "r2-test-secret")


@pytest.fixture
def r2_env(monkeypatch):
    """conftest's r2_env pattern without the per-test database the handler never uses."""
    from moto import mock_aws

    values = {"R2_BUCKET": BUCKET, "R2_ENDPOINT_URL": R2_TEST_ENDPOINT, "R2_ACCESS_KEY_ID": SECRETS[0],
              "R2_SECRET_ACCESS_KEY": SECRETS[1]}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield dict(os.environ)


@pytest.fixture
def r2(r2_env):
    """The R2 client, and a handler with no cached runtime before and after."""
    h.reset_runtime()
    yield cli_r2_client(Settings.from_env(r2_env))
    h.reset_runtime()


def put(client, keys):
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def seed(keys):
    """Many objects straight into moto's S3 backend: 2 500 PutObject calls through HTTP take ~10 s.

    Only the setup takes this shortcut; the handler lists and deletes through the R2 endpoint.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(BUCKET, key, b"x")


def keys_in(client, prefix=""):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def record(message_id, for_prefix, *, bucket=BUCKET, video_id=None, **overrides):
    message = build_message(for_prefix, "test", bucket=bucket, videos_root="videos", video_id=video_id,
                            requested_at=datetime.now(UTC)).to_dict()
    message.update(overrides)
    return {"messageId": message_id, "body": json.dumps(message), "attributes": {"ApproximateReceiveCount": "1"}}


def log_lines(capsys):
    out = capsys.readouterr().out
    assert not any(secret in out for secret in SECRETS), "a secret reached the log"
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_handler_deletes_2500_keys_in_batches_and_no_neighbour(r2, capsys):
    inside = [f"videos/12/hls/1-1/v{i % 4}/seg{i:05d}.ts" for i in range(2500)]
    neighbours = ["videos/123/hls/1-1/seg00000.ts", "videos/12.mp4", "videos/1/source/a.mp4", "videos/12",
                  "videos/120/x", "other/12/x"]
    seed(inside)
    put(r2, neighbours)
    assert len(keys_in(r2)) == 2506

    store = h.runtime().store
    batch_sizes: list[int] = []
    store.client.meta.events.register(
        "before-parameter-build.s3.DeleteObjects",
        lambda params, **_: batch_sizes.append(len(params["Delete"]["Objects"])),
    )
    capsys.readouterr()
    result = h.handler({"Records": [record("m-1", "videos/12/", video_id=12)]}, None)

    assert result == {"batchItemFailures": []}
    assert keys_in(r2, "videos/12/") == set()
    assert keys_in(r2) == set(neighbours)
    assert batch_sizes == [1000, 1000, 500]
    [line] = log_lines(capsys)
    assert line["messageId"] == "m-1" and line["outcome"] == "deleted" and line["deleted"] == 2500
    assert line["prefix"] == "videos/12/" and line["video_id"] == 12 and line["batches"] == 3
    assert isinstance(line["duration_ms"], float) and line["receiveCount"] == "1"


def test_redelivery_and_absent_keys_are_success(r2, capsys):
    put(r2, ["videos/5/a", "videos/5/b"])
    event = {"Records": [record("m-1", "videos/5/")]}
    assert h.handler(event, None) == {"batchItemFailures": []}
    assert h.handler(event, None) == {"batchItemFailures": []}  # same message again: nothing left, still fine
    assert [line["deleted"] for line in log_lines(capsys)] == [2, 0]


def test_a_crafted_dotdot_key_is_reported_and_skipped_and_the_rest_deleted(r2, capsys):
    """Today's main: S3Store refused the key, so the whole message failed on every delivery."""
    crafted = ["videos/5/../10/source/a.mp4", "videos/5/hls/../../10/x"]
    put(r2, ["videos/5/source/a.mp4", "videos/5/hls/1-1/s.ts", "videos/10/source/a.mp4", *crafted])
    capsys.readouterr()
    event = {"Records": [record("m-1", "videos/5/", video_id=5)]}
    assert h.handler(event, None) == {"batchItemFailures": []}
    assert keys_in(r2) == {"videos/10/source/a.mp4", *crafted}  # video 10 untouched, the crafted keys left
    [line] = log_lines(capsys)
    assert line["outcome"] == "deleted" and line["deleted"] == 2
    assert line["skipped"] == 2 and sorted(line["skipped_keys"]) == sorted(crafted)
    # A redelivery finds only the skipped keys: still a success, still reported.
    assert h.handler(event, None) == {"batchItemFailures": []}
    [again] = log_lines(capsys)
    assert (again["deleted"], again["skipped"]) == (0, 2)


class FailingFor:
    """The real store, except that deleting under one prefix fails (an R2 outage for that record)."""

    def __init__(self, store: S3Store, prefix: str) -> None:
        self.store, self.prefix = store, prefix

    def list_prefix(self, prefix):
        return self.store.list_prefix(prefix)

    def delete_keys(self, keys):
        keys = list(keys)
        if keys and keys[0].startswith(self.prefix):
            raise StorageError(f"delete {keys[0]!r} failed: InternalError: We encountered an internal error")
        return self.store.delete_keys(keys)


def test_only_the_failed_and_malformed_records_are_retried(r2, capsys, monkeypatch):
    put(r2, ["videos/1/a", "videos/13/a", "videos/14/a", "videos/15/a"])
    real = h.runtime()
    monkeypatch.setattr(h, "runtime", lambda: h.Runtime(FailingFor(real.store, "videos/13/"), BUCKET, "videos"))
    capsys.readouterr()
    event = {"Records": [
        record("ok", "videos/1/"),
        record("boom", "videos/13/"),
        record("other-bucket", "videos/14/", bucket="someone-elses"),
        record("future", "videos/15/", version=2),
        {"messageId": "garbage", "body": "{not json"},
    ]}
    result = h.handler(event, None)

    retried = ("boom", "other-bucket", "future", "garbage")
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in retried]}
    assert keys_in(r2) == {"videos/13/a", "videos/14/a", "videos/15/a"}  # refused records deleted nothing
    outcomes = {line["messageId"]: line for line in log_lines(capsys)}
    assert outcomes["ok"]["outcome"] == "deleted"
    assert outcomes["boom"]["outcome"] == "failed" and outcomes["boom"]["error_code"] == "storage_error"
    assert outcomes["other-bucket"]["outcome"] == "refused" and "someone-elses" in outcomes["other-bucket"]["error"]
    assert outcomes["other-bucket"]["prefix"] == "videos/14/"
    assert outcomes["future"]["outcome"] == "refused" and "version 2" in outcomes["future"]["error"]
    assert outcomes["garbage"]["outcome"] == "refused" and outcomes["garbage"]["prefix"] is None


def test_the_lambda_enforces_the_prefix_rules_itself(r2, capsys):
    put(r2, ["videos/7/a", "videos/70/a"])
    unsafe = [
        record("root", "videos/1/", prefix="videos/"),
        record("no-slash", "videos/1/", prefix="videos/7"),
        record("dotdot", "videos/1/", prefix="videos/7/../70/"),
        record("other-video", "videos/7/", prefix="videos/70/", video_id=7),
    ]
    result = h.handler({"Records": unsafe}, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["root", "no-slash", "dotdot", "other-video"]
    assert keys_in(r2) == {"videos/7/a", "videos/70/a"}
    assert {line["outcome"] for line in log_lines(capsys)} == {"refused"}


# ---------------------------------------------------------------- configuration


@pytest.fixture
def ssm_names(r2, monkeypatch):
    ssm = boto3.client("ssm", region_name="us-east-1")
    names = {"R2_ACCESS_KEY_ID": "/academy/r2/access-key-id", "R2_SECRET_ACCESS_KEY": "/academy/r2/secret-access-key"}
    for var, name in names.items():
        ssm.put_parameter(Name=name, Value=os.environ[var], Type="SecureString")
        monkeypatch.delenv(var)
        monkeypatch.setenv(h.SSM_PARAMETER_VARS[var], name)
    return ssm, names


def test_credentials_come_from_ssm_once_per_container(ssm_names, r2, capsys):
    ssm, names = ssm_names
    put(r2, ["videos/2/a", "videos/3/a"])
    assert h.handler({"Records": [record("a", "videos/2/")]}, None) == {"batchItemFailures": []}
    credentials = h.runtime().store.client._get_credentials()
    assert (credentials.access_key, credentials.secret_key) == SECRETS

    ssm.delete_parameters(Names=list(names.values()))  # cached: the next invocation does not ask again
    assert h.handler({"Records": [record("b", "videos/3/")]}, None) == {"batchItemFailures": []}
    assert keys_in(r2) == set()

    h.reset_runtime()  # a new container would fetch them, and fail loudly
    with pytest.raises(ConfigError, match="SSM parameters not found"):
        h.handler({"Records": [record("c", "videos/4/")]}, None)
    lines = log_lines(capsys)
    assert lines[-1]["outcome"] == "config_error" and lines[-1]["records"] == 1


def test_ssm_parameters_must_be_secure_strings(ssm_names):
    ssm, names = ssm_names
    ssm.put_parameter(Name=names["R2_SECRET_ACCESS_KEY"], Value="plain", Type="String", Overwrite=True)
    with pytest.raises(ConfigError, match="must be SecureString"):
        h.build_runtime(os.environ)


def test_no_bucket_is_a_config_error(monkeypatch):
    monkeypatch.delenv("R2_BUCKET", raising=False)
    with pytest.raises(ConfigError, match="R2_BUCKET"):
        h.build_runtime(os.environ)


def test_the_store_is_r2_shaped_and_built_on_first_use(r2):
    assert h._CACHE == {}
    store = h.runtime().store
    assert isinstance(store, S3Store) and store.bucket == BUCKET
    assert store.client.meta.config.s3["addressing_style"] == "path" and store.client.meta.region_name == "auto"
    assert store.client.meta.endpoint_url == R2_TEST_ENDPOINT
    assert h.runtime() is h.runtime()  # one per container


# ---------------------------------------------------------------- what the zip may import

_BLOCK = textwrap.dedent(
    """
    import sys
    HEAVY = {"psycopg", "psycopg_pool", "typer", "click", "rich", "av", "redis", "pgserver", "ffmpeg",
             "imageio_ffmpeg", "tenacity"}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                raise ImportError(f"blocked heavy import: {name}")
            return None
    """
)

ALLOWED = {"videoctl", "videoctl.settings", "videoctl.storage", "videoctl.storage.base", "videoctl.storage.s3",
           "videoctl.storage.factory"}


def run_python(code: str, **env: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_handler_imports_stay_light_and_build_no_client():
    code = _BLOCK + textwrap.dedent(
        """
        import json
        import boto3.session
        def no_client(*args, **kwargs):
            raise AssertionError("a client was created at import time")
        boto3.session.Session.client = no_client
        sys.meta_path.insert(0, Blocker())
        import worker.delete_r2_handler as handler
        assert callable(handler.handler) and handler._CACHE == {}
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("videoctl"))))
        """
    )
    modules = set(run_python(code))
    outside = {m for m in modules if m not in ALLOWED and not m.startswith("videoctl.domain")}
    assert not outside, f"the handler pulls in {outside}"


def test_handler_runs_with_heavy_modules_blocked():
    """The call path too (lazy imports included), against moto S3 behind the R2 endpoint."""
    code = textwrap.dedent(
        """
        import json
        from moto import mock_aws
        with mock_aws():
            import boto3
        """
    ) + textwrap.indent(_BLOCK, "    ") + textwrap.indent(textwrap.dedent(
        """
        sys.meta_path.insert(0, Blocker())
        from datetime import UTC, datetime
        import worker.delete_r2_handler as handler
        from videoctl.domain.prefixes import build_message
        s3 = handler.runtime().store.client
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="videos-test")
        for key in ("videos/9/a", "videos/9/b", "videos/90/a"):
            s3.put_object(Bucket="videos-test", Key=key, Body=b"x")
        body = build_message("videos/9/", "t", bucket="videos-test", videos_root="videos",
                             requested_at=datetime.now(UTC)).to_json()
        result = handler.handler({"Records": [{"messageId": "m", "body": body}]}, None)
        left = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="videos-test")["Contents"])
        print(json.dumps({"result": result, "left": left}))
        """
    ), "    ")
    out = run_python(code, R2_BUCKET=BUCKET, R2_ENDPOINT_URL=R2_TEST_ENDPOINT, R2_ACCESS_KEY_ID="k",
                     R2_SECRET_ACCESS_KEY="s", MOTO_S3_CUSTOM_ENDPOINTS=R2_TEST_ENDPOINT)
    assert out == {"result": {"batchItemFailures": []}, "left": ["videos/90/a"]}
