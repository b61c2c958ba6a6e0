"""``plan(desired, live) -> list[PlanItem]``: what differs and which calls would fix it. Pure.

No boto3 here: ``live`` is plain data read beforehand by
:mod:`videoctl.infra.live`, and the result is plain data that
apply runs and the command prints. So every rule below is unit-tested
without AWS, and ``verify`` and ``setup --dry-run`` print exactly what
``setup`` would do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from videoctl.infra.compare import diff, policy_diff, same
from videoctl.infra.events_target import plan_event_bus, plan_topic
from videoctl.infra.model import ORDER, Action, Desired, Diff, Kind, PlanItem, SecretRef, Status
from videoctl.infra.playback_edge import plan_playback_edge

Live = Mapping[tuple[Kind, str], dict[str, Any] | None]


def plan(desired: list[Desired], live: Live) -> list[PlanItem]:
    items = [_skipped(d) if d.skipped else _PLANNERS[d.kind](d, live.get(d.key)) for d in desired]
    return sorted(items, key=lambda item: ORDER[item.kind])  # stable: document order within a kind


def _skipped(d: Desired) -> PlanItem:
    """A resource these settings leave alone: a row that says why, nothing read, nothing to do."""
    return PlanItem(d.kind, d.name, Status.SKIPPED, source=d.source, note=d.skipped)


def _item(d: Desired, live: Any, diffs: list[Diff], actions: list[Action], manual: list[str] = ()) -> PlanItem:
    status = Status.MISSING if live is None else Status.DRIFT if diffs or manual else Status.OK
    return PlanItem(d.kind, d.name, status, tuple(diffs), tuple(actions), tuple(manual), d.source, _ref(live))


_REF_KEYS = ("jobDefinitionArn", "computeEnvironmentArn", "jobQueueArn", "FunctionArn", "Arn", "QueueUrl", "arn", "Name")


def _ref(live: Any) -> str | None:
    if not isinstance(live, dict):
        return None
    if "UUID" in live:
        return str(live["UUID"])
    return next((str(live[k]) for k in _REF_KEYS if k in live), None)


# ---------------------------------------------------------------- IAM


def plan_role(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    spec, name = d.spec, d.name
    trust = json.dumps(spec["AssumeRolePolicyDocument"])
    if live is None:
        actions = [Action("iam", "create_role", {"RoleName": name, "AssumeRolePolicyDocument": trust,
                                                 "Description": spec["Description"]}, f"create role {name}")]
        actions += _inline_puts(name, spec["InlinePolicies"])
        actions += [Action("iam", "attach_role_policy", {"RoleName": name, "PolicyArn": arn}, f"attach {arn}")
                    for arn in spec["ManagedPolicyArns"]]
        return _item(d, live, [], actions)

    diffs: list[Diff] = []
    actions: list[Action] = []
    trust_diffs = policy_diff(spec["AssumeRolePolicyDocument"], live["AssumeRolePolicyDocument"], "AssumeRolePolicyDocument")
    if trust_diffs:
        diffs += trust_diffs
        actions.append(Action("iam", "update_assume_role_policy", {"RoleName": name, "PolicyDocument": trust},
                              "replace the trust policy"))
    if spec["Description"] != live.get("Description", ""):
        diffs.append(Diff("Description", live.get("Description"), spec["Description"]))
        actions.append(Action("iam", "update_role", {"RoleName": name, "Description": spec["Description"]},
                              "set the description"))
    for policy_name, document in spec["InlinePolicies"].items():
        have = live["InlinePolicies"].get(policy_name)
        changes = [Diff(f"InlinePolicies.{policy_name}", None, "present")] if have is None else \
            policy_diff(document, have, f"InlinePolicies.{policy_name}")
        if changes:
            diffs += changes
            actions += _inline_puts(name, {policy_name: document})
    for policy_name in sorted(set(live["InlinePolicies"]) - set(spec["InlinePolicies"])):
        diffs.append(Diff(f"InlinePolicies.{policy_name}", "present", None, "not in infra/json"))
        actions.append(Action("iam", "delete_role_policy", {"RoleName": name, "PolicyName": policy_name},
                               f"delete inline policy {policy_name}"))
    for arn in sorted(set(spec["ManagedPolicyArns"]) - set(live["ManagedPolicyArns"])):
        diffs.append(Diff("ManagedPolicyArns", None, arn))
        actions.append(Action("iam", "attach_role_policy", {"RoleName": name, "PolicyArn": arn}, f"attach {arn}"))
    for arn in sorted(set(live["ManagedPolicyArns"]) - set(spec["ManagedPolicyArns"])):
        diffs.append(Diff("ManagedPolicyArns", arn, None, "not in infra/json"))
        actions.append(Action("iam", "detach_role_policy", {"RoleName": name, "PolicyArn": arn}, f"detach {arn}"))
    return _item(d, live, diffs, actions)


def _inline_puts(role: str, policies: dict[str, Any]) -> list[Action]:
    return [Action("iam", "put_role_policy",
                   {"RoleName": role, "PolicyName": policy_name, "PolicyDocument": json.dumps(document)},
                   f"put inline policy {policy_name}") for policy_name, document in policies.items()]


# ---------------------------------------------------------------- logs and SSM


def plan_log_group(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    retention = d.spec.get("retentionInDays")
    put = Action("logs", "put_retention_policy", {"logGroupName": d.name, "retentionInDays": retention},
                 f"keep logs {retention} days")
    if live is None:
        actions = [Action("logs", "create_log_group", {"logGroupName": d.name}, f"create log group {d.name}")]
        return _item(d, live, [], actions + ([put] if retention else []))
    if retention and not same(retention, live.get("retentionInDays")):
        return _item(d, live, [Diff("retentionInDays", live.get("retentionInDays"), retention)], [put])
    return _item(d, live, [], [])


def plan_parameter(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    """Create a missing parameter from the operator's setting; never overwrite or read a value."""
    ref: SecretRef = d.spec["Value"]
    if live is None:
        if not d.spec.get("ValueAvailable"):
            return _item(d, live, [], [], [
                f"set {ref.env} where you run setup, or: aws ssm put-parameter --name {d.name} "
                f"--type {d.spec['Type']} --value …"])
        params = {"Name": d.name, "Type": d.spec["Type"], "Value": ref, "Overwrite": False}
        return _item(d, live, [], [Action("ssm", "put_parameter", params,
                                          f"put {d.spec['Type']} from {ref.env} (value not shown)")])
    if live.get("Type") != d.spec["Type"]:
        return _item(d, live, [Diff("Type", live.get("Type"), d.spec["Type"])], [], [
            f"{d.name} is {live.get('Type')}; delete it and rerun setup to recreate it as {d.spec['Type']} "
            "(setup never overwrites a value)"])
    return _item(d, live, [], [])


# ---------------------------------------------------------------- SQS


def sqs_attribute(value: Any) -> str:
    """The string SQS wants: true/false, numbers as text, RedrivePolicy as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _redrive(value: Any) -> Any:
    data = json.loads(value) if isinstance(value, str) else value
    if isinstance(data, dict) and "maxReceiveCount" in data:
        data = {**data, "maxReceiveCount": int(data["maxReceiveCount"])}
    return data


def plan_queue(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    attributes = {k: sqs_attribute(v) for k, v in d.spec.get("Attributes", {}).items()}
    if live is None:
        return _item(d, live, [], [Action("sqs", "create_queue", {"QueueName": d.name, "Attributes": attributes},
                                          f"create queue {d.name}")])
    have = live.get("Attributes", {})
    diffs, changed = [], {}
    for key, want in attributes.items():
        if key == "RedrivePolicy":
            differs = key not in have or _redrive(want) != _redrive(have[key])
            shown = (_redrive(have[key]) if key in have else None, _redrive(want))
        else:
            differs = not same(want, have.get(key))
            shown = (have.get(key), want)
        if differs:
            diffs.append(Diff(f"Attributes.{key}", *shown))
            changed[key] = want
    actions = [Action("sqs", "set_queue_attributes", {"QueueUrl": live["QueueUrl"], "Attributes": changed},
                      f"set {', '.join(sorted(changed))}")] if changed else []
    return _item(d, live, diffs, actions)


# ---------------------------------------------------------------- Batch


def plan_compute_env(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    spec = d.spec
    if live is None:
        return _item(d, live, [], [Action("batch", "create_compute_environment", spec,
                                          f"create {spec['computeResources']['type']} compute environment",
                                          wait="compute_environment")])
    diffs: list[Diff] = []
    manual: list[str] = []
    update: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    want_res, have_res = spec.get("computeResources", {}), live.get("computeResources", {})
    for key in ("type",):
        if not same(spec.get(key), live.get(key)):
            diffs.append(Diff(key, live.get(key), spec.get(key)))
            manual.append(f"{key} cannot change in place: delete the compute environment and rerun setup")
    if not same(want_res.get("type"), have_res.get("type")):
        diffs.append(Diff("computeResources.type", have_res.get("type"), want_res.get("type")))
        manual.append("computeResources.type cannot change in place (FARGATE ↔ FARGATE_SPOT): create a second "
                      "compute environment or delete this one and rerun setup")
    for key in ("state", "serviceRole"):
        if key in spec and not same(spec[key], live.get(key)):
            diffs.append(Diff(key, live.get(key), spec[key]))
            update[key] = spec[key]
    if "maxvCpus" in want_res and not same(want_res["maxvCpus"], have_res.get("maxvCpus")):
        diffs.append(Diff("computeResources.maxvCpus", have_res.get("maxvCpus"), want_res["maxvCpus"]))
        resources["maxvCpus"] = want_res["maxvCpus"]
    for key in ("subnets", "securityGroupIds"):  # sets: AWS does not keep the order
        if key in want_res and sorted(want_res[key]) != sorted(have_res.get(key) or []):
            diffs.append(Diff(f"computeResources.{key}", have_res.get(key), want_res[key]))
            resources[key] = want_res[key]
    if live.get("status") == "INVALID":
        diffs.append(Diff("status", "INVALID", "VALID", live.get("statusReason")))
        if not update and not resources:
            manual.append(f"the compute environment is INVALID: {live.get('statusReason')}")
    actions = []
    if update or resources:
        params = {"computeEnvironment": d.name, **update}
        if resources:
            params["computeResources"] = resources
        actions.append(Action("batch", "update_compute_environment", params,
                              f"update {', '.join([*update, *resources])}", wait="compute_environment"))
    return _item(d, live, diffs, actions, manual)


def plan_job_queue(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    spec = d.spec
    if live is None:
        return _item(d, live, [], [Action("batch", "create_job_queue", spec, "create the job queue",
                                          wait="job_queue")])
    diffs: list[Diff] = []
    update: dict[str, Any] = {}
    for key in ("state", "priority"):
        if key in spec and not same(spec[key], live.get(key)):
            diffs.append(Diff(key, live.get(key), spec[key]))
            update[key] = spec[key]

    def order(entries: Any) -> list[tuple[int, str]]:
        return sorted((int(e["order"]), e["computeEnvironment"]) for e in entries or [])

    if order(spec.get("computeEnvironmentOrder")) != order(live.get("computeEnvironmentOrder")):
        diffs.append(Diff("computeEnvironmentOrder", live.get("computeEnvironmentOrder"), spec["computeEnvironmentOrder"]))
        update["computeEnvironmentOrder"] = spec["computeEnvironmentOrder"]
    if "jobStateTimeLimitActions" in spec:
        changes = diff(spec["jobStateTimeLimitActions"], live.get("jobStateTimeLimitActions") or [],
                       "jobStateTimeLimitActions", exact=True)
        if changes:
            diffs += changes
            update["jobStateTimeLimitActions"] = spec["jobStateTimeLimitActions"]
    if live.get("status") == "INVALID":
        diffs.append(Diff("status", "INVALID", "VALID", live.get("statusReason")))
    actions = [Action("batch", "update_job_queue", {"jobQueue": d.name, **update},
                      f"update {', '.join(update)}", wait="job_queue")] if update else []
    manual = [f"the job queue is INVALID: {live.get('statusReason')}"] if live.get("status") == "INVALID" and not update else []
    return _item(d, live, diffs, actions, manual)


def _sorted_by(items: Any, key: str) -> Any:
    return sorted(items, key=lambda x: str(x.get(key))) if isinstance(items, list) else items


def normalize_job_definition(jd: dict[str, Any]) -> dict[str, Any]:
    """Order-free lists sorted, so a reordered environment is not drift."""
    out = dict(jd)
    container = dict(out.get("containerProperties") or {})
    for key, by in (("environment", "name"), ("secrets", "name"), ("resourceRequirements", "type")):
        if key in container:
            container[key] = _sorted_by(container[key], by)
    if container:
        out["containerProperties"] = container
    return out


def retry_strategy_diffs(want: Any, have: Any) -> list[Diff]:
    """Strict: the live retryStrategy must be exactly the document's, attempts 1, evaluateOnExit only EXIT."""
    diffs = diff(want or {}, have or {}, "retryStrategy", exact=True) if have is not None else \
        [Diff("retryStrategy", None, want)]
    have = have or {}
    attempts = have.get("attempts")
    notes = []
    if attempts not in (None, 1):
        notes.append(Diff("retryStrategy.attempts", attempts, 1, "Batch retries must stay off: scan-stuck resubmits"))
    for i, condition in enumerate(have.get("evaluateOnExit") or []):
        if str(condition.get("action", "")).upper() != "EXIT":
            notes.append(Diff(f"retryStrategy.evaluateOnExit[{i}].action", condition.get("action"), "EXIT",
                              "only EXIT is allowed"))
    # The policy notes replace the plain diffs of the same fields.
    noted = {n.field for n in notes}
    return notes + [x for x in diffs if x.field not in noted]


def plan_job_definition(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    if live is None:
        return _item(d, live, [], [Action("batch", "register_job_definition", d.spec,
                                          "register revision 1")])
    want, have = normalize_job_definition(d.spec), normalize_job_definition(live)
    want_rest = {k: v for k, v in want.items() if k != "retryStrategy"}
    diffs = retry_strategy_diffs(want.get("retryStrategy"), have.get("retryStrategy")) + diff(want_rest, have)
    revision = live.get("revision")
    actions = [Action("batch", "register_job_definition", d.spec,
                      f"register revision {revision + 1 if isinstance(revision, int) else 'N+1'} "
                      f"(revision {revision} differs)")] if diffs else []
    return _item(d, live, diffs, actions)


# ---------------------------------------------------------------- Lambda


_FUNCTION_CONFIG = ("Role", "Handler", "Runtime", "Timeout", "MemorySize", "Description")


def plan_function(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    spec = d.spec
    if live is None:
        if "ZipFile" not in spec:
            return _item(d, live, [], [], ["the deployment package could not be built; run setup from a checkout"])
        params = {k: v for k, v in spec.items() if k not in ("ZipFile", "CodeSha256")}
        params["Code"] = {"ZipFile": spec["ZipFile"]}
        return _item(d, live, [], [Action("lambda_", "create_function", params, "create the function with the "
                                          f"package {spec['CodeSha256'][:12]}…", wait="lambda")])
    diffs: list[Diff] = []
    actions: list[Action] = []
    code: dict[str, Any] = {}
    if "CodeSha256" in spec and spec["CodeSha256"] != live.get("CodeSha256"):
        diffs.append(Diff("CodeSha256", live.get("CodeSha256"), spec["CodeSha256"], "the handler or videoctl changed"))
        code["ZipFile"] = spec["ZipFile"]
    if "Architectures" in spec and spec["Architectures"] != live.get("Architectures", ["x86_64"]):
        diffs.append(Diff("Architectures", live.get("Architectures"), spec["Architectures"]))
        code["Architectures"] = spec["Architectures"]
        code.setdefault("ZipFile", spec.get("ZipFile"))
    if code:
        actions.append(Action("lambda_", "update_function_code", {"FunctionName": d.name, **code},
                              "upload the package", wait="lambda"))
    config: dict[str, Any] = {}
    for key in _FUNCTION_CONFIG:
        if key in spec and not same(spec[key], live.get(key, "" if key == "Description" else None)):
            diffs.append(Diff(key, live.get(key), spec[key]))
            config[key] = spec[key]
    want_env = (spec.get("Environment") or {}).get("Variables", {})
    have_env = (live.get("Environment") or {}).get("Variables", {})
    env_diffs = diff(want_env, have_env, "Environment.Variables", exact=True)
    if env_diffs:
        diffs += env_diffs
        config["Environment"] = {"Variables": want_env}
    if config:
        actions.append(Action("lambda_", "update_function_configuration", {"FunctionName": d.name, **config},
                              f"update {', '.join(config)}", wait="lambda"))
    manual = []
    if live.get("State") == "Failed" or live.get("LastUpdateStatus") == "Failed":
        diffs.append(Diff("State", live.get("State"), "Active", live.get("StateReason") or live.get("LastUpdateStatusReason")))
        if not actions:
            manual.append(f"the function is Failed: {live.get('StateReason') or live.get('LastUpdateStatusReason')}")
    return _item(d, live, diffs, actions, manual)


def _mapping_enabled(live: dict[str, Any]) -> bool:
    return live.get("State") in ("Enabled", "Enabling", "Updating", "Creating")


def plan_event_source(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    spec = d.spec
    params = {k: v for k, v in spec.items() if k != "FunctionArn"}
    if live is None:
        return _item(d, live, [], [Action("lambda_", "create_event_source_mapping", params,
                                          "connect the queue to the function")])
    diffs: list[Diff] = []
    update: dict[str, Any] = {}
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
        if key in spec and not same(spec[key], live.get(key)):
            diffs.append(Diff(key, live.get(key), spec[key]))
            update[key] = spec[key]
    if "FunctionResponseTypes" in spec and sorted(spec["FunctionResponseTypes"]) != sorted(live.get("FunctionResponseTypes") or []):
        diffs.append(Diff("FunctionResponseTypes", live.get("FunctionResponseTypes"), spec["FunctionResponseTypes"]))
        update["FunctionResponseTypes"] = spec["FunctionResponseTypes"]
    if "Enabled" in spec and spec["Enabled"] != _mapping_enabled(live):
        diffs.append(Diff("State", live.get("State"), "Enabled" if spec["Enabled"] else "Disabled"))
        update["Enabled"] = spec["Enabled"]
    actions = [Action("lambda_", "update_event_source_mapping", {"UUID": live["UUID"], **update},
                      f"update {', '.join(update)}")] if update else []
    return _item(d, live, diffs, actions)


# ---------------------------------------------------------------- R2


#: Set by :func:`videoctl.aws.r2_infra.read_bucket_cors` when the bucket itself does not exist.
BUCKET_MISSING = "BucketMissing"


def plan_cors(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    """PutBucketCors replaces every rule at once, so any difference puts the document's rules back."""
    rules = d.spec["CORSRules"]
    methods = sorted({m for rule in rules for m in rule.get("AllowedMethods", [])})
    origins = sorted({o for rule in rules for o in rule.get("AllowedOrigins", [])})
    who = "every origin" if "*" in origins else ", ".join(origins)
    put = Action("r2", "put_bucket_cors", {"Bucket": d.name, "CORSConfiguration": d.spec},
                 f"allow {'/'.join(methods)} from {who} (ETag exposed)")
    if live is None:
        return _item(d, live, [], [put])
    if live.get(BUCKET_MISSING):
        return PlanItem(d.kind, d.name, Status.MISSING, manual=(
            f"the bucket {d.name} does not exist at R2_ENDPOINT_URL: create it (Cloudflare dashboard, or "
            f"`wrangler r2 bucket create {d.name}`), then rerun setup",), source=d.source)
    diffs = cors_diffs(rules, live.get("CORSRules") or [])
    return _item(d, live, diffs, [replace(put, description=f"replace the CORS rules: {put.description}")]
                 if diffs else [])


def canonical_cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One rule in one spelling: sets of values sorted, header names lower-case (browsers compare them
    so), an absent list empty; the order of the rules themselves matters (the first match wins)."""
    out: dict[str, Any] = {
        "AllowedMethods": sorted(str(m) for m in rule.get("AllowedMethods") or []),
        "AllowedOrigins": sorted(str(o) for o in rule.get("AllowedOrigins") or []),
        "AllowedHeaders": sorted(str(h).lower() for h in rule.get("AllowedHeaders") or []),
        "ExposeHeaders": sorted(str(h).lower() for h in rule.get("ExposeHeaders") or []),
        "MaxAgeSeconds": rule.get("MaxAgeSeconds"),
    }
    if rule.get("ID"):
        out["ID"] = rule["ID"]
    return out


def cors_diffs(desired: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[Diff]:
    out: list[Diff] = []
    for i in range(max(len(desired), len(live))):
        path = f"CORSRules[{i}]"
        if i >= len(live):
            out.append(Diff(path, None, desired[i]))
        elif i >= len(desired):
            out.append(Diff(path, live[i], None, "not in infra/json"))
        else:
            out.extend(diff(canonical_cors_rule(desired[i]), canonical_cors_rule(live[i]), path, exact=True))
    return [_etag_note(x) for x in out]


def _etag_note(change: Diff) -> Diff:
    """Say why a missing ETag matters: it is the drift that breaks uploads in parts."""
    if change.field.endswith(".ExposeHeaders") and "etag" in (change.desired or []) \
            and "etag" not in (change.live or []):
        return replace(change, note="a browser uploading in parts must read each part's ETag")
    return change


_PLANNERS: dict[Kind, Callable[[Desired, Any], PlanItem]] = {
    Kind.IAM_ROLE: plan_role,
    Kind.LOG_GROUP: plan_log_group,
    Kind.SSM_PARAMETER: plan_parameter,
    Kind.SQS_QUEUE: plan_queue,
    Kind.COMPUTE_ENVIRONMENT: plan_compute_env,
    Kind.JOB_QUEUE: plan_job_queue,
    Kind.JOB_DEFINITION: plan_job_definition,
    Kind.LAMBDA_FUNCTION: plan_function,
    Kind.EVENT_SOURCE_MAPPING: plan_event_source,
    Kind.R2_CORS: plan_cors,
    Kind.EVENT_BUS: plan_event_bus,
    Kind.SNS_TOPIC: plan_topic,
    Kind.PLAYBACK_EDGE: plan_playback_edge,
}
