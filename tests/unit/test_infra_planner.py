"""The planner on in-memory state: no AWS, no moto, just documents vs. dicts shaped like AWS's answers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.unit.test_infra_documents import ACCOUNT, SECRET_VALUES, settings
from videoctl.commands._render import dumps
from videoctl.infra import documents, files
from videoctl.infra.documents import code_sha256
from videoctl.infra.model import Desired, Kind, SecretRef, Status
from videoctl.infra.planner import plan

ZIP = b"PK-fake-zip"


def desired_all(**env: str | None) -> list[Desired]:
    s = settings(**env)
    return documents.desired_resources(files.load(s, ACCOUNT), s, ZIP)


def live_like_aws(d: Desired) -> dict[str, Any]:
    """What AWS would answer for a resource created from the document: extra fields, other spellings."""
    spec = copy.deepcopy(d.spec)
    match d.kind:
        case Kind.IAM_ROLE:
            trust = copy.deepcopy(spec["AssumeRolePolicyDocument"])
            trust["Statement"][0]["Action"] = [trust["Statement"][0]["Action"]]  # list vs. string: same policy
            return {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{d.name}", "Description": spec["Description"],
                    "AssumeRolePolicyDocument": trust, "InlinePolicies": spec["InlinePolicies"],
                    "ManagedPolicyArns": list(reversed(spec["ManagedPolicyArns"]))}
        case Kind.LOG_GROUP:
            return {"logGroupName": d.name, "retentionInDays": spec["retentionInDays"], "storedBytes": 0}
        case Kind.SSM_PARAMETER:
            return {"Name": d.name, "Type": spec["Type"]}
        case Kind.SQS_QUEUE:
            from videoctl.infra.planner import sqs_attribute

            attrs = {k: sqs_attribute(v) for k, v in spec["Attributes"].items()}
            if "RedrivePolicy" in attrs:  # AWS's own spelling: different key order, count as a string
                policy = spec["Attributes"]["RedrivePolicy"]
                attrs["RedrivePolicy"] = json.dumps({"maxReceiveCount": str(policy["maxReceiveCount"]),
                                                     "deadLetterTargetArn": policy["deadLetterTargetArn"]})
            attrs.update(QueueArn=f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{d.name}", ApproximateNumberOfMessages="0")
            return {"QueueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{d.name}", "Attributes": attrs}
        case Kind.COMPUTE_ENVIRONMENT:
            spec["computeResources"]["subnets"].reverse()
            return {**spec, "status": "VALID", "statusReason": "ok", "computeEnvironmentArn": "arn:ce",
                    "ecsClusterArn": "arn:ecs"}
        case Kind.JOB_QUEUE:
            return {**spec, "status": "VALID", "jobQueueArn": "arn:jq", "tags": {}}
        case Kind.JOB_DEFINITION:
            spec["containerProperties"]["environment"].reverse()
            spec["containerProperties"].update(volumes=[], mountPoints=[], ulimits=[])
            return {**spec, "revision": 4, "status": "ACTIVE", "tags": {},
                    "jobDefinitionArn": f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-definition/{d.name}:4"}
        case Kind.LAMBDA_FUNCTION:
            spec.pop("ZipFile")
            return {**spec, "State": "Active", "LastUpdateStatus": "Successful", "Version": "$LATEST",
                    "FunctionArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{d.name}"}
        case Kind.EVENT_SOURCE_MAPPING:
            return {"UUID": "u-1", "EventSourceArn": spec["EventSourceArn"], "FunctionArn": spec["FunctionArn"],
                    "BatchSize": spec["BatchSize"], "State": "Enabled",
                    "FunctionResponseTypes": spec["FunctionResponseTypes"]}
        case Kind.R2_CORS:  # R2's spelling: lists in its own order, header names in another case
            rules = [{**rule, "AllowedMethods": sorted(rule["AllowedMethods"]),
                      "AllowedOrigins": list(reversed(rule["AllowedOrigins"])),
                      "AllowedHeaders": [h.title() for h in rule["AllowedHeaders"]],
                      "ExposeHeaders": [h.lower() for h in rule["ExposeHeaders"]]} for rule in spec["CORSRules"]]
            return {"Bucket": d.name, "CORSRules": rules}
        case Kind.EVENT_BUS:
            return {"Name": d.name, "Arn": f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/{d.name}"}
        case Kind.SNS_TOPIC:
            return {"TopicArn": spec["TopicArn"], "Attributes": {
                **spec["Attributes"], "Owner": ACCOUNT, "TopicArn": spec["TopicArn"], "SubscriptionsConfirmed": "0"}}
        case Kind.PLAYBACK_EDGE:
            return {}
    raise AssertionError(d.kind)


def live_state(wanted: list[Desired], overrides: dict | None = None) -> dict:
    """AWS's answers for every resource, except those in ``overrides`` ((kind, name) → live)."""
    return {**{d.key: live_like_aws(d) for d in wanted}, **(overrides or {})}


def item(items, kind: Kind, name: str | None = None):
    return next(i for i in items if i.kind is kind and (name is None or i.name == name))


def test_fresh_account_everything_missing_in_dependency_order():
    wanted = desired_all()
    items = plan(wanted, {})
    assert all(i.status is Status.MISSING for i in items if i.kind is not Kind.PLAYBACK_EDGE)
    assert item(items, Kind.PLAYBACK_EDGE).status is Status.OK  # settings: nothing on AWS to be missing
    apis = [a.api for i in items for a in i.actions]
    assert apis.index("iam:CreateRole") < apis.index("batch:CreateComputeEnvironment") \
        < apis.index("batch:CreateJobQueue") < apis.index("batch:RegisterJobDefinition") \
        < apis.index("lambda:CreateFunction") < apis.index("lambda:CreateEventSourceMapping")
    queues = [i.name for i in items if i.kind is Kind.SQS_QUEUE]
    assert queues == ["academy-video-delete-r2-dlq", "academy-video-delete-r2"]  # DLQ first: the redrive names it
    service_role = item(items, Kind.IAM_ROLE, "academy-video-batch-service-role")
    assert [a.api for a in service_role.actions] == ["iam:CreateRole", "iam:AttachRolePolicy"]
    ce = item(items, Kind.COMPUTE_ENVIRONMENT)
    assert ce.actions[0].wait == "compute_environment"
    assert item(items, Kind.JOB_QUEUE).actions[0].wait == "job_queue"
    fn = item(items, Kind.LAMBDA_FUNCTION).actions[0]
    assert fn.params["Code"] == {"ZipFile": ZIP} and fn.params["Handler"] == "worker.delete_r2_handler.handler"
    assert fn.wait == "lambda"
    esm = item(items, Kind.EVENT_SOURCE_MAPPING).actions[0]
    assert esm.params["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_matching_state_is_all_ok_despite_aws_spellings():
    wanted = desired_all()
    items = plan(wanted, live_state(wanted))
    assert [(i.kind.value, i.name, [str(d) for d in i.diffs]) for i in items if not i.ok] == []
    assert not any(i.actions for i in items)


def test_job_definition_with_retries_is_drift_with_a_new_revision():
    wanted = desired_all()
    jd = live_like_aws(item(wanted, Kind.JOB_DEFINITION))
    jd["retryStrategy"] = {"attempts": 3, "evaluateOnExit": [{"onExitCode": "137", "action": "retry"}]}
    items = plan(wanted, live_state(wanted, {(Kind.JOB_DEFINITION, "academy-video-batch-jobdef"): jd}))
    got = item(items, Kind.JOB_DEFINITION)
    assert got.status is Status.DRIFT
    fields = {d.field: d for d in got.diffs}
    assert fields["retryStrategy.attempts"].live == 3 and fields["retryStrategy.attempts"].desired == 1
    assert "scan-stuck" in fields["retryStrategy.attempts"].note
    assert fields["retryStrategy.evaluateOnExit[0].action"].note == "only EXIT is allowed"
    assert [a.api for a in got.actions] == ["batch:RegisterJobDefinition"]
    assert got.actions[0].description == "register revision 5 (revision 4 differs)"
    assert got.actions[0].params["retryStrategy"] == {"attempts": 1}
    assert [i for i in items if not i.ok] == [got]


def test_job_definition_retry_strategy_is_strict_even_for_exit_rules():
    wanted = desired_all()
    jd = live_like_aws(item(wanted, Kind.JOB_DEFINITION))
    jd["retryStrategy"] = {"attempts": 1, "evaluateOnExit": [{"onExitCode": "*", "action": "EXIT"}]}
    got = item(plan(wanted, live_state(wanted, {(Kind.JOB_DEFINITION, "academy-video-batch-jobdef"): jd})), Kind.JOB_DEFINITION)
    assert [d.field for d in got.diffs] == ["retryStrategy.evaluateOnExit"]
    jd.pop("retryStrategy")
    got = item(plan(wanted, live_state(wanted, {(Kind.JOB_DEFINITION, "academy-video-batch-jobdef"): jd})), Kind.JOB_DEFINITION)
    assert [d.field for d in got.diffs] == ["retryStrategy"]


def test_job_definition_field_level_diff():
    wanted = desired_all()
    jd = live_like_aws(item(wanted, Kind.JOB_DEFINITION))
    jd["containerProperties"]["image"] = "old-image"
    jd["containerProperties"]["secrets"].pop()
    jd["timeout"] = {"attemptDurationSeconds": 600}
    got = item(plan(wanted, live_state(wanted, {(Kind.JOB_DEFINITION, "academy-video-batch-jobdef"): jd})), Kind.JOB_DEFINITION)
    fields = {d.field for d in got.diffs}
    assert fields == {"containerProperties.image", "containerProperties.secrets", "timeout.attemptDurationSeconds"}


def test_compute_environment_updates_in_place_or_asks_a_person():
    wanted = desired_all()
    ce = live_like_aws(item(wanted, Kind.COMPUTE_ENVIRONMENT))
    ce.update(state="DISABLED")
    ce["computeResources"].update(maxvCpus=16, securityGroupIds=["sg-old"])
    got = item(plan(wanted, live_state(wanted, {(Kind.COMPUTE_ENVIRONMENT, "academy-video-batch-ce"): ce})), Kind.COMPUTE_ENVIRONMENT)
    assert got.status is Status.DRIFT and not got.manual
    (action,) = got.actions
    assert action.api == "batch:UpdateComputeEnvironment" and action.wait == "compute_environment"
    assert action.params == {"computeEnvironment": "academy-video-batch-ce", "state": "ENABLED",
                             "computeResources": {"maxvCpus": 256, "securityGroupIds": ["sg-111"]}}

    ce = live_like_aws(item(wanted, Kind.COMPUTE_ENVIRONMENT))
    ce["computeResources"]["type"] = "FARGATE_SPOT"
    got = item(plan(wanted, live_state(wanted, {(Kind.COMPUTE_ENVIRONMENT, "academy-video-batch-ce"): ce})), Kind.COMPUTE_ENVIRONMENT)
    assert got.status is Status.DRIFT and not got.actions
    assert "cannot change in place" in got.manual[0]

    ce = live_like_aws(item(wanted, Kind.COMPUTE_ENVIRONMENT))
    ce.update(status="INVALID", statusReason="subnet gone")
    got = item(plan(wanted, live_state(wanted, {(Kind.COMPUTE_ENVIRONMENT, "academy-video-batch-ce"): ce})), Kind.COMPUTE_ENVIRONMENT)
    assert got.status is Status.DRIFT and "subnet gone" in got.manual[0]


def test_job_queue_updates_only_what_differs():
    wanted = desired_all()
    queue = live_like_aws(item(wanted, Kind.JOB_QUEUE))
    queue.update(priority=9, jobStateTimeLimitActions=[])
    got = item(plan(wanted, live_state(wanted, {(Kind.JOB_QUEUE, "academy-video-batch-queue"): queue})), Kind.JOB_QUEUE)
    (action,) = got.actions
    assert action.api == "batch:UpdateJobQueue"
    assert set(action.params) == {"jobQueue", "priority", "jobStateTimeLimitActions"}
    assert action.params["jobStateTimeLimitActions"][0]["action"] == "CANCEL"


def test_queue_attributes_and_redrive():
    wanted = desired_all()
    queue = live_like_aws(item(wanted, Kind.SQS_QUEUE, "academy-video-delete-r2"))
    queue["Attributes"]["VisibilityTimeout"] = "30"
    queue["Attributes"]["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": "arn:other", "maxReceiveCount": 5})
    got = item(plan(wanted, live_state(wanted, {(Kind.SQS_QUEUE, "academy-video-delete-r2"): queue})), Kind.SQS_QUEUE,
               "academy-video-delete-r2")
    (action,) = got.actions
    assert action.api == "sqs:SetQueueAttributes" and action.params["QueueUrl"].endswith("/academy-video-delete-r2")
    assert action.params["Attributes"]["VisibilityTimeout"] == "360"
    assert json.loads(action.params["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"].endswith("-dlq")
    assert set(action.params["Attributes"]) == {"VisibilityTimeout", "RedrivePolicy"}


def test_roles_policies_drift():
    wanted = desired_all()
    name = "academy-video-batch-job-role"
    role = live_like_aws(item(wanted, Kind.IAM_ROLE, name))
    policy = copy.deepcopy(role["InlinePolicies"]["videoctl"])
    next(s for s in policy["Statement"] if s["Sid"] == "EnqueueR2Deletes")["Resource"] = "*"
    role["InlinePolicies"] = {"videoctl": policy, "hand-made": {"Version": "2012-10-17", "Statement": []}}
    role["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    got = item(plan(wanted, live_state(wanted, {(Kind.IAM_ROLE, name): role})), Kind.IAM_ROLE, name)
    assert "InlinePolicies.videoctl.Statement[EnqueueR2Deletes].Resource" in {d.field for d in got.diffs}
    assert [a.api for a in got.actions] == ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy"]


def test_trust_policy_drift():
    wanted = desired_all()
    name = "academy-video-delete-r2-lambda-role"
    role = live_like_aws(item(wanted, Kind.IAM_ROLE, name))
    role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
    got = item(plan(wanted, live_state(wanted, {(Kind.IAM_ROLE, name): role})), Kind.IAM_ROLE, name)
    assert [a.api for a in got.actions] == ["iam:UpdateAssumeRolePolicy"]


def test_lambda_code_and_configuration_drift():
    wanted = desired_all()
    fn = live_like_aws(item(wanted, Kind.LAMBDA_FUNCTION))
    fn.update(CodeSha256=code_sha256(b"old"), Timeout=3)
    fn["Environment"]["Variables"]["EXTRA"] = "1"
    got = item(plan(wanted, live_state(wanted, {(Kind.LAMBDA_FUNCTION, "academy-video-delete-r2"): fn})), Kind.LAMBDA_FUNCTION)
    assert [a.api for a in got.actions] == ["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"]
    assert got.actions[0].params["ZipFile"] == ZIP
    assert set(got.actions[1].params) == {"FunctionName", "Timeout", "Environment"}
    assert {d.field for d in got.diffs} == {"CodeSha256", "Timeout", "Environment.Variables.EXTRA"}


def test_event_source_mapping_drift():
    wanted = desired_all()
    d = item(wanted, Kind.EVENT_SOURCE_MAPPING)
    esm = live_like_aws(d)
    esm.update(FunctionResponseTypes=[], State="Disabled")
    got = item(plan(wanted, live_state(wanted, {d.key: esm})), Kind.EVENT_SOURCE_MAPPING)
    (action,) = got.actions
    assert action.params == {"UUID": "u-1", "FunctionResponseTypes": ["ReportBatchItemFailures"], "Enabled": True}


def test_ssm_parameters_never_carry_values():
    wanted = desired_all(REDIS_URL=None)
    items = plan(wanted, {})
    db = item(items, Kind.SSM_PARAMETER, "/academy/video/DATABASE_URL")
    (action,) = db.actions
    assert action.params["Value"] == SecretRef("DATABASE_URL", "database_url")
    assert action.params["Overwrite"] is False
    redis = item(items, Kind.SSM_PARAMETER, "/academy/video/REDIS_URL")
    assert not redis.actions and "set REDIS_URL" in redis.manual[0]
    as_json = dumps([i.to_dict() for i in items])
    assert not any(secret in as_json for secret in SECRET_VALUES)


def test_ssm_parameter_of_the_wrong_type_is_not_overwritten():
    wanted = desired_all()
    name = "/academy/video/DATABASE_URL"
    got = item(plan(wanted, live_state(wanted, {(Kind.SSM_PARAMETER, name): {"Name": name, "Type": "String"}})), Kind.SSM_PARAMETER, name)
    assert got.status is Status.DRIFT and not got.actions and "never overwrites" in got.manual[0]


#: The settings that make infra manage the events' bus or topic (infra/events_target.py).
EVENTS_ENV = {Kind.EVENT_BUS: {"VIDEOCTL_EVENTS_TARGET": "eventbridge:academy-video-events"},
              Kind.SNS_TOPIC: {"VIDEOCTL_EVENTS_TARGET": f"sns:arn:aws:sns:eu-west-1:{ACCOUNT}:academy-video-events"}}


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.PLAYBACK_EDGE])  # settings: nothing to create
def test_each_kind_missing_alone_plans_only_its_creation(kind):
    wanted = desired_all(**EVENTS_ENV.get(kind, {}))
    target = item(wanted, kind)
    state = live_state(wanted)
    del state[target.key]
    items = plan(wanted, state)
    assert [i.name for i in items if not i.ok] == [target.name]


CORS_KEY = (Kind.R2_CORS, "videos")


def cors_rules(wanted: list[Desired]) -> list[dict[str, Any]]:
    return copy.deepcopy(live_like_aws(item(wanted, Kind.R2_CORS))["CORSRules"])


def test_bucket_cors_missing_is_one_put_of_the_whole_document():
    wanted = desired_all()
    got = item(plan(wanted, {}), Kind.R2_CORS)
    assert got.status is Status.MISSING and got.name == "videos"
    (action,) = got.actions
    assert action.api == "s3:PutBucketCors" and action.service == "r2"
    assert action.params == {"Bucket": "videos", "CORSConfiguration": item(wanted, Kind.R2_CORS).spec}
    assert action.description == "allow GET/PUT from http://localhost:3000, https://app.example.com (ETag exposed)"


def test_bucket_cors_changed_origins_are_drift_fixed_by_replacing_the_rules():
    wanted = desired_all()
    rules = cors_rules(wanted)
    rules[0]["AllowedOrigins"] = ["https://old.example.com"]
    got = item(plan(wanted, live_state(wanted, {CORS_KEY: {"Bucket": "videos", "CORSRules": rules}})), Kind.R2_CORS)
    assert got.status is Status.DRIFT
    assert [(d.field, d.live, d.desired) for d in got.diffs] == [
        ("CORSRules[0].AllowedOrigins", ["https://old.example.com"], ["http://localhost:3000", "https://app.example.com"])]
    (action,) = got.actions
    assert action.api == "s3:PutBucketCors" and action.description.startswith("replace the CORS rules: allow")
    assert action.params["CORSConfiguration"]["CORSRules"][0]["AllowedOrigins"] == [
        "https://app.example.com", "http://localhost:3000"]


def test_bucket_cors_without_etag_says_why_it_matters():
    wanted = desired_all()
    rules = cors_rules(wanted)
    rules[0]["ExposeHeaders"] = []
    got = item(plan(wanted, live_state(wanted, {CORS_KEY: {"Bucket": "videos", "CORSRules": rules}})), Kind.R2_CORS)
    (change,) = got.diffs
    assert change.field == "CORSRules[0].ExposeHeaders" and change.live == [] and change.desired == ["etag"]
    assert "each part's ETag" in str(change)
    assert [a.api for a in got.actions] == ["s3:PutBucketCors"]


def test_bucket_cors_rules_added_by_hand_or_missing_fields_are_drift():
    wanted = desired_all()
    rules = cors_rules(wanted)
    del rules[0]["MaxAgeSeconds"]
    hand_made = {"AllowedMethods": ["DELETE"], "AllowedOrigins": ["*"], "ID": "oops"}
    got = item(plan(wanted, live_state(wanted, {CORS_KEY: {"Bucket": "videos", "CORSRules": [*rules, hand_made]}})),
               Kind.R2_CORS)
    assert [(d.field, d.note) for d in got.diffs] == [("CORSRules[0].MaxAgeSeconds", None),
                                                      ("CORSRules[1]", "not in infra/json")]
    assert len(got.actions) == 1
    # The order of the rules matters (the first that matches wins): a swap is drift too.
    swapped = [hand_made, *cors_rules(wanted)]
    got = item(plan(wanted, live_state(wanted, {CORS_KEY: {"Bucket": "videos", "CORSRules": swapped}})), Kind.R2_CORS)
    assert got.status is Status.DRIFT and got.actions


def test_bucket_cors_of_a_missing_bucket_is_left_to_a_person():
    from videoctl.aws import r2_infra
    from videoctl.infra import planner

    assert planner.BUCKET_MISSING == r2_infra.BUCKET_MISSING  # the reader's mark, the planner's word
    wanted = desired_all()
    got = item(plan(wanted, live_state(wanted, {CORS_KEY: {"Bucket": "videos", planner.BUCKET_MISSING: True}})),
               Kind.R2_CORS)
    assert got.status is Status.MISSING and not got.actions and not got.ok
    assert "bucket videos does not exist" in got.manual[0] and "wrangler r2 bucket create videos" in got.manual[0]


def test_a_skipped_resource_is_ok_with_its_reason_and_nothing_to_do():
    wanted = desired_all(VIDEOCTL_UPLOAD_ORIGINS=None)
    state = live_state([d for d in wanted if not d.skipped])
    got = item(plan(wanted, state), Kind.R2_CORS)
    assert got.status is Status.SKIPPED and got.ok and not got.actions and not got.diffs and not got.manual
    assert "VIDEOCTL_UPLOAD_ORIGINS is not set" in got.note
    assert got.to_dict()["note"] == got.note and got.to_dict()["status"] == "SKIPPED"
    assert all(i.ok for i in plan(wanted, state))
