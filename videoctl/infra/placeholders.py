"""``${PLACEHOLDER}`` values for the documents in infra/json, and where each comes from.

A placeholder is filled after the JSON is parsed, so a document stays valid
JSON and a value never needs escaping. A string that is exactly
``"${NAME}"`` takes the value with its type (a list of subnets, an integer
maxvCpus); inside a longer string the value is inserted as text.

Every placeholder names the setting (and so the environment variable) that
provides it, so an unresolved one is reported as "set VIDEO_BATCH_IMAGE_URI",
not as a half-filled document sent to AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videoctl.domain.errors import ConfigError
from videoctl.domain.origins import split_origins
from videoctl.settings import Settings

PATTERN = re.compile(r"\$\{([A-Za-z0-9_]*)\}")
#: Validation runs before any AWS call, so before STS tells us the account.
#: Twelve digits like the real one keep the document size check exact.
PROVISIONAL_ACCOUNT_ID = "000000000000"

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})?$"
)


@dataclass(frozen=True)
class Provider:
    source: str  # what the operator sets, e.g. "VIDEO_BATCH_IMAGE_URI"
    get: Callable[[Settings, str], Any]  # (settings, account_id) → value or None


def _ids(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    return ids or None


def ecr_repository_arn(image_uri: str | None) -> str | None:
    """The repository ARN of an ECR image URI, so the execution role can pull only that image."""
    if image_uri is None:
        return None
    match = _ECR_IMAGE.match(image_uri)
    if not match:
        raise ConfigError(
            f"VIDEO_BATCH_IMAGE_URI {image_uri!r} is not an ECR image URI",
            hint="use ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG; the execution role is scoped to that repository",
        )
    return f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


def _ssm_prefix(settings: Settings, _: str) -> str:
    prefix = settings.ssm_prefix
    if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        raise ConfigError(
            f"VIDEOCTL_SSM_PREFIX {prefix!r} must start with '/' and not end with '/'",
            hint="e.g. /academy/video; parameters are PREFIX/DATABASE_URL, PREFIX/R2_BUCKET, …",
        )
    return prefix


def _event_target_name(settings: Settings, kind: str) -> str | None:
    target = settings.events
    return target.name if target is not None and target.kind == kind else None


PROVIDERS: dict[str, Provider] = {
    "ACCOUNT_ID": Provider("AWS_ACCOUNT_ID (else STS GetCallerIdentity)", lambda s, account: account),
    "REGION": Provider("AWS_REGION", lambda s, _: s.aws_region),
    "IMAGE_URI": Provider("VIDEO_BATCH_IMAGE_URI", lambda s, _: s.batch_image_uri),
    "ECR_REPOSITORY_ARN": Provider("VIDEO_BATCH_IMAGE_URI", lambda s, _: ecr_repository_arn(s.batch_image_uri)),
    "R2_BUCKET": Provider("R2_BUCKET", lambda s, _: s.r2_bucket),
    "R2_ENDPOINT_URL": Provider("R2_ENDPOINT_URL", lambda s, _: s.r2_endpoint_url),
    "UPLOAD_ORIGINS": Provider("VIDEOCTL_UPLOAD_ORIGINS", lambda s, _: split_origins(s.upload_origins)),
    "SUBNET_IDS": Provider("VIDEO_BATCH_SUBNETS", lambda s, _: _ids(s.batch_subnets)),
    "SECURITY_GROUP_IDS": Provider("VIDEO_BATCH_SECURITY_GROUPS", lambda s, _: _ids(s.batch_security_groups)),
    "SSM_PREFIX": Provider("VIDEOCTL_SSM_PREFIX", _ssm_prefix),
    "LOG_GROUP": Provider("VIDEO_BATCH_LOG_GROUP", lambda s, _: s.batch_log_group),
    "DELETE_QUEUE_NAME": Provider("VIDEO_DELETE_R2_QUEUE", lambda s, _: s.delete_queue_name),
    "DELETE_DLQ_NAME": Provider("VIDEO_DELETE_R2_QUEUE (+ '-dlq')", lambda s, _: f"{s.delete_queue_name}-dlq"),
    "DELETE_FUNCTION": Provider("VIDEO_DELETE_R2_FUNCTION", lambda s, _: s.delete_function_name),
    "JOB_QUEUE": Provider("VIDEO_BATCH_JOB_QUEUE", lambda s, _: s.batch_job_queue),
    "JOB_DEFINITION": Provider("VIDEO_BATCH_JOB_DEFINITION", lambda s, _: s.batch_job_definition),
    "COMPUTE_ENV": Provider("VIDEO_BATCH_COMPUTE_ENV", lambda s, _: s.batch_compute_env),
    "COMPUTE_TYPE": Provider("VIDEO_BATCH_COMPUTE_TYPE", lambda s, _: s.batch_compute_type.upper()),
    "MAX_VCPUS": Provider("VIDEO_BATCH_MAX_VCPUS", lambda s, _: s.batch_max_vcpus),
    "ASSIGN_PUBLIC_IP": Provider("VIDEO_BATCH_ASSIGN_PUBLIC_IP", lambda s, _: s.batch_assign_public_ip.upper()),
    "VIDEOS_ROOT": Provider("VIDEOCTL_VIDEOS_ROOT", lambda s, _: s.videos_root),
    "EVENT_BUS_NAME": Provider("VIDEOCTL_EVENTS_TARGET (eventbridge:BUS)", lambda s, _: _event_target_name(s, "eventbridge")),
    "EVENT_TOPIC_NAME": Provider("VIDEOCTL_EVENTS_TARGET (sns:TOPIC_ARN)", lambda s, _: _event_target_name(s, "sns")),
}


def values(settings: Settings, account_id: str) -> dict[str, Any]:
    """Every placeholder's value: None where its setting is unset, the ConfigError where it is invalid.

    Both are reported only if a document uses the placeholder.
    """
    if not re.fullmatch(r"\d{12}", account_id):
        raise ConfigError(f"AWS_ACCOUNT_ID must be 12 digits, got {account_id!r}")
    known: dict[str, Any] = {}
    for name, provider in PROVIDERS.items():
        try:
            known[name] = provider.get(settings, account_id)
        except ConfigError as exc:
            known[name] = exc
    return known


def fill(document: Any, known: dict[str, Any], source: str) -> Any:
    """The document with every placeholder replaced; ConfigError lists every one that cannot be."""
    problems: list[str] = []
    filled = _walk(document, known, problems)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ConfigError(
            f"{source}: unresolved placeholder{'s' if len(unique) > 1 else ''}: " + "; ".join(unique),
            hint="set the variables named above (videoctl config show lists them)",
        )
    return filled


def _walk(node: Any, known: dict[str, Any], problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {key: _walk(value, known, problems) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(value, known, problems) for value in node]
    if not isinstance(node, str) or "${" not in node:
        return node
    whole = PATTERN.fullmatch(node)
    if whole:
        value = _lookup(whole[1], known, problems)
        return node if value is None else value

    def text(match: re.Match[str]) -> str:
        value = _lookup(match[1], known, problems)
        if isinstance(value, list):
            problems.append(f"${{{match[1]}}} is a list and must be a whole JSON value, not part of {node!r}")
            return match[0]
        return match[0] if value is None else str(value)

    replaced = PATTERN.sub(text, node)
    if "${" in replaced and not problems:
        problems.append(f"malformed placeholder in {node!r} (use ${{NAME}} with A-Z, 0-9 and _)")
    return replaced


def _lookup(name: str, known: dict[str, Any], problems: list[str]) -> Any:
    if name not in PROVIDERS:
        problems.append(f"${{{name}}} is not a known placeholder (known: {', '.join(sorted(PROVIDERS))})")
        return None
    value = known.get(name)
    if isinstance(value, ConfigError):
        problems.append(f"${{{name}}}: {value.message}")
        return None
    if value is None:
        problems.append(f"${{{name}}} has no value: set {PROVIDERS[name].source}")
    return value
