"""Our checks of infra/json, before any AWS call (moto would accept most of these mistakes)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.unit.test_infra_documents import ACCOUNT, settings
from videoctl.domain.errors import InvalidInput
from videoctl.domain.sizing import DEFAULT_SIZING, parse_sizing
from videoctl.infra import files, validation
from videoctl.infra.validation import FARGATE_MEMORY


@pytest.fixture(scope="module")
def docs():
    return files.load(settings(), ACCOUNT)


def problems_of(docs, **changes) -> str:
    with pytest.raises(InvalidInput) as err:
        validation.validate(replace(docs, **changes))
    return err.value.message


def with_jd(docs, mutate):
    jd = copy.deepcopy(docs.job_definition)
    mutate(jd)
    return jd


def set_resources(jd, vcpu, memory, platform="FARGATE"):
    jd["platformCapabilities"] = [platform]
    jd["containerProperties"]["resourceRequirements"] = [{"type": "VCPU", "value": vcpu},
                                                         {"type": "MEMORY", "value": memory}]


def test_shipped_documents_pass(docs):
    validation.validate(docs)


@pytest.mark.parametrize(("retry", "expected"), [
    ({"attempts": 3}, "retryStrategy.attempts is 3; videoctl requires 1"),
    ({"attempts": 0}, "from 1 to 10 (AWS Batch), got 0"),
    ({"attempts": 11}, "from 1 to 10 (AWS Batch), got 11"),
    ({"attempts": "1"}, "from 1 to 10 (AWS Batch), got '1'"),
    ({"attempts": 1, "evaluateOnExit": [{"onExitCode": "137", "action": "RETRY"}]}, "videoctl allows only EXIT"),
    ({"attempts": 1, "evaluateOnExit": [{"onExitCode": "1", "action": "RESTART"}]}, "must be RETRY or EXIT"),
    ({"attempts": 1, "evaluateOnExit": [{"onExitCode": str(i), "action": "EXIT"} for i in range(6)]}, "AWS allows 5"),
    (None, "retryStrategy must be set"),
])
def test_retry_strategy(docs, retry, expected):
    jd = with_jd(docs, lambda jd: jd.update(retryStrategy=retry) if retry else jd.pop("retryStrategy"))
    message = problems_of(docs, job_definition=jd)
    assert expected in message and "infra/json/batch/job_definition.json" in message


def test_exit_only_evaluate_on_exit_is_allowed(docs):
    jd = with_jd(docs, lambda jd: jd.update(retryStrategy={"attempts": 1, "evaluateOnExit": [
        {"onExitCode": "*", "action": "exit"}]}))
    validation.validate(replace(docs, job_definition=jd))


def test_job_definition_size_limit(docs):
    big = [{"name": f"PAD_{i}", "value": "x" * 200} for i in range(130)]
    jd = with_jd(docs, lambda jd: jd["containerProperties"]["environment"].extend(big))
    assert "AWS Batch allows at most 24576 (24 KiB)" in problems_of(docs, job_definition=jd)


@pytest.mark.parametrize(("timeout", "expected"), [
    ({"attemptDurationSeconds": 59}, "requires at least 60"),
    ({}, "timeout.attemptDurationSeconds must be set"),
])
def test_attempt_timeout(docs, timeout, expected):
    jd = with_jd(docs, lambda jd: jd.update(timeout=timeout))
    assert expected in problems_of(docs, job_definition=jd)


@pytest.mark.parametrize(("vcpu", "memories"), [(str(v), m) for v, m in FARGATE_MEMORY.items()])
def test_every_fargate_pair_in_the_table_is_accepted(docs, vcpu, memories):
    for memory in (memories[0], memories[-1]):
        jd = with_jd(docs, lambda jd, memory=memory: set_resources(jd, vcpu, str(memory)))
        validation.validate(replace(docs, job_definition=jd))


@pytest.mark.parametrize(("vcpu", "memory", "expected"), [
    ("4", "4096", "Fargate does not offer MEMORY 4096 MiB with 4 vCPU; valid: 8192–30720 in steps of 1024"),
    ("4", "31744", "valid: 8192–30720"),
    ("8", "20000", "valid: 16384–61440 in steps of 4096"),
    ("0.25", "4096", "valid: 512, 1024, 2048"),
    ("3", "8192", "Fargate VCPU must be one of 0.25, 0.5, 1, 2, 4, 8, 16, got 3"),
    ("32", "65536", "Fargate VCPU must be one of"),
    ("four", "8192", "must be numbers"),
])
def test_invalid_fargate_pairs(docs, vcpu, memory, expected):
    jd = with_jd(docs, lambda jd: set_resources(jd, vcpu, memory))
    assert expected in problems_of(docs, job_definition=jd)


def test_resource_requirements_must_name_both(docs):
    jd = with_jd(docs, lambda jd: jd["containerProperties"].update(resourceRequirements=[{"type": "VCPU", "value": "4"}]))
    assert "must give both VCPU and MEMORY" in problems_of(docs, job_definition=jd)


def ec2(jd, vcpu, memory):
    set_resources(jd, vcpu, memory, "EC2")
    for key in ("networkConfiguration", "fargatePlatformConfiguration", "ephemeralStorage"):
        jd["containerProperties"].pop(key)


def test_ec2_rules(docs):
    ce = copy.deepcopy(docs.compute_env)
    ce["computeResources"]["type"] = "SPOT"
    ok = with_jd(docs, lambda jd: ec2(jd, "3", "5000"))  # any whole vCPU, any MiB ≥ 4
    validation.validate(replace(docs, job_definition=ok, compute_env=ce))
    message = problems_of(docs, job_definition=with_jd(docs, lambda jd: ec2(jd, "0.5", "3")), compute_env=ce)
    assert "EC2 VCPU must be a whole number ≥ 1, got 0.5" in message
    assert "EC2 MEMORY must be a whole number of MiB ≥ 4, got 3" in message
    fargate_only = with_jd(docs, lambda jd: set_resources(jd, "2", "4096", "EC2"))
    assert "networkConfiguration is for Fargate only" in problems_of(docs, job_definition=fargate_only, compute_env=ce)


def test_platform_must_match_compute_environment(docs):
    ce = copy.deepcopy(docs.compute_env)
    ce["computeResources"]["type"] = "EC2"
    assert "cannot run a job definition for FARGATE" in problems_of(docs, compute_env=ce)


def test_max_vcpus_below_one_job(docs):
    ce = copy.deepcopy(docs.compute_env)
    ce["computeResources"]["maxvCpus"] = 2
    assert "no job could ever leave RUNNABLE" in problems_of(docs, compute_env=ce)


def test_max_vcpus_below_the_largest_sized_container(docs):
    ce = copy.deepcopy(docs.compute_env)
    ce["computeResources"]["maxvCpus"] = 8
    sizing = parse_sizing(DEFAULT_SIZING)
    with pytest.raises(InvalidInput) as err:
        validation.validate(replace(docs, compute_env=ce), sizing=sizing)
    assert ("computeResources.maxvCpus 8 is below the 16 vCPU VIDEOCTL_SIZING gives the largest sources"
            in err.value.message)
    # Enough for the largest, or no sizing: the same environment passes.
    validation.validate(replace(docs, compute_env=ce), sizing=parse_sizing("0:2/4096,100:8/16384"))
    validation.validate(replace(docs, compute_env=ce), sizing=None)


def test_shipped_documents_hold_the_default_sizing(docs):
    validation.validate(docs, sizing=parse_sizing(DEFAULT_SIZING))


@pytest.mark.parametrize(("limit", "expected"), [
    ({"maxTimeSeconds": 300}, "maxTimeSeconds must be 600–86400 s, got 300"),
    ({"maxTimeSeconds": 90000}, "got 90000"),
    ({"action": "TERMINATE"}, "action must be CANCEL"),
    ({"state": "STARTING"}, "state must be RUNNABLE"),
    ({"reason": " "}, "reason must say why"),
])
def test_job_state_time_limits(docs, limit, expected):
    queue = copy.deepcopy(docs.job_queue)
    queue["jobStateTimeLimitActions"][0].update(limit)
    assert expected in problems_of(docs, job_queue=queue)


def test_job_queue_needs_a_runnable_limit(docs):
    queue = copy.deepcopy(docs.job_queue)
    queue["jobStateTimeLimitActions"] = []
    assert "must cancel jobs stuck RUNNABLE" in problems_of(docs, job_queue=queue)


def test_visibility_timeout_at_least_six_lambda_timeouts(docs):
    fn = {**docs.function, "Timeout": 120}
    assert "VisibilityTimeout 360 s is below 6 × the Lambda Timeout 120 s = 720 s" in problems_of(docs, function=fn)
    fn = {**docs.function, "Timeout": 901}
    assert "Timeout must be 1–900 s" in problems_of(docs, function=fn)


def test_queue_and_mapping_rules(docs):
    queue = copy.deepcopy(docs.queue)
    queue["Attributes"]["RedrivePolicy"]["maxReceiveCount"] = 0
    assert "maxReceiveCount must be 1–1000" in problems_of(docs, queue=queue)
    queue = copy.deepcopy(docs.queue)
    del queue["Attributes"]["RedrivePolicy"]
    assert "RedrivePolicy must send failing messages" in problems_of(docs, queue=queue)
    dlq = copy.deepcopy(docs.dlq)
    dlq["Attributes"]["MessageRetentionPeriod"] = 60
    assert "must not be shorter than the source queue's" in problems_of(docs, dlq=dlq)
    mapping = {**docs.event_source, "FunctionResponseTypes": []}
    assert "must include ReportBatchItemFailures" in problems_of(docs, event_source=mapping)
    mapping = {**docs.event_source, "BatchSize": 100}
    assert "needs MaximumBatchingWindowInSeconds" in problems_of(docs, event_source=mapping)


def test_star_resources_are_refused_where_an_arn_is_known(docs):
    roles = copy.deepcopy(docs.roles)
    job_role = next(r for r in roles if r["RoleName"] == "academy-video-batch-job-role")
    enqueue = next(s for s in job_role["InlinePolicyDocument"]["Statement"] if s["Sid"] == "EnqueueR2Deletes")
    enqueue["Resource"] = "*"
    message = problems_of(docs, roles=roles)
    assert "infra/json/iam/policy_video_job_role.json" in message
    assert "\"Resource\": \"*\" for sqs:GetQueueAttributes, sqs:GetQueueUrl, sqs:SendMessage; name the ARNs" in message


JOB_POLICY = "infra/json/iam/policy_video_job_role.json"
#: The index a statement appended to the shipped job role policy gets.
ADDED = len(json.loads((Path(__file__).parents[2] / JOB_POLICY).read_text())["Statement"])
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:academy-video-delete-r2"


def with_job_statement(docs, statement: dict, *, trust: bool = False) -> list:
    """The roles, with ``statement`` added to the job role's inline policy (or its trust policy)."""
    roles = copy.deepcopy(docs.roles)
    job_role = next(r for r in roles if r["RoleName"] == "academy-video-batch-job-role")
    job_role["AssumeRolePolicyDocument" if trust else "InlinePolicyDocument"]["Statement"].append(statement)
    return roles


@pytest.mark.parametrize(("statement", "why"), [
    ({"Action": "*", "Resource": QUEUE_ARN}, "uses \"Action\": \"*\", every action of every service"),
    ({"Action": ["sqs:SendMessage", "*"], "Resource": QUEUE_ARN}, "uses \"Action\": \"*\""),
    ({"Action": "*:Get*", "Resource": QUEUE_ARN}, "uses the action '*:Get*', which is not bound to one service"),
    ({"Action": "s3:*", "Resource": "arn:aws:s3:::*"},
     "allows s3:* on \"arn:aws:s3:::*\": a whole service on every one of its resources"),
    ({"Action": "s3:*", "Resource": "*"}, "allows s3:* on \"*\": a whole service on every one of its resources"),
    ({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"},
     "names \"arn:aws:s3:::*/*\": every resource of a service, not one"),
    ({"Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:*"},
     f"names \"arn:aws:sqs:eu-west-1:{ACCOUNT}:*\": every resource of a service"),
    ({"NotAction": "iam:*", "Resource": "*"}, "combines NotAction with \"Resource\": \"*\": it allows every action"),
    ({"NotAction": "iam:*", "Resource": "arn:aws:sqs:*:*:*"}, "combines NotAction with \"Resource\": \"arn:aws:sqs:*:*:*\""),
    ({"NotAction": "iam:*", "NotResource": QUEUE_ARN}, "combines NotAction with NotResource"),
    ({"Action": "sqs:SendMessage", "NotResource": QUEUE_ARN}, "uses NotResource: it allows every resource but"),
])
def test_broad_allow_statements_are_refused_naming_file_statement_and_why(docs, statement, why):
    message = problems_of(docs, roles=with_job_statement(docs, {"Sid": "TooBroad", "Effect": "Allow", **statement}))
    assert f"{JOB_POLICY}: Statement[{ADDED}] (TooBroad) {why}" in message


def test_a_statement_without_sid_is_named_by_its_index(docs):
    message = problems_of(docs, roles=with_job_statement(docs, {"Effect": "Allow", "Action": "*", "Resource": QUEUE_ARN}))
    assert f"{JOB_POLICY}: Statement[{ADDED}] uses \"Action\": \"*\"" in message


def test_a_misspelt_effect_cannot_slip_past_the_rules(docs):
    roles = with_job_statement(docs, {"Effect": "allow", "Action": "*", "Resource": "*"})
    assert f"{JOB_POLICY}: Statement[{ADDED}] has \"Effect\": \"allow\"; IAM knows only" in problems_of(docs, roles=roles)


def test_trust_policies_may_not_allow_every_action(docs):
    statement = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "*"}
    message = problems_of(docs, roles=with_job_statement(docs, statement, trust=True))
    assert "infra/json/iam/trust_batch_job_role.json: Statement[1] uses \"Action\": \"*\"" in message


@pytest.mark.parametrize("statement", [
    {"Effect": "Deny", "Action": "*", "Resource": "*"},  # a Deny only takes away
    {"Effect": "Deny", "NotAction": "sqs:SendMessage", "Resource": "*"},
    {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/academy/*"},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::one-bucket/*"},  # bounded by a named bucket
    {"Effect": "Allow", "NotAction": "sqs:DeleteQueue", "Resource": QUEUE_ARN},
    {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
])
def test_narrow_statements_pass(docs, statement):
    validation.validate(replace(docs, roles=with_job_statement(docs, statement)))


def test_shipped_job_role_reads_no_ssm_and_batch_trusts_only_this_account(docs):
    """The execution role injects the secrets (job definition ``secrets``); AWS Batch may act only for us."""
    roles = {r["RoleName"]: r for r in docs.roles}
    job_actions = [a for s in roles["academy-video-batch-job-role"]["InlinePolicyDocument"]["Statement"]
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert job_actions and not [a for a in job_actions if a.lower().startswith("ssm:")]
    execution = roles["academy-video-batch-execution-role"]["InlinePolicyDocument"]["Statement"]
    assert any(s["Action"] == "ssm:GetParameters" for s in execution)
    trust = roles["academy-video-batch-service-role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Condition"] for s in trust] == [{"StringEquals": {"aws:SourceAccount": ACCOUNT}}]


def test_referenced_roles_must_be_managed(docs):
    fn = {**docs.function, "Role": f"arn:aws:iam::{ACCOUNT}:role/someone-elses-role"}
    assert "is not one of the roles in infra/json/iam/roles.json" in problems_of(docs, function=fn)


def test_all_problems_are_reported_at_once(docs):
    jd = with_jd(docs, lambda jd: (jd.update(retryStrategy={"attempts": 2}, timeout={"attemptDurationSeconds": 10}),
                                   set_resources(jd, "4", "1024")))
    message = problems_of(docs, job_definition=jd)
    assert message.startswith("infra/json has 3 problems")


def with_cors_rule(docs, **changes) -> dict:
    rule = {**copy.deepcopy(docs.cors["CORSRules"][0]), **changes}
    return {"CORSRules": [{k: v for k, v in rule.items() if v is not None}]}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"AllowedMethods": ["PUT", "PATCH"]}, "AllowedMethods: 'PATCH' is not among GET, PUT, HEAD, POST, DELETE"),
    ({"AllowedMethods": ["put"]}, "'put' is not among"),  # S3 refuses lower case
    ({"AllowedMethods": []}, "CORSRules[0].AllowedMethods must be a list of one or more strings"),
    ({"AllowedOrigins": None}, "CORSRules[0].AllowedOrigins must be a list of one or more strings"),
    ({"AllowedOrigins": ["https://*.*.example.com"]}, "has more than one '*'"),
    ({"AllowedHeaders": "content-type"}, "CORSRules[0].AllowedHeaders must be a list of strings"),
    ({"ExposeHeaders": ["x-amz-request-id"]}, "allows PUT but does not expose ETag"),
    ({"ExposeHeaders": None}, "allows PUT but does not expose ETag"),
    ({"MaxAgeSeconds": None}, "MaxAgeSeconds must be a whole number from 1 to 86400 s, got None"),
    ({"MaxAgeSeconds": 0}, "got 0"),
    ({"MaxAgeSeconds": 86_401}, "got 86401"),
    ({"MaxAgeSeconds": "3600"}, "got '3600'"),
    ({"ID": "x" * 256}, "ID must be a string of at most 255 characters"),
    ({"AllowedMethod": ["PUT"]}, "CORSRules[0] has unknown field AllowedMethod"),  # S3's XML spelling, a typo here
    ({"AllowedMethods": ["GET"]}, "no rule allows PUT: browsers could not upload"),
])
def test_bucket_cors_rules(docs, changes, expected):
    assert expected in problems_of(docs, cors=with_cors_rule(docs, **changes))


def test_bucket_cors_limits(docs):
    rule = docs.cors["CORSRules"][0]
    assert "has 101 rules; S3 allows at most 100" in problems_of(docs, cors={"CORSRules": [rule] * 101})
    validation.validate(replace(docs, cors={"CORSRules": [rule] * 100}))  # the limit itself is fine
    assert "at least one rule" in problems_of(docs, cors={"CORSRules": []})
    assert "at least one rule" in problems_of(docs, cors=[rule])
    assert "unknown field Bucket" in problems_of(docs, cors={"CORSRules": [rule], "Bucket": "videos"})
    # A read-only rule next to the upload rule needs no ETag; case does not matter for header names.
    upload = {**rule, "ExposeHeaders": ["etag"]}
    validation.validate(replace(docs, cors={"CORSRules": [upload, {"AllowedMethods": ["GET", "HEAD"],
                                                                    "AllowedOrigins": ["*"], "MaxAgeSeconds": 600}]}))


def test_skipped_bucket_cors_is_not_validated(docs):
    validation.validate(replace(docs, cors=None, cors_skipped="VIDEOCTL_UPLOAD_ORIGINS is not set"))


def batch_calls_of_the_container() -> set[str]:
    """Every Batch API videoctl.aws.batch calls (what the lead's executor sends its chunks with),
    as IAM names it: ``submit_job`` → ``batch:SubmitJob``."""
    import re

    source = (Path(__file__).parents[2] / "videoctl/aws/batch.py").read_text()
    calls = set(re.findall(r"\.(submit_job|describe_jobs|terminate_job)\(", source))
    calls |= set(re.findall(r'get_paginator\("(list_jobs)"\)', source))
    return {"batch:" + "".join(part.title() for part in call.split("_")) for call in calls}


def test_the_job_role_may_send_stop_and_find_its_chunks_on_our_queue_and_definition_only():
    """The lead container submits its chunks' array job (and scan-stuck's tries alone are sent
    the same way): SubmitJob on our queue and job definition, the tags it sets, TerminateJob,
    and the two lookups that have no resource-level permission."""
    docs = files.load(settings(VIDEO_BATCH_JOB_QUEUE="q2", VIDEO_BATCH_JOB_DEFINITION="jd2"), ACCOUNT)
    job_role = next(r for r in docs.roles if r["RoleName"] == "academy-video-batch-job-role")
    statements = [s for s in job_role["InlinePolicyDocument"]["Statement"]
                  if any(a.startswith("batch:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
    granted = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            granted[action] = statement
    assert batch_calls_of_the_container() == {"batch:SubmitJob", "batch:DescribeJobs", "batch:ListJobs",
                                              "batch:TerminateJob"}
    assert set(granted) == batch_calls_of_the_container() | {"batch:TagResource"}
    arn = f"arn:aws:batch:eu-west-1:{ACCOUNT}"
    assert granted["batch:SubmitJob"]["Resource"] == [f"{arn}:job-queue/q2", f"{arn}:job-definition/jd2",
                                                      f"{arn}:job-definition/jd2:*"]
    # SubmitJob's tags (video_id, job_id, attempt) need TagResource, allowed only as part of a SubmitJob.
    assert granted["batch:TagResource"]["Resource"] == f"{arn}:job/*"
    assert granted["batch:TagResource"]["Condition"] == {"StringEquals": {"batch:CreateAction": "SubmitJob"}}
    assert granted["batch:TerminateJob"]["Resource"] == f"{arn}:job/*"
    assert granted["batch:DescribeJobs"]["Resource"] == granted["batch:ListJobs"]["Resource"] == "*"
    assert "Condition" not in granted["batch:SubmitJob"] and "Condition" not in granted["batch:TerminateJob"]
    validation.validate(docs)  # and the least-privilege rules take it


def test_star_is_refused_for_a_batch_action_that_can_be_scoped(docs):
    roles = with_job_statement(docs, {"Sid": "Wide", "Effect": "Allow", "Action": ["batch:SubmitJob", "batch:ListJobs"],
                                      "Resource": "*"})
    assert f"{JOB_POLICY}: Statement[{ADDED}] (Wide) uses \"Resource\": \"*\" for batch:SubmitJob; name the ARNs" in \
        problems_of(docs, roles=roles)


def test_the_shipped_job_definition_leaves_retries_to_videoctl_and_bounds_each_container(docs):
    """Every container of the array (and every chunk sent alone) runs once under the job
    definition's retry strategy and attempt timeout: scan-stuck alone decides what runs again."""
    jd = docs.job_definition
    assert jd["retryStrategy"] == {"attempts": 1}
    assert 0 < jd["timeout"]["attemptDurationSeconds"] <= 3 * 3600
    assert jd["parameters"] == {"job_id": "missing"} and jd["containerProperties"]["command"][-1] == "Ref::job_id"
