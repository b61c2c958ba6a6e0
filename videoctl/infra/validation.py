"""Our own checks of the documents, before any AWS call.

AWS would refuse some of these mistakes only halfway through a setup (and
moto accepts many of them), others it would accept and we would regret:
Batch retries on (scan-stuck is the only retry decider), a Fargate
vCPU/memory pair that never places, a delete queue that redelivers while the
Lambda is still working. Every problem names the file and the field; all of
them are reported at once.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from videoctl.domain.errors import InvalidInput
from videoctl.domain.sizing import FARGATE_MEMORY, SizingTable
from videoctl.infra import documents as d
from videoctl.infra import events_target, least_privilege
from videoctl.infra.documents import Documents

#: RegisterJobDefinition refuses a definition larger than this.
JOB_DEFINITION_MAX_BYTES = 24 * 1024
#: Batch: the minimum attempt timeout.
MIN_ATTEMPT_TIMEOUT_S = 60
#: Batch: retryStrategy.attempts range, and at most 5 evaluateOnExit conditions.
ATTEMPTS_RANGE = (1, 10)
MAX_EVALUATE_ON_EXIT = 5
#: Batch jobStateTimeLimitActions.maxTimeSeconds range (10 min … 24 h).
STATE_TIME_LIMIT_RANGE = (600, 86_400)
#: AWS's advice for SQS event sources: visibility timeout ≥ 6 × the function timeout.
VISIBILITY_FACTOR = 6

#: Fargate ephemeral storage range in GiB.
FARGATE_EPHEMERAL_GIB = (21, 200)
#: EC2: at least one whole vCPU and 4 MiB of memory.
EC2_MIN_VCPUS = 1
EC2_MIN_MEMORY_MIB = 4

LAMBDA_TIMEOUT_RANGE = (1, 900)
LAMBDA_MEMORY_RANGE = (128, 10_240)
SQS_VISIBILITY_RANGE = (0, 43_200)
SQS_RETENTION_RANGE = (60, 1_209_600)
MAX_RECEIVE_RANGE = (1, 1000)
#: S3's CORS limits (R2 takes the same API): at most 100 rules, these methods, one '*' per
#: origin or header, an ID of at most 255 characters; R2 caches a preflight at most a day.
CORS_MAX_RULES = 100
CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
CORS_RULE_KEYS = frozenset({"ID", "AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders",
                            "MaxAgeSeconds"})
CORS_MAX_ID = 255
CORS_MAX_AGE_RANGE = (1, 86_400)
LOG_RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, source: str, message: str) -> None:
        self.items.append(f"{source}: {message}")


def validate(docs: Documents, *, sizing: SizingTable | None = None) -> None:
    """Raise InvalidInput listing every problem, or return None. *sizing* is VIDEOCTL_SIZING's
    table: the compute environment must hold its largest container too."""
    problems = _Problems()
    check_job_definition(docs.job_definition, problems)
    check_job_queue(docs.job_queue, problems)
    check_compute_env(docs.compute_env, docs.job_definition, problems, sizing)
    check_lambda_and_queues(docs, problems)
    check_policies(docs, problems)
    if docs.cors is not None:
        check_cors(docs.cors, problems)
    for source, problem in events_target.problems(docs.event_bus, docs.event_topic):
        problems.add(f"infra/json/{source}", problem)
    retention = docs.log_group.get("retentionInDays")
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        problems.add(f"infra/json/{d.LOG_GROUP}", f"retentionInDays {retention} is not one CloudWatch Logs allows")
    if problems.items:
        count = len(problems.items)
        raise InvalidInput(
            f"infra/json has {count} problem{'s' if count > 1 else ''}: " + "; ".join(problems.items),
            hint="fix the documents (or the variables they use); nothing was sent to AWS",
        )


# ---------------------------------------------------------------- Batch


def check_job_definition(jd: dict[str, Any], problems: _Problems) -> None:
    src = f"infra/json/{d.JOB_DEFINITION}"
    size = len(json.dumps(jd, separators=(",", ":")).encode())
    if size > JOB_DEFINITION_MAX_BYTES:
        problems.add(src, f"the job definition is {size} bytes; AWS Batch allows at most {JOB_DEFINITION_MAX_BYTES} (24 KiB)")
    check_retry_strategy(jd.get("retryStrategy"), problems, src)

    timeout = (jd.get("timeout") or {}).get("attemptDurationSeconds")
    if not isinstance(timeout, int) or isinstance(timeout, bool):
        problems.add(src, "timeout.attemptDurationSeconds must be set (a whole number of seconds): "
                          "a hung encode must end and be rescheduled by scan-stuck")
    elif timeout < MIN_ATTEMPT_TIMEOUT_S:
        problems.add(src, f"timeout.attemptDurationSeconds is {timeout}; AWS Batch requires at least {MIN_ATTEMPT_TIMEOUT_S}")

    container = jd.get("containerProperties") or {}
    platforms = jd.get("platformCapabilities") or ["EC2"]
    if platforms not in (["FARGATE"], ["EC2"]):
        problems.add(src, f"platformCapabilities must be [\"FARGATE\"] or [\"EC2\"], got {platforms}")
        return
    check_resources(container, platforms[0], problems, src)
    if platforms == ["FARGATE"]:
        gib = (container.get("ephemeralStorage") or {}).get("sizeInGiB")
        if gib is not None and not FARGATE_EPHEMERAL_GIB[0] <= gib <= FARGATE_EPHEMERAL_GIB[1]:
            problems.add(src, f"ephemeralStorage.sizeInGiB {gib} is outside Fargate's {FARGATE_EPHEMERAL_GIB[0]}–"
                              f"{FARGATE_EPHEMERAL_GIB[1]}")
        if not container.get("executionRoleArn"):
            problems.add(src, "Fargate needs containerProperties.executionRoleArn (image pull, secrets, logs)")
    else:
        for key in ("networkConfiguration", "fargatePlatformConfiguration", "ephemeralStorage"):
            if key in container:
                problems.add(src, f"containerProperties.{key} is for Fargate only; remove it for EC2")

    parameters = jd.get("parameters") or {}
    for arg in container.get("command") or []:
        if isinstance(arg, str) and arg.startswith("Ref::") and arg[5:] not in parameters:
            problems.add(src, f"command uses {arg} but parameters has no {arg[5:]!r} default")
    for secret in container.get("secrets") or []:
        if ":ssm:" not in str(secret.get("valueFrom", "")) or ":parameter/" not in str(secret.get("valueFrom", "")):
            problems.add(src, f"secret {secret.get('name')!r} must come from an SSM parameter ARN "
                              f"(arn:aws:ssm:REGION:ACCOUNT:parameter/…), got {secret.get('valueFrom')!r}")


def check_retry_strategy(retry: Any, problems: _Problems, src: str) -> None:
    """AWS's limits, then ours: exactly one attempt, and evaluateOnExit may only say EXIT."""
    if not isinstance(retry, dict):
        problems.add(src, "retryStrategy must be set to {\"attempts\": 1}: Batch retries stay off, "
                          "scan-stuck decides what runs again")
        return
    attempts = retry.get("attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not ATTEMPTS_RANGE[0] <= attempts <= ATTEMPTS_RANGE[1]:
        problems.add(src, f"retryStrategy.attempts must be a whole number from {ATTEMPTS_RANGE[0]} to "
                          f"{ATTEMPTS_RANGE[1]} (AWS Batch), got {attempts!r}")
    elif attempts != 1:
        problems.add(src, f"retryStrategy.attempts is {attempts}; videoctl requires 1: a second Batch attempt "
                          "would race the resubmission scan-stuck makes")
    conditions = retry.get("evaluateOnExit") or []
    if len(conditions) > MAX_EVALUATE_ON_EXIT:
        problems.add(src, f"retryStrategy.evaluateOnExit has {len(conditions)} entries; AWS allows {MAX_EVALUATE_ON_EXIT}")
    for i, condition in enumerate(conditions):
        action = str(condition.get("action", "")).upper()
        if action not in ("RETRY", "EXIT"):
            problems.add(src, f"retryStrategy.evaluateOnExit[{i}].action must be RETRY or EXIT, got {condition.get('action')!r}")
        elif action != "EXIT":
            problems.add(src, f"retryStrategy.evaluateOnExit[{i}].action is RETRY; videoctl allows only EXIT")


def check_resources(container: dict[str, Any], platform: str, problems: _Problems, src: str) -> None:
    found: dict[str, str] = {}
    for req in container.get("resourceRequirements") or []:
        found[str(req.get("type"))] = str(req.get("value"))
    vcpu_raw, memory_raw = found.get("VCPU"), found.get("MEMORY")
    if vcpu_raw is None or memory_raw is None:
        problems.add(src, "containerProperties.resourceRequirements must give both VCPU and MEMORY")
        return
    try:
        vcpu = Decimal(vcpu_raw)
        memory = Decimal(memory_raw)
    except InvalidOperation:
        problems.add(src, f"resourceRequirements values must be numbers, got VCPU {vcpu_raw!r}, MEMORY {memory_raw!r}")
        return
    if platform == "FARGATE":
        valid = FARGATE_MEMORY.get(vcpu.normalize()) if vcpu > 0 else None
        if valid is None:
            problems.add(src, f"Fargate VCPU must be one of {', '.join(str(v) for v in FARGATE_MEMORY)}, got {vcpu_raw}")
        elif memory != memory.to_integral_value() or int(memory) not in valid:
            problems.add(src, f"Fargate does not offer MEMORY {memory_raw} MiB with {vcpu_raw} vCPU; "
                              f"valid: {_choices(valid)} MiB")
    else:
        if vcpu != vcpu.to_integral_value() or vcpu < EC2_MIN_VCPUS:
            problems.add(src, f"EC2 VCPU must be a whole number ≥ {EC2_MIN_VCPUS}, got {vcpu_raw}")
        if memory != memory.to_integral_value() or memory < EC2_MIN_MEMORY_MIB:
            problems.add(src, f"EC2 MEMORY must be a whole number of MiB ≥ {EC2_MIN_MEMORY_MIB}, got {memory_raw}")


def check_job_queue(queue: dict[str, Any], problems: _Problems) -> None:
    src = f"infra/json/{d.JOB_QUEUE}"
    priority = queue.get("priority")
    if not isinstance(priority, int) or not 0 <= priority <= 1000:
        problems.add(src, f"priority must be a whole number from 0 to 1000, got {priority!r}")
    order = queue.get("computeEnvironmentOrder") or []
    if not 1 <= len(order) <= 3:
        problems.add(src, f"computeEnvironmentOrder must list 1 to 3 compute environments, got {len(order)}")
    limits = queue.get("jobStateTimeLimitActions")
    if not limits:
        problems.add(src, "jobStateTimeLimitActions must cancel jobs stuck RUNNABLE, or they wait forever")
    for i, limit in enumerate(limits or []):
        where = f"jobStateTimeLimitActions[{i}]"
        if limit.get("state") != "RUNNABLE":
            problems.add(src, f"{where}.state must be RUNNABLE (the only state Batch supports), got {limit.get('state')!r}")
        if limit.get("action") != "CANCEL":
            problems.add(src, f"{where}.action must be CANCEL (the only action Batch supports), got {limit.get('action')!r}")
        seconds = limit.get("maxTimeSeconds")
        low, high = STATE_TIME_LIMIT_RANGE
        if not isinstance(seconds, int) or not low <= seconds <= high:
            problems.add(src, f"{where}.maxTimeSeconds must be {low}–{high} s, got {seconds!r}")
        if not str(limit.get("reason") or "").strip():
            problems.add(src, f"{where}.reason must say why the job was cancelled")


def check_compute_env(ce: dict[str, Any], jd: dict[str, Any], problems: _Problems,
                      sizing: SizingTable | None = None) -> None:
    src = f"infra/json/{d.COMPUTE_ENV}"
    resources = ce.get("computeResources") or {}
    ce_type = resources.get("type")
    platform = (jd.get("platformCapabilities") or ["EC2"])[0]
    fargate_types = ("FARGATE", "FARGATE_SPOT")
    if (platform == "FARGATE") != (ce_type in fargate_types):
        problems.add(src, f"computeResources.type {ce_type} cannot run a job definition for {platform}")
    max_vcpus = resources.get("maxvCpus")
    if not isinstance(max_vcpus, int) or max_vcpus < 1:
        problems.add(src, f"computeResources.maxvCpus must be a whole number ≥ 1, got {max_vcpus!r}")
    else:
        job_vcpu = next((r.get("value") for r in (jd.get("containerProperties") or {}).get("resourceRequirements") or []
                         if r.get("type") == "VCPU"), None)
        try:
            if job_vcpu is not None and Decimal(str(job_vcpu)) > max_vcpus:
                problems.add(src, f"computeResources.maxvCpus {max_vcpus} is below one job's {job_vcpu} vCPU: "
                                  "no job could ever leave RUNNABLE")
        except InvalidOperation:
            pass  # reported by check_resources
        if sizing is not None and sizing.largest_vcpus > max_vcpus:
            problems.add(src, f"computeResources.maxvCpus {max_vcpus} is below the {sizing.largest_vcpus:g} vCPU "
                              "VIDEOCTL_SIZING gives the largest sources: their jobs could never leave RUNNABLE")
    if ce_type in fargate_types:
        subnets = resources.get("subnets") or []
        groups = resources.get("securityGroupIds") or []
        if not 1 <= len(subnets) <= 16:
            problems.add(src, f"Fargate needs 1 to 16 subnets, got {len(subnets)}")
        if not 1 <= len(groups) <= 5:
            problems.add(src, f"Fargate needs 1 to 5 security groups, got {len(groups)}")
        for key in ("minvCpus", "instanceTypes", "instanceRole", "desiredvCpus"):
            if key in resources:
                problems.add(src, f"computeResources.{key} does not apply to Fargate; remove it")


# ---------------------------------------------------------------- Lambda and SQS


def check_lambda_and_queues(docs: Documents, problems: _Problems) -> None:
    fn, fn_src = docs.function, f"infra/json/{d.FUNCTION}"
    timeout, memory = fn.get("Timeout"), fn.get("MemorySize")
    if not isinstance(timeout, int) or not LAMBDA_TIMEOUT_RANGE[0] <= timeout <= LAMBDA_TIMEOUT_RANGE[1]:
        problems.add(fn_src, f"Timeout must be {LAMBDA_TIMEOUT_RANGE[0]}–{LAMBDA_TIMEOUT_RANGE[1]} s, got {timeout!r}")
        timeout = None
    if not isinstance(memory, int) or not LAMBDA_MEMORY_RANGE[0] <= memory <= LAMBDA_MEMORY_RANGE[1]:
        problems.add(fn_src, f"MemorySize must be {LAMBDA_MEMORY_RANGE[0]}–{LAMBDA_MEMORY_RANGE[1]} MiB, got {memory!r}")

    queue_src = f"infra/json/{d.QUEUE}"
    attrs = docs.queue.get("Attributes") or {}
    visibility = _int(attrs.get("VisibilityTimeout", 30))
    if visibility is None or not SQS_VISIBILITY_RANGE[0] <= visibility <= SQS_VISIBILITY_RANGE[1]:
        problems.add(queue_src, f"VisibilityTimeout must be 0–43200 s, got {attrs.get('VisibilityTimeout')!r}")
    elif timeout is not None and visibility < VISIBILITY_FACTOR * timeout:
        problems.add(queue_src, f"VisibilityTimeout {visibility} s is below {VISIBILITY_FACTOR} × the Lambda "
                                f"Timeout {timeout} s = {VISIBILITY_FACTOR * timeout} s; messages would be "
                                "redelivered while still being processed")
    for src, doc in ((queue_src, docs.queue), (f"infra/json/{d.DLQ}", docs.dlq)):
        retention = _int((doc.get("Attributes") or {}).get("MessageRetentionPeriod", 345_600))
        if retention is None or not SQS_RETENTION_RANGE[0] <= retention <= SQS_RETENTION_RANGE[1]:
            problems.add(src, "MessageRetentionPeriod must be 60–1209600 s")
    queue_retention = _int(attrs.get("MessageRetentionPeriod", 345_600)) or 0
    dlq_retention = _int((docs.dlq.get("Attributes") or {}).get("MessageRetentionPeriod", 345_600)) or 0
    if dlq_retention < queue_retention:
        problems.add(f"infra/json/{d.DLQ}", "MessageRetentionPeriod must not be shorter than the source queue's: "
                                            "a standard queue keeps the original enqueue time, so messages would "
                                            "expire on arrival in the DLQ")

    redrive = attrs.get("RedrivePolicy")
    if not isinstance(redrive, dict):
        problems.add(queue_src, "RedrivePolicy must send failing messages to the dead-letter queue")
    else:
        count = redrive.get("maxReceiveCount")
        if not isinstance(count, int) or not MAX_RECEIVE_RANGE[0] <= count <= MAX_RECEIVE_RANGE[1]:
            problems.add(queue_src, f"RedrivePolicy.maxReceiveCount must be 1–1000, got {count!r}")
        dlq_arn = d.queue_arn(docs, docs.dlq.get("QueueName", ""))
        if redrive.get("deadLetterTargetArn") != dlq_arn:
            problems.add(queue_src, f"RedrivePolicy.deadLetterTargetArn must be the DLQ {dlq_arn}, "
                                    f"got {redrive.get('deadLetterTargetArn')!r}")

    esm, esm_src = docs.event_source, f"infra/json/{d.EVENT_SOURCE}"
    if "ReportBatchItemFailures" not in (esm.get("FunctionResponseTypes") or []):
        problems.add(esm_src, "FunctionResponseTypes must include ReportBatchItemFailures: the handler reports "
                              "failed records one by one")
    if esm.get("EventSourceArn") != d.queue_arn(docs, docs.queue.get("QueueName", "")):
        problems.add(esm_src, "EventSourceArn must be the delete queue of infra/json/" + d.QUEUE)
    if esm.get("FunctionName") != fn.get("FunctionName"):
        problems.add(esm_src, "FunctionName must be the function of infra/json/" + d.FUNCTION)
    batch = esm.get("BatchSize", 10)
    if not isinstance(batch, int) or not 1 <= batch <= 10_000:
        problems.add(esm_src, f"BatchSize must be 1–10000, got {batch!r}")
    elif batch > 10 and not esm.get("MaximumBatchingWindowInSeconds"):
        problems.add(esm_src, "BatchSize above 10 needs MaximumBatchingWindowInSeconds ≥ 1 (SQS)")


# ---------------------------------------------------------------- R2


def check_cors(cors: Any, problems: _Problems) -> None:
    """S3's limits (moto keeps only some), and ours: browsers may PUT, and read each part's ETag."""
    src = f"infra/json/{d.CORS}"
    rules = cors.get("CORSRules") if isinstance(cors, dict) else None
    if not isinstance(rules, list) or not rules:
        problems.add(src, "must be {\"CORSRules\": [ … ]} with at least one rule")
        return
    if len(rules) > CORS_MAX_RULES:
        problems.add(src, f"has {len(rules)} rules; S3 allows at most {CORS_MAX_RULES}")
    if extra := sorted(set(cors) - {"CORSRules"}):
        problems.add(src, f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(extra)} (only CORSRules)")
    puts = 0
    for i, rule in enumerate(rules):
        where = f"CORSRules[{i}]"
        if not isinstance(rule, dict):
            problems.add(src, f"{where} must be an object")
            continue
        if extra := sorted(set(rule) - CORS_RULE_KEYS):
            problems.add(src, f"{where} has unknown field{'s' if len(extra) > 1 else ''} {', '.join(extra)} "
                              f"(known: {', '.join(sorted(CORS_RULE_KEYS))})")
        for key in ("AllowedMethods", "AllowedOrigins", "AllowedHeaders", "ExposeHeaders"):
            required = key in ("AllowedMethods", "AllowedOrigins")
            strings = _strings(rule.get(key))
            if (key in rule or required) and (strings is None or (required and not strings)):
                problems.add(src, f"{where}.{key} must be a list of {'one or more ' if required else ''}strings")
        methods = _strings(rule.get("AllowedMethods")) or []
        if bad := [m for m in methods if m not in CORS_METHODS]:
            problems.add(src, f"{where}.AllowedMethods: {', '.join(map(repr, bad))} "
                              f"{'is' if len(bad) == 1 else 'are'} not among {', '.join(CORS_METHODS)}")
        for key in ("AllowedOrigins", "AllowedHeaders"):
            for value in _strings(rule.get(key)) or []:
                if value.count("*") > 1:
                    problems.add(src, f"{where}.{key}: {value!r} has more than one '*'")
        exposed = _strings(rule.get("ExposeHeaders")) or []
        if "PUT" in methods:
            puts += 1
            if "etag" not in {h.lower() for h in exposed}:
                problems.add(src, f"{where} allows PUT but does not expose ETag: a browser uploading in parts "
                                  "must read each part's ETag to complete the upload")
        age = rule.get("MaxAgeSeconds")
        low, high = CORS_MAX_AGE_RANGE
        if not isinstance(age, int) or isinstance(age, bool) or not low <= age <= high:
            problems.add(src, f"{where}.MaxAgeSeconds must be a whole number from {low} to {high} s, got {age!r}: "
                              "without it the browser asks again before every part")
        if "ID" in rule and (not isinstance(rule["ID"], str) or len(rule["ID"]) > CORS_MAX_ID):
            problems.add(src, f"{where}.ID must be a string of at most {CORS_MAX_ID} characters")
    if not puts:
        problems.add(src, "no rule allows PUT: browsers could not upload to the bucket")


def _strings(value: Any) -> list[str] | None:
    """A list of strings as it is, else None (absent, not a list, or holding something else)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


# ---------------------------------------------------------------- IAM


def check_policies(docs: Documents, problems: _Problems) -> None:
    """Least privilege in every trust and inline policy (see :mod:`least_privilege`); roles we point at are ours."""
    src = f"infra/json/{d.ROLES}"
    names = {role["RoleName"] for role in docs.roles}
    for role in docs.roles:
        for document, policy in ((role["Trust"], role["AssumeRolePolicyDocument"]),
                                 (role.get("InlinePolicy"), role.get("InlinePolicyDocument"))):
            if policy is None:
                continue
            where = f"infra/json/iam/{document}"
            if policy.get("Version") != "2012-10-17":
                problems.add(where, "Version must be \"2012-10-17\"")
            for message in least_privilege.policy_problems(policy):
                problems.add(where, message)
    # Every role ARN another document points at must be one we manage.
    for src_name, arns in (
        (d.JOB_DEFINITION, [(docs.job_definition.get("containerProperties") or {}).get(k)
                            for k in ("jobRoleArn", "executionRoleArn")]),
        (d.COMPUTE_ENV, [docs.compute_env.get("serviceRole")]),
        (d.FUNCTION, [docs.function.get("Role")]),
    ):
        for arn in arns:
            if arn and arn.rsplit("/", 1)[-1] not in names:
                problems.add(f"infra/json/{src_name}", f"role {arn} is not one of the roles in {src}")


def _choices(valid: tuple[int, ...]) -> str:
    if len(valid) <= 3:
        return ", ".join(map(str, valid))
    return f"{valid[0]}–{valid[-1]} in steps of {valid[1] - valid[0]}"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
