"""One wrapper for every infra AWS call: botocore errors become AwsError naming the API action.

The action is spelled the way IAM spells it (``iam:PutRolePolicy``), so an
AccessDenied tells the operator exactly which permission is missing.
Retries stay with botocore's standard mode (configured on the clients).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videoctl.aws.errors import aws_error, error_code


def action_name(client: Any, method: str) -> str:
    meta = client.meta
    operation = meta.method_to_api_mapping.get(method, method)
    return f"{meta.service_model.signing_name}:{operation}"


def call(client: Any, method: str, *, missing: tuple[str, ...] = (), **params: Any) -> Any:
    """``client.method(**params)``; None if AWS answers with one of the ``missing`` error codes."""
    return _guarded(client, method, missing, lambda: getattr(client, method)(**params))


def paginate(client: Any, method: str, key: str, *, missing: tuple[str, ...] = (), **params: Any) -> list[Any] | None:
    """Every item under ``key`` across pages; None if the first page says ``missing``."""
    return _guarded(client, method, missing, lambda: [
        item for page in client.get_paginator(method).paginate(**params) for item in page.get(key, [])])


def _guarded(client: Any, method: str, missing: tuple[str, ...], fetch: Callable[[], Any]) -> Any:
    """AWS errors become AwsError naming the action; a ``missing`` error code means None."""
    try:
        return fetch()
    except ClientError as exc:
        if missing and error_code(exc) in missing:
            return None
        raise aws_error(action_name(client, method), exc) from exc
    except BotoCoreError as exc:
        raise aws_error(action_name(client, method), exc) from exc
