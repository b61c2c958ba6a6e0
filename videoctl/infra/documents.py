"""Fill the placeholders of the infra/json documents and turn them into desired resources. Pure.

The documents are the source of truth for what AWS should look like; this
module only knows where each one lives and which resource it describes.
Reading them is passed in (:mod:`videoctl.infra.files` reads them from disk),
so nothing here touches the file system. An unresolved placeholder names the
variable to set.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videoctl.domain.errors import ConfigError
from videoctl.infra import events_target, placeholders, playback_edge
from videoctl.infra.model import Desired, Kind, SecretRef
from videoctl.settings import FIELDS, Settings

ROLES = "iam/roles.json"
LOG_GROUP = "logs/video_log_group.json"
COMPUTE_ENV = "batch/video_compute_env.json"
JOB_QUEUE = "batch/job_queue.json"
JOB_DEFINITION = "batch/job_definition.json"
DLQ = "sqs/delete_r2_dlq.json"
QUEUE = "sqs/delete_r2_queue.json"
FUNCTION = "lambda/delete_r2_function.json"
EVENT_SOURCE = "lambda/delete_r2_event_source.json"
CORS = "r2/cors.json"

#: The one inline policy each role carries; a second one is drift.
INLINE_POLICY_NAME = "videoctl"
#: Lambda environment variables ending in this name an SSM parameter (the handler's contract).
PARAMETER_SUFFIX = "_PARAMETER"

#: One parsed document by its path under infra/json ("batch/job_queue.json"); a ConfigError
#: naming the file if it is missing or not JSON.
Read = Callable[[str], Any]


@dataclass(frozen=True)
class Documents:
    """Every document with its placeholders filled; ``sources`` maps a part to its file."""

    roles: list[dict[str, Any]]
    log_group: dict[str, Any]
    compute_env: dict[str, Any]
    job_queue: dict[str, Any]
    job_definition: dict[str, Any]
    dlq: dict[str, Any]
    queue: dict[str, Any]
    function: dict[str, Any]
    event_source: dict[str, Any]
    account_id: str
    region: str
    #: The events' bus or topic, only when VIDEOCTL_EVENTS_TARGET names one (infra/events_target.py).
    event_bus: dict[str, Any] | None = None
    event_topic: dict[str, Any] | None = None
    #: The R2 bucket's CORS configuration (PutBucketCors' CORSConfiguration); None when not managed.
    cors: dict[str, Any] | None = None
    #: Why the CORS rules are not managed with these settings (then ``cors`` is None).
    cors_skipped: str | None = None


def cors_skip_reason(settings: Settings) -> str | None:
    """Why the bucket's CORS rules are left alone, or None when they are managed.

    An existing setup that never asked for browser uploads keeps working:
    without VIDEOCTL_UPLOAD_ORIGINS nothing is read from or sent to R2
    (whose API token may not even be allowed to read the rules).
    """
    if settings.r2_bucket is None:
        return "R2_BUCKET is not set: there is no R2 bucket whose CORS rules to manage"
    if settings.upload_origins is None:
        return ("VIDEOCTL_UPLOAD_ORIGINS is not set: the bucket's CORS rules are left as they are; "
                "set it to the web app's origins to let browsers upload")
    return None


def load(read: Read, settings: Settings, account_id: str) -> Documents:
    known = placeholders.values(settings, account_id)
    problems: list[str] = []

    def doc(relative: str) -> Any:
        """Filled document; placeholder problems are collected so one error lists them all."""
        raw = read(relative)
        try:
            return placeholders.fill(raw, known, f"infra/json/{relative}")
        except ConfigError as exc:
            problems.append(exc.message)
            return raw

    manifest = doc(ROLES)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("roles"), list):
        raise ConfigError(f"infra/json/{ROLES} must be an object with a list under \"roles\"")
    roles = []
    for entry in manifest["roles"]:
        missing = [k for k in ("RoleName", "Trust", "UsedBy") if not entry.get(k)]
        if missing:
            raise ConfigError(f"infra/json/{ROLES}: a role lacks {', '.join(missing)}")
        role = dict(entry)
        role["AssumeRolePolicyDocument"] = doc(f"iam/{entry['Trust']}")
        role["InlinePolicyDocument"] = doc(f"iam/{entry['InlinePolicy']}") if entry.get("InlinePolicy") else None
        roles.append(role)
    cors_skipped = cors_skip_reason(settings)
    if cors_skipped:
        read(CORS)  # read all the same: a missing or broken file is a mistake whatever the settings
    event_bus, event_topic = events_target.load(doc, settings, account_id)
    loaded = Documents(
        roles=roles,
        log_group=doc(LOG_GROUP),
        compute_env=doc(COMPUTE_ENV),
        job_queue=doc(JOB_QUEUE),
        job_definition=doc(JOB_DEFINITION),
        dlq=doc(DLQ),
        queue=doc(QUEUE),
        function=doc(FUNCTION),
        event_source=doc(EVENT_SOURCE),
        account_id=account_id,
        region=settings.aws_region,
        cors=None if cors_skipped else doc(CORS),
        cors_skipped=cors_skipped,
        event_bus=event_bus,
        event_topic=event_topic,
    )
    if problems:
        raise ConfigError("; ".join(problems), hint="set the variables named above (videoctl config show lists them)")
    return loaded


# ---------------------------------------------------------------- desired resources


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 of the deployment package."""
    return b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def queue_arn(docs: Documents, name: str) -> str:
    return f"arn:aws:sqs:{docs.region}:{docs.account_id}:{name}"


def function_arn(docs: Documents, name: str) -> str:
    return f"arn:aws:lambda:{docs.region}:{docs.account_id}:function:{name}"


def desired_resources(docs: Documents, settings: Settings, lambda_zip: bytes | None) -> list[Desired]:
    """Every resource setup manages, in creation order.

    ``lambda_zip`` None leaves the function's code out of the comparison.
    ``settings`` only tells whether a missing SSM parameter's value is at
    hand; the value itself is read by apply at the last moment.
    """
    out: list[Desired] = []
    for role in docs.roles:
        spec = {
            "RoleName": role["RoleName"],
            "Description": role.get("Description", ""),
            "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
            "InlinePolicies": {INLINE_POLICY_NAME: role["InlinePolicyDocument"]} if role["InlinePolicyDocument"] else {},
            "ManagedPolicyArns": sorted(role.get("ManagedPolicyArns") or []),
        }
        out.append(Desired(Kind.IAM_ROLE, role["RoleName"], spec, f"infra/json/{ROLES}", frozenset({role["UsedBy"]})))
    out.append(Desired(Kind.LOG_GROUP, docs.log_group["logGroupName"], docs.log_group,
                       f"infra/json/{LOG_GROUP}", frozenset({"batch"})))
    out.extend(ssm_parameters(docs, settings))
    out.append(Desired(Kind.SQS_QUEUE, docs.dlq["QueueName"], docs.dlq, f"infra/json/{DLQ}", frozenset({"lambda"})))
    out.append(Desired(Kind.SQS_QUEUE, docs.queue["QueueName"], docs.queue, f"infra/json/{QUEUE}",
                       frozenset({"lambda"})))
    out.append(Desired(Kind.COMPUTE_ENVIRONMENT, docs.compute_env["computeEnvironmentName"], docs.compute_env,
                       f"infra/json/{COMPUTE_ENV}", frozenset({"batch"})))
    out.append(Desired(Kind.JOB_QUEUE, docs.job_queue["jobQueueName"], docs.job_queue,
                       f"infra/json/{JOB_QUEUE}", frozenset({"batch"})))
    out.append(Desired(Kind.JOB_DEFINITION, docs.job_definition["jobDefinitionName"], docs.job_definition,
                       f"infra/json/{JOB_DEFINITION}", frozenset({"batch", "jobdef"})))
    function = dict(docs.function)
    if lambda_zip is not None:
        function["ZipFile"] = lambda_zip
        function["CodeSha256"] = code_sha256(lambda_zip)
    out.append(Desired(Kind.LAMBDA_FUNCTION, function["FunctionName"], function, f"infra/json/{FUNCTION}",
                       frozenset({"lambda"})))
    mapping = dict(docs.event_source)
    mapping["FunctionArn"] = function_arn(docs, mapping["FunctionName"])
    name = f"sqs:{mapping['EventSourceArn'].rsplit(':', 1)[-1]} → lambda:{mapping['FunctionName']}"
    out.append(Desired(Kind.EVENT_SOURCE_MAPPING, name, mapping, f"infra/json/{EVENT_SOURCE}", frozenset({"lambda"})))
    out += events_target.desired(docs.event_bus, docs.event_topic, region=docs.region, account_id=docs.account_id)
    out.append(Desired(Kind.R2_CORS, settings.r2_bucket or "(no bucket)", docs.cors or {}, f"infra/json/{CORS}",
                       frozenset({"r2"}), skipped=docs.cors_skipped))
    out.append(playback_edge.desired(settings))
    return out


def ssm_parameters(docs: Documents, settings: Settings) -> list[Desired]:
    """The SSM parameters the job definition's secrets and the Lambda's *_PARAMETER variables name.

    Each value comes from the operator's setting of the same variable (so
    ``DATABASE_URL`` fills ``PREFIX/DATABASE_URL``); secrets are SecureString,
    plain settings (bucket, endpoint) String.
    """
    wanted: dict[str, tuple[str, set[str]]] = {}
    for secret in docs.job_definition.get("containerProperties", {}).get("secrets", []):
        value_from = str(secret.get("valueFrom", ""))
        if ":parameter/" in value_from:
            name = "/" + value_from.split(":parameter/", 1)[1]
            wanted.setdefault(name, (secret["name"], set()))[1].add("batch")
    for var, value in docs.function.get("Environment", {}).get("Variables", {}).items():
        if var.endswith(PARAMETER_SUFFIX):
            wanted.setdefault(str(value), (var[: -len(PARAMETER_SUFFIX)], set()))[1].add("lambda")
    out = []
    for name, (env, groups) in wanted.items():
        spec_field = next((f for f in FIELDS if env in f.env), None)
        spec = {
            "Name": name,
            "Type": "SecureString" if spec_field is None or spec_field.secret else "String",
            "Value": SecretRef(env, spec_field.name if spec_field else ""),
            "ValueAvailable": spec_field is not None and getattr(settings, spec_field.name, None) is not None,
        }
        out.append(Desired(Kind.SSM_PARAMETER, name, spec, f"infra/json/{JOB_DEFINITION} secrets", frozenset(groups)))
    return out
