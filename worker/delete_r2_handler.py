"""AWS Lambda: delete the R2 prefixes requested on the delete-r2 SQS queue.

Entry point ``worker.delete_r2_handler.handler``. The SQS event source
mapping must set ``FunctionResponseTypes=["ReportBatchItemFailures"]``: the
handler returns ``{"batchItemFailures": [{"itemIdentifier": messageId}, …]}``
so only the records that failed go back to the queue.

Each record goes through :func:`videoctl.domain.prefixes.process_message`,
the same code ``videoctl r2 delete`` runs synchronously in local mode:
parse, version check, bucket check, prefix rules, list page by page, delete
in batches of at most 1 000, absent keys count as done. A listed key that is
unsafe to name (a crafted ``videos/5/../10/…``) is skipped and reported in
the log line (``skipped``, ``skipped_keys``), and the rest is deleted.

A malformed or refused record (bad JSON, unknown version, other bucket,
unsafe prefix) deletes nothing and is **reported as a failure**, not dropped:
it will never succeed, but a failure is what moves it to the dead-letter
queue after maxReceiveCount, where a person sees it. Dropping it would lose
the only trace of a producer bug; the cost is a few cheap retries. It also
lets a message that this version refuses (say version 2 during a rollout)
succeed once the new handler is deployed.

Configuration, from the function's environment:

- ``R2_BUCKET``, ``R2_ENDPOINT_URL`` (required), ``VIDEOCTL_VIDEOS_ROOT`` (default ``videos``);
- credentials: ``R2_ACCESS_KEY_ID_PARAMETER`` and ``R2_SECRET_ACCESS_KEY_PARAMETER`` name SSM
  SecureString parameters, fetched once per container; else ``R2_ACCESS_KEY_ID`` and
  ``R2_SECRET_ACCESS_KEY`` directly.

Imports stay light for the deployment zip: stdlib, boto3/botocore,
``videoctl.domain``, ``videoctl.storage`` and ``videoctl.settings`` (plus
``videoctl.aws.clients``, boto3 only, which ``open_store`` loads on the first
invocation). No client is created at import time; the first invocation
builds one and caches it for the container's life.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from videoctl.domain.errors import AwsError, ConfigError, InvalidInput, VideoctlError
from videoctl.domain.prefixes import process_message
from videoctl.settings import Settings
from videoctl.storage.factory import open_store

#: credential variable → the variable naming its SSM parameter
SSM_PARAMETER_VARS = {
    "R2_ACCESS_KEY_ID": "R2_ACCESS_KEY_ID_PARAMETER",
    "R2_SECRET_ACCESS_KEY": "R2_SECRET_ACCESS_KEY_PARAMETER",
}
_RETRIES = {"mode": "standard", "max_attempts": 6}


@dataclass(frozen=True)
class Runtime:
    """What one container needs: built on the first invocation, reused by the next ones."""

    store: Any  # S3Store, or any DeleteTarget in tests
    bucket: str
    videos_root: str


_CACHE: dict[str, Runtime] = {}


def runtime(environ: Mapping[str, str] | None = None) -> Runtime:
    if "runtime" not in _CACHE:
        _CACHE["runtime"] = build_runtime(os.environ if environ is None else environ)
    return _CACHE["runtime"]


def reset_runtime() -> None:
    """Forget the cached client and credentials (tests; a rotated secret needs a new container)."""
    _CACHE.clear()


def build_runtime(environ: Mapping[str, str]) -> Runtime:
    env = dict(environ)
    # Settings derives local paths from $HOME, which a Lambda sandbox user may not have.
    env.setdefault("VIDEOCTL_HOME", "/tmp/videoctl")
    env.update(ssm_credentials(environ))
    settings = Settings.from_env(env)
    if not settings.r2_bucket:
        raise ConfigError("R2_BUCKET is not set; the delete-r2 function does not know which bucket it serves")
    # open_store builds the R2-shaped client (videoctl.aws.clients, boto3 only) on this first call.
    return Runtime(open_store(settings), settings.r2_bucket, settings.videos_root)


def ssm_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The R2 credentials named by *_PARAMETER variables, decrypted; {} if none are named."""
    names = {var: environ.get(param_var, "").strip() for var, param_var in SSM_PARAMETER_VARS.items()}
    names = {var: name for var, name in names.items() if name}
    if not names:
        return {}
    client = boto3.session.Session().client(
        "ssm",
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        endpoint_url=environ.get("VIDEOCTL_AWS_ENDPOINT_URL") or None,
        config=Config(retries=_RETRIES, connect_timeout=5, read_timeout=10),
    )
    try:
        response = client.get_parameters(Names=sorted(set(names.values())), WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        raise AwsError(f"ssm:GetParameters failed: {code}",
                       hint="the function's role needs ssm:GetParameters and kms:Decrypt") from exc
    if response.get("InvalidParameters"):
        raise ConfigError(f"SSM parameters not found: {', '.join(response['InvalidParameters'])}")
    found = {p["Name"]: p for p in response["Parameters"]}
    plain = sorted(name for name in names.values() if found[name]["Type"] != "SecureString")
    if plain:
        raise ConfigError(f"SSM parameters must be SecureString: {', '.join(plain)}")
    return {var: found[name]["Value"] for var, name in names.items()}


# ---------------------------------------------------------------- the handler


def emit(line: dict[str, Any]) -> None:
    """One JSON document per line on stdout, which Lambda ships to CloudWatch as is."""
    print(json.dumps(line, sort_keys=True, default=str), flush=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    try:
        current = runtime()
    except VideoctlError as exc:
        # Without a store no record can succeed: fail the invocation, so the
        # Errors metric shows it and every record is retried.
        emit({"outcome": "config_error", "error_code": exc.code, "error": exc.message, "records": len(records)})
        raise
    return process_records(records, current)


def process_records(records: list[dict[str, Any]], current: Runtime,
                    log: Callable[[dict[str, Any]], None] = emit) -> dict[str, Any]:
    """Process each record on its own; return the ones to retry."""
    failures = []
    for record in records:
        if not process_record(record, current, log):
            # A record without a messageId makes Lambda retry the whole batch: right for such an event.
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}


def process_record(record: dict[str, Any], current: Runtime, log: Callable[[dict[str, Any]], None]) -> bool:
    started = time.monotonic()
    line: dict[str, Any] = {
        "messageId": record.get("messageId"),
        "receiveCount": record.get("attributes", {}).get("ApproximateReceiveCount"),
        "deleted": 0,
        **_peek(record.get("body")),
    }
    ok = False
    try:
        result = process_message(record.get("body"), current.store, bucket=current.bucket,
                                 videos_root=current.videos_root)
    except InvalidInput as exc:
        line.update(outcome="refused", error_code=exc.code, error=exc.message)
    except VideoctlError as exc:
        line.update(outcome="failed", error_code=exc.code, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - one record's bug must not fail the others
        line.update(outcome="failed", error_code="internal_error", error=f"{type(exc).__name__}: {exc}")
    else:
        ok = True
        line.update(outcome="deleted", deleted=result.deleted, batches=result.batches)
        if result.skipped:  # done all the same: retrying cannot make such a key safe to name
            line.update(skipped=result.skipped, skipped_keys=list(result.skipped_keys))
    line["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    log(line)
    return ok


def _peek(body: Any) -> dict[str, Any]:
    """Identify the request in the log line even when it is refused (strings only, shortened)."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return {"prefix": None, "idempotency_key": None, "video_id": None}
    data = data if isinstance(data, dict) else {}

    def text(name: str) -> str | None:
        value = data.get(name)
        return value[:300] if isinstance(value, str) else None

    video_id = data.get("video_id")
    return {"prefix": text("prefix"), "idempotency_key": text("idempotency_key"),
            "video_id": video_id if isinstance(video_id, int) else None}
