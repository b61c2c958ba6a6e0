"""Applying a plan (infra.apply) with botocore's Stubber: waits with an injected sleep, IAM propagation, failures reported."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from videoctl.aws.clients import AwsClients
from videoctl.commands._render import dumps
from videoctl.domain.errors import AwsError
from videoctl.infra.apply import PROPAGATION_SLEEP_S, apply
from videoctl.infra.errors import InfraAwsError
from videoctl.infra.model import Action, Kind, PlanItem, SecretRef, Status
from videoctl.settings import Settings

CE = "academy-video-batch-ce"
CE_SPEC = {"computeEnvironmentName": CE, "type": "MANAGED", "state": "ENABLED",
           "computeResources": {"type": "FARGATE", "maxvCpus": 8, "subnets": ["s"], "securityGroupIds": ["g"]}}


@pytest.fixture
def clients():
    return AwsClients(Settings.from_env({"AWS_REGION": "eu-west-1", "VIDEOCTL_HOME": "/tmp/videoctl-test"}))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ce_item() -> PlanItem:
    action = Action("batch", "create_compute_environment", CE_SPEC, "create", wait="compute_environment")
    return PlanItem(Kind.COMPUTE_ENVIRONMENT, CE, Status.MISSING, actions=(action,))


def describe(stub: Stubber, status: str, reason: str = "") -> None:
    stub.add_response("describe_compute_environments", {"computeEnvironments": [{
        "computeEnvironmentName": CE, "computeEnvironmentArn": "arn:ce", "status": status, "state": "ENABLED",
        "statusReason": reason}]}, {"computeEnvironments": [CE]})


def no_secret(_: SecretRef) -> None:
    return None


def test_waits_for_valid_with_the_injected_sleep(clients):
    sleeps = Sleeps()
    waited: list[str] = []
    with Stubber(clients.batch) as stub:
        stub.add_response("create_compute_environment", {"computeEnvironmentName": CE,
                                                         "computeEnvironmentArn": "arn:ce"}, CE_SPEC)
        describe(stub, "CREATING")
        describe(stub, "CREATING")
        describe(stub, "VALID")
        report = apply([ce_item()], clients, secret=no_secret, sleep=sleeps, poll_s=5,
                       waiting=lambda message: _Recorder(waited, message))
        stub.assert_no_pending_responses()
    assert sleeps == [5, 5]
    assert waited == [f"waiting for compute_environment {CE} …"]
    assert report.done[0].result == "arn:ce" and report.changed


class _Recorder:
    def __init__(self, log: list[str], message: str) -> None:
        log.append(message)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_wait_is_bounded(clients):
    sleeps = Sleeps()
    with Stubber(clients.batch) as stub:
        stub.add_response("create_compute_environment", {"computeEnvironmentName": CE}, CE_SPEC)
        for _ in range(4):
            describe(stub, "CREATING")
        with pytest.raises(InfraAwsError) as err:
            apply([ce_item()], clients, secret=no_secret, sleep=sleeps, wait_timeout_s=30, poll_s=10)
    assert sleeps == [10, 10, 10]
    assert "batch:CreateComputeEnvironment: still CREATING/ENABLED after 30 s" in err.value.message
    assert err.value.to_dict()["not_done"][0]["status"] == "failed"


def test_invalid_compute_environment_fails_with_its_reason(clients):
    with Stubber(clients.batch) as stub:
        stub.add_response("create_compute_environment", {"computeEnvironmentName": CE}, CE_SPEC)
        describe(stub, "INVALID", "CLIENT_ERROR - subnet-x does not exist")
        with pytest.raises(AwsError, match="is INVALID: CLIENT_ERROR - subnet-x does not exist"):
            apply([ce_item()], clients, secret=no_secret, sleep=Sleeps())


def test_a_fresh_role_is_retried_while_iam_propagates(clients):
    sleeps = Sleeps()
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Runtime": "python3.12",
              "Handler": "worker.delete_r2_handler.handler", "Code": {"ZipFile": b"zip"}}
    item = PlanItem(Kind.LAMBDA_FUNCTION, "f", Status.MISSING, actions=(Action("lambda_", "create_function", params, "create"),))
    with Stubber(clients.lambda_) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException",
                              "The role defined for the function cannot be assumed by Lambda.")
        stub.add_response("create_function", {"FunctionArn": "arn:fn"}, params)
        report = apply([item], clients, secret=no_secret, sleep=sleeps)
    assert sleeps == [PROPAGATION_SLEEP_S]
    assert report.done[0].result == "arn:fn"


def test_access_denied_stops_and_reports_done_and_not_done(clients):
    roles = PlanItem(Kind.IAM_ROLE, "r", Status.MISSING, actions=(
        Action("iam", "create_role", {"RoleName": "r", "AssumeRolePolicyDocument": "{}"}, "create role r"),
        Action("iam", "put_role_policy", {"RoleName": "r", "PolicyName": "videoctl", "PolicyDocument": "{}"},
               "put inline policy videoctl"),
    ))
    later = PlanItem(Kind.LOG_GROUP, "/g", Status.MISSING,
                     actions=(Action("logs", "create_log_group", {"logGroupName": "/g"}, "create log group /g"),))
    sleeps = Sleeps()
    with Stubber(clients.iam) as stub:
        stub.add_response("create_role", {"Role": {"RoleName": "r", "Arn": "arn:aws:iam::1:role/r", "Path": "/",
                                                   "RoleId": "AROAEXAMPLEEXAMPLE1", "CreateDate": "2024-01-01"}})
        stub.add_client_error("put_role_policy", "AccessDenied", "User: arn:aws:iam::1:user/ci is not authorized "
                              "to perform: iam:PutRolePolicy", http_status_code=403)
        with pytest.raises(InfraAwsError) as err:
            apply([roles, later], clients, secret=no_secret, sleep=sleeps)
    assert sleeps == []  # AccessDenied is not a propagation delay: no retry
    error = err.value.to_dict()
    assert error["code"] == "aws_error"
    assert error["message"].startswith("iam:PutRolePolicy failed: AccessDenied")
    assert [(r["api"], r["status"]) for r in error["done"]] == [("iam:CreateRole", "done")]
    assert [(r["api"], r["status"]) for r in error["not_done"]] == [
        ("iam:PutRolePolicy", "failed"), ("logs:CreateLogGroup", "not_attempted")]


def test_secret_is_resolved_only_for_the_call_and_never_reported(clients):
    ref = SecretRef("DATABASE_URL", "database_url")
    params = {"Name": "/academy/video/DATABASE_URL", "Type": "SecureString", "Value": ref, "Overwrite": False}
    item = PlanItem(Kind.SSM_PARAMETER, params["Name"], Status.MISSING,
                    actions=(Action("ssm", "put_parameter", params, "put SecureString from DATABASE_URL"),))
    with Stubber(clients.ssm) as stub:
        stub.add_response("put_parameter", {"Version": 1}, {**params, "Value": "postgresql://u:hunter2@db/x"})
        report = apply([item], clients, secret=lambda r: "postgresql://u:hunter2@db/x" if r == ref else None,
                       sleep=Sleeps())
    assert "hunter2" not in dumps(report.to_dict()) and "hunter2" not in repr(item)
