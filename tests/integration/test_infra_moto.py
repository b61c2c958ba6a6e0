"""`videoctl infra …` end to end against moto: fresh account, drift, idempotence, AccessDenied.

moto gaps, and what we do about them (our code always makes the real call):

- Batch CreateJobQueue/UpdateJobQueue/DescribeJobQueues drop ``jobStateTimeLimitActions``
  (moto 5.x). The ``moto_keeps_state_time_limits`` fixture teaches moto to store the field the
  way real Batch does, reading it from the request our code sent, so verify can see it.
- Batch UpdateComputeEnvironment ignores ``computeResources`` (maxvCpus, subnets, security
  groups); only ``state``/``serviceRole`` updates are exercised here, the rest by the planner tests.
- Compute environments and job queues are VALID at once, Lambda is Active at once: the
  polling loop is exercised by the Stubber tests in tests/unit/test_infra_executor.py.
- R2 is moto's S3 at the R2-style endpoint conftest registers (MOTO_S3_CUSTOM_ENDPOINTS); moto keeps
  CORS rules as given and accepts some that S3 refuses, which our validation catches first.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from tests.cli import run_cli
from tests.conftest import R2_TEST_ENDPOINT
from tests.unit.test_infra_documents import INFRA_ENV, SECRET_VALUES
from videoctl.aws.clients import AwsClients, r2_client
from videoctl.domain.errors import EXIT_CODES
from videoctl.infra.documents import code_sha256
from videoctl.infra.package import build_lambda_zip
from videoctl.settings import Settings

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
MOTO_CONFIG = {"batch": {"use_docker": False}}
BATCH_SERVICE_POLICY = "AWSBatchServiceRole"  # the one AWS managed policy infra/json attaches
JOBDEF = "academy-video-batch-jobdef"
JOB_QUEUE = "academy-video-batch-queue"
CE = "academy-video-batch-ce"
FUNCTION = "academy-video-delete-r2"
QUEUE = "academy-video-delete-r2"
BUCKET = INFRA_ENV["R2_BUCKET"]
ORIGINS = ["https://app.example.com", "http://localhost:3000"]  # INFRA_ENV's VIDEOCTL_UPLOAD_ORIGINS
RESOURCES = 20  # 18 on AWS, the R2 bucket's CORS rules, and the playback edge's settings (nothing to create)


@dataclass
class Aws:
    """boto3 clients on the same moto account, for the test's own look and touch."""

    batch: Any
    iam: Any
    sqs: Any
    lambda_: Any
    ssm: Any
    logs: Any
    r2: Any  # moto's S3 at the R2 endpoint, with the R2 keys


@pytest.fixture
def moto_keeps_state_time_limits(shared_session: boto3.session.Session) -> Iterator[None]:
    """Keep jobStateTimeLimitActions as real Batch does (see the module docstring).

    Only botocore's public event hooks are used, never moto's private names (which moto renames
    between releases): a successful CreateJobQueue/UpdateJobQueue remembers the limits our code
    sent, and DescribeJobQueues answers with them.
    """
    limits_by_queue: dict[str, list[Any]] = {}
    events = shared_session.events

    def queue_name(name_or_arn: str) -> str:
        return name_or_arn.rsplit("/", 1)[-1]

    def keep_request(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "jobStateTimeLimitActions" in params:
            name = params.get("jobQueueName") or params.get("jobQueue")
            context["videoctl_state_time_limits"] = (queue_name(name), params["jobStateTimeLimitActions"])

    def remember(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        sent = context.get("videoctl_state_time_limits")
        if sent is not None and http_response.status_code < 300:
            limits_by_queue[sent[0]] = sent[1]

    def answer(parsed: dict[str, Any], **_: Any) -> None:
        for queue in parsed.get("jobQueues", []):
            queue["jobStateTimeLimitActions"] = limits_by_queue.get(queue["jobQueueName"], [])

    hooks = [(f"{event}.batch.{operation}", handler)
             for operation in ("CreateJobQueue", "UpdateJobQueue")
             for event, handler in (("provide-client-params", keep_request), ("after-call", remember))]
    hooks.append(("after-call.batch.DescribeJobQueues", answer))
    for event, handler in hooks:
        events.register(event, handler)
    yield
    for event, handler in hooks:
        events.unregister(event, handler)


@functools.cache
def _aws_managed_policy(name: str) -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)[name]


@pytest.fixture
def moto_knows_the_batch_service_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS's AWSBatchServiceRole policy, from moto's own copy of AWS's managed policies.

    moto's ``load_aws_managed_policies`` parses all ~1,000 of them for every fresh account
    (over a second per test); we attach only this one.
    """
    from moto.iam import models

    def only_ours(self: Any) -> list[Any]:
        data = _aws_managed_policy(BATCH_SERVICE_POLICY)
        return [models.AWSManagedPolicy.from_data(BATCH_SERVICE_POLICY, self.account_id, self.region_name, data)]

    monkeypatch.setattr(models.IAMBackend, "_init_aws_policies", only_ours)


@pytest.fixture(scope="module")
def shared_session() -> boto3.session.Session:
    """One boto3 session for every CLI run here: botocore then loads each service model once, not per run."""
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_keeps_state_time_limits: None,
        moto_knows_the_batch_service_policy: None, shared_session: boto3.session.Session) -> Iterator[Aws]:
    from videoctl.commands import _render as _output

    init = AwsClients.__init__
    monkeypatch.setattr(AwsClients, "__init__", lambda self, settings, *, session=None: init(
        self, settings, session=session or shared_session))
    # Wide consoles, so rich does not wrap the rows the assertions read.
    monkeypatch.setattr(_output.stdout, "_width", 250)
    monkeypatch.setattr(_output.stderr, "_width", 250)
    with mock_aws(config=MOTO_CONFIG):
        ec2 = shared_session.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
        group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
        env = {**INFRA_ENV, "AWS_REGION": REGION,
               "VIDEOCTL_HOME": os.environ["VIDEOCTL_HOME"],
               "VIDEO_BATCH_IMAGE_URI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/videoctl:1.0.0",
               "VIDEO_BATCH_SUBNETS": ",".join(subnets), "VIDEO_BATCH_SECURITY_GROUPS": group,
               "R2_ENDPOINT_URL": R2_TEST_ENDPOINT}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # The operator's bucket: infra sets its rules, never creates it. moto's S3 is one store for every
        # endpoint; the R2 client (region "auto") reads it, a us-east-1 client creates it.
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        r2 = r2_client(Settings.from_env(env))
        yield Aws(*(shared_session.client(s) for s in ("batch", "iam", "sqs", "lambda", "ssm", "logs")), r2)


def test_every_infra_command_prints_its_declared_json_document(aws, capsys, monkeypatch):
    from tests.contract import document_problems, leaf_commands

    runs = [("setup", "--dry-run"), ("setup",), ("verify",), ("register-jobdef",), ("lambda-setup", "--dry-run"),
            ("lambda-setup",)]
    for args in runs:
        result = infra(capsys, *args, "--json")
        assert result.exit_code == 0, (args, result.stdout)
        assert document_problems(f"infra {args[0]}", result.json()["data"]) == [], args
    # A SKIPPED row, with its note, in both documents.
    monkeypatch.delenv("VIDEOCTL_UPLOAD_ORIGINS")
    for args in (("verify",), ("setup", "--dry-run"), ("setup",)):
        result = infra(capsys, *args, "--json")
        assert result.exit_code == 0, (args, result.stdout)
        assert document_problems(f"infra {args[0]}", result.json()["data"]) == [], args
        assert [row["status"] for row in result.json()["data"]["plan"] if row["note"]] == ["SKIPPED"]
    assert {f"infra {args[0]}" for args in runs} == {c for c in leaf_commands() if c.startswith("infra ")}


def infra(capsys: pytest.CaptureFixture[str], *args: str):
    return run_cli(capsys, "infra", *args)


def not_ok(plan: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(row["kind"], row["name"], row["status"]) for row in plan if row["status"] != "OK"]


def test_fresh_account_setup_creates_everything_then_verify_passes_and_setup_is_idempotent(aws, capsys):
    before = infra(capsys, "verify", "--json")
    assert before.exit_code == EXIT_CODES["drift"] == 13
    error = before.json()["error"]
    assert error["code"] == "drift" and error["ok"] is False
    assert {row["status"] for row in error["plan"] if row["kind"] != "playback_edge"} == {"MISSING"}
    assert len(error["plan"]) == RESOURCES

    setup = infra(capsys, "setup", "--json")
    assert setup.exit_code == 0, setup.stdout + setup.stderr
    data = setup.json()["data"]
    assert data["changed"] is True and data["in_sync_before"] is False
    assert data["not_done"] == [] and data["manual"] == []
    assert "batch:CreateComputeEnvironment" in [row["api"] for row in data["done"]]

    after = infra(capsys, "verify", "--json")
    assert after.exit_code == 0, after.stdout
    assert after.json()["data"]["ok"] is True and not_ok(after.json()["data"]["plan"]) == []
    human = infra(capsys, "verify")
    assert human.exit_code == 0 and f"all {RESOURCES} resources match infra/json" in human.stdout

    again = infra(capsys, "setup", "--json")
    assert again.exit_code == 0 and again.json()["data"]["changed"] is False and again.json()["data"]["done"] == []
    assert again.json()["data"]["in_sync_before"] is True
    again_human = infra(capsys, "setup")
    assert again_human.exit_code == 0 and f"nothing to change, all {RESOURCES} resources match" in again_human.stdout

    # What setup built, read back through boto3.
    jd = aws.batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")["jobDefinitions"]
    assert [d["revision"] for d in jd] == [1] and jd[0]["retryStrategy"] == {"attempts": 1}
    assert jd[0]["containerProperties"]["command"] == ["videoctl", "run-job", "Ref::job_id"]
    queue = aws.batch.describe_job_queues(jobQueues=[JOB_QUEUE])["jobQueues"][0]
    assert queue["jobStateTimeLimitActions"][0]["action"] == "CANCEL"
    assert queue["computeEnvironmentOrder"][0]["computeEnvironment"].endswith(f"compute-environment/{CE}")
    url = aws.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attrs = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":academy-video-delete-r2-dlq")
    assert int(attrs["VisibilityTimeout"]) >= 6 * aws.lambda_.get_function_configuration(FunctionName=FUNCTION)["Timeout"]
    mapping = aws.lambda_.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
    assert [m["FunctionResponseTypes"] for m in mapping] == [["ReportBatchItemFailures"]]
    assert aws.lambda_.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"] == code_sha256(build_lambda_zip())
    service_trust = aws.iam.get_role(RoleName="academy-video-batch-service-role")["Role"]["AssumeRolePolicyDocument"]
    assert [s.get("Condition") for s in service_trust["Statement"]] == [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}}]
    job_policy = aws.iam.get_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl")
    assert "ssm:" not in json.dumps(job_policy["PolicyDocument"])
    secret = aws.ssm.get_parameter(Name="/academy/video/R2_SECRET_ACCESS_KEY", WithDecryption=True)["Parameter"]
    assert secret["Type"] == "SecureString" and secret["Value"] == INFRA_ENV["R2_SECRET_ACCESS_KEY"]
    for output in (before, setup, after, human, again, again_human):
        assert not any(value in output.stdout + output.stderr for value in SECRET_VALUES)


def test_retry_drift_is_named_and_register_jobdef_fixes_it(aws, capsys):
    assert infra(capsys, "setup", "--json").exit_code == 0
    current = aws.batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")["jobDefinitions"][0]
    keep = ("type", "parameters", "timeout", "containerProperties", "platformCapabilities", "propagateTags")
    aws.batch.register_job_definition(jobDefinitionName=JOBDEF, retryStrategy={"attempts": 3},
                                      **{k: current[k] for k in keep})  # someone turned Batch retries on

    drift = infra(capsys, "verify")
    assert drift.exit_code == 13
    assert f"job_definition {JOBDEF} (DRIFT)" in drift.stderr
    assert "retryStrategy.attempts: 3 → 1" in drift.stdout
    as_json = infra(capsys, "verify", "--json").json()["error"]
    assert not_ok(as_json["plan"]) == [("job_definition", JOBDEF, "DRIFT")]
    row = next(r for r in as_json["plan"] if r["kind"] == "job_definition")
    assert row["diff"][0]["field"] == "retryStrategy.attempts" and row["diff"][0]["live"] == 3
    assert row["actions"] == [{"api": "batch:RegisterJobDefinition", "description":
                               "register revision 3 (revision 2 differs)"}]

    fixed = infra(capsys, "register-jobdef", "--json")
    assert fixed.exit_code == 0, fixed.stdout
    data = fixed.json()["data"]
    assert data["registered"] is True and data["arn"].endswith(f"job-definition/{JOBDEF}:3")
    latest = max(aws.batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")["jobDefinitions"],
                 key=lambda d: d["revision"])
    assert latest["revision"] == 3 and latest["retryStrategy"] == {"attempts": 1}
    assert infra(capsys, "verify").exit_code == 0

    current_again = infra(capsys, "register-jobdef")
    assert current_again.exit_code == 0 and "job definition is current: " in current_again.stdout
    assert current_again.stdout.strip().endswith(f"{JOBDEF}:3")


def test_dry_run_prints_the_plan_and_changes_nothing(aws, capsys):
    dry = infra(capsys, "setup", "--dry-run", "--json")
    assert dry.exit_code == 0
    data = dry.json()["data"]
    assert data["dry_run"] is True
    assert {row["status"] for row in data["plan"] if row["kind"] != "playback_edge"} == {"MISSING"}
    assert aws.iam.list_roles()["Roles"] == []
    assert aws.batch.describe_compute_environments()["computeEnvironments"] == []
    human = infra(capsys, "setup", "--dry-run")
    assert human.exit_code == 0 and "nothing changed" in human.stdout and "create role" in human.stdout


def deny(monkeypatch: pytest.MonkeyPatch, service: str, operation: str, code: str) -> None:
    """Every client the CLI builds answers AccessDenied to one API call, as a missing IAM permission would."""
    original = AwsClients.client

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        message = f"User: arn:aws:iam::{ACCOUNT}:user/deployer is not authorized to perform: {service}:{operation}"
        return AWSResponse("https://aws.invalid", 403, {}, None), {
            "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}

    def client(self: AwsClients, name: str, **config: Any) -> Any:
        built = original(self, name, **config)
        if name == service:
            built.meta.events.register(f"before-call.{service}.{operation}", refuse)
        return built

    monkeypatch.setattr(AwsClients, "client", client)


def test_access_denied_names_the_action_and_lists_what_was_and_was_not_done(aws, capsys, monkeypatch):
    deny(monkeypatch, "batch", "CreateComputeEnvironment", "AccessDeniedException")
    failed = infra(capsys, "setup", "--json")
    assert failed.exit_code == EXIT_CODES["aws_error"] == 8
    error = failed.json()["error"]
    assert error["code"] == "aws_error"
    assert error["message"].startswith("batch:CreateComputeEnvironment failed: AccessDeniedException")
    done = {(r["kind"], r["api"]) for r in error["done"]}
    assert ("iam_role", "iam:CreateRole") in done and ("sqs_queue", "sqs:CreateQueue") in done
    not_done = [(r["api"], r["status"]) for r in error["not_done"]]
    assert not_done[0] == ("batch:CreateComputeEnvironment", "failed")
    assert {api for api, status in not_done[1:] if status == "not_attempted"} == {
        "batch:CreateJobQueue", "batch:RegisterJobDefinition", "lambda:CreateFunction",
        "lambda:CreateEventSourceMapping", "s3:PutBucketCors"}

    human = infra(capsys, "setup")
    assert human.exit_code == 8
    assert "batch:CreateComputeEnvironment failed: AccessDeniedException" in human.stderr
    assert "not_attempted" in human.stdout and "failed" in human.stdout  # the table of what was not done


def test_a_rerun_after_access_denied_finishes_the_job(aws, capsys, monkeypatch):
    original = AwsClients.client
    deny(monkeypatch, "lambda", "CreateEventSourceMapping", "AccessDeniedException")
    first = infra(capsys, "setup", "--json")
    assert first.exit_code == 8
    assert [r["api"] for r in first.json()["error"]["not_done"]] == ["lambda:CreateEventSourceMapping",
                                                                      "s3:PutBucketCors"]
    monkeypatch.setattr(AwsClients, "client", original)
    second = infra(capsys, "setup", "--json")
    assert second.exit_code == 0
    assert [r["api"] for r in second.json()["data"]["done"]] == ["lambda:CreateEventSourceMapping",
                                                                 "s3:PutBucketCors"]
    assert infra(capsys, "verify").exit_code == 0


def test_drift_is_repaired_in_place(aws, capsys):
    assert infra(capsys, "setup", "--json").exit_code == 0
    aws.batch.update_compute_environment(computeEnvironment=CE, state="DISABLED")
    aws.batch.update_job_queue(jobQueue=JOB_QUEUE, priority=7)
    url = aws.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    aws.iam.put_role_policy(RoleName="academy-video-batch-job-role", PolicyName="hand-made", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x"}]}))
    aws.lambda_.update_function_configuration(FunctionName=FUNCTION, Timeout=3)
    aws.logs.put_retention_policy(logGroupName="/aws/batch/academy-video", retentionInDays=1)

    drift = infra(capsys, "verify", "--json").json()["error"]
    assert sorted(not_ok(drift["plan"])) == sorted([
        ("iam_role", "academy-video-batch-job-role", "DRIFT"), ("log_group", "/aws/batch/academy-video", "DRIFT"),
        ("sqs_queue", QUEUE, "DRIFT"), ("compute_environment", CE, "DRIFT"), ("job_queue", JOB_QUEUE, "DRIFT"),
        ("lambda_function", FUNCTION, "DRIFT")])

    fixed = infra(capsys, "setup", "--json")
    assert fixed.exit_code == 0
    assert sorted(r["api"] for r in fixed.json()["data"]["done"]) == [
        "batch:UpdateComputeEnvironment", "batch:UpdateJobQueue", "iam:DeleteRolePolicy",
        "lambda:UpdateFunctionConfiguration", "logs:PutRetentionPolicy", "sqs:SetQueueAttributes"]
    assert infra(capsys, "verify").exit_code == 0
    assert aws.iam.list_role_policies(RoleName="academy-video-batch-job-role")["PolicyNames"] == ["videoctl"]


def test_roles_set_up_from_the_earlier_documents_are_tightened(aws, capsys):
    """An account set up before the job role lost its SSM reads and Batch's trust gained aws:SourceAccount."""
    assert infra(capsys, "setup", "--json").exit_code == 0
    job_policy = aws.iam.get_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl")
    earlier = job_policy["PolicyDocument"]
    earlier["Statement"].insert(0, {"Sid": "ReadOwnParameters", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                                    "Resource": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/academy/video/DATABASE_URL"]})
    aws.iam.put_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl",
                            PolicyDocument=json.dumps(earlier))
    aws.iam.update_assume_role_policy(RoleName="academy-video-batch-service-role", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))

    drift = infra(capsys, "verify", "--json").json()["error"]
    assert sorted(not_ok(drift["plan"])) == [("iam_role", "academy-video-batch-job-role", "DRIFT"),
                                             ("iam_role", "academy-video-batch-service-role", "DRIFT")]
    fixed = infra(capsys, "setup", "--json")
    assert sorted(r["api"] for r in fixed.json()["data"]["done"]) == ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"]
    assert infra(capsys, "verify").exit_code == 0
    job_policy = aws.iam.get_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl")
    assert "ssm:" not in json.dumps(job_policy["PolicyDocument"])


def test_lambda_setup_deploys_the_function_its_queues_and_trigger_alone(aws, capsys):
    result = infra(capsys, "lambda-setup", "--json")
    assert result.exit_code == 0, result.stdout
    kinds = {row["kind"] for row in result.json()["data"]["plan"]}
    assert kinds == {"iam_role", "ssm_parameter", "sqs_queue", "lambda_function", "event_source_mapping"}
    assert aws.batch.describe_compute_environments()["computeEnvironments"] == []  # Batch untouched
    assert aws.iam.get_role(RoleName="academy-video-delete-r2-lambda-role")["Role"]["Arn"]
    assert {p["Name"] for p in aws.ssm.describe_parameters()["Parameters"]} == {
        "/academy/video/R2_ACCESS_KEY_ID", "/academy/video/R2_SECRET_ACCESS_KEY"}

    # Someone deploys other code: verify sees it, lambda-setup puts ours back.
    import io
    import zipfile

    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("worker/delete_r2_handler.py", "def handler(event, context):\n    return {}\n")
    aws.lambda_.update_function_code(FunctionName=FUNCTION, ZipFile=other.getvalue())
    drift = infra(capsys, "lambda-setup", "--dry-run", "--json").json()["data"]
    assert not_ok(drift["plan"]) == [("lambda_function", FUNCTION, "DRIFT")]
    assert drift["plan"][-2]["diff"][0]["field"] == "CodeSha256"
    again = infra(capsys, "lambda-setup", "--json")
    assert [r["api"] for r in again.json()["data"]["done"]] == ["lambda:UpdateFunctionCode"]
    assert aws.lambda_.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"] == code_sha256(build_lambda_zip())
    assert infra(capsys, "lambda-setup", "--json").json()["data"]["changed"] is False


def test_a_secret_nobody_set_is_left_to_a_person(aws, capsys, monkeypatch):
    monkeypatch.delenv("REDIS_URL")
    result = infra(capsys, "setup", "--json")
    assert result.exit_code == 13
    error = result.json()["error"]
    assert "REDIS_URL" in error["message"] and error["not_done"] == []
    assert any(r["api"] == "batch:RegisterJobDefinition" for r in error["done"])  # everything else was applied
    assert not_ok(infra(capsys, "verify", "--json").json()["error"]["plan"]) == [
        ("ssm_parameter", "/academy/video/REDIS_URL", "MISSING")]


def test_document_mistakes_stop_before_any_aws_call(aws, capsys, monkeypatch, tmp_path):
    import shutil

    from videoctl.infra.files import DEFAULT_DIR

    root = tmp_path / "json"
    shutil.copytree(DEFAULT_DIR, root)
    path = root / "batch" / "job_definition.json"
    document = json.loads(path.read_text())
    document["retryStrategy"] = {"attempts": 3}
    path.write_text(json.dumps(document))
    monkeypatch.setenv("VIDEOCTL_INFRA_DIR", str(root))
    monkeypatch.setattr(AwsClients, "client", lambda *a, **k: pytest.fail("an AWS client was built"))

    result = infra(capsys, "setup", "--json")
    assert result.exit_code == EXIT_CODES["invalid_input"] == 3
    assert "retryStrategy.attempts is 3; videoctl requires 1" in result.json()["error"]["message"]

    monkeypatch.setenv("VIDEOCTL_INFRA_DIR", str(DEFAULT_DIR))
    monkeypatch.delenv("VIDEO_BATCH_IMAGE_URI")
    unset = infra(capsys, "verify", "--json")
    assert unset.exit_code == EXIT_CODES["config_error"] == 6
    assert "${IMAGE_URI} has no value: set VIDEO_BATCH_IMAGE_URI" in unset.json()["error"]["message"]


def test_account_id_from_settings_skips_sts(aws, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCOUNT_ID", ACCOUNT)
    original = AwsClients.client

    def no_sts(self: AwsClients, name: str, **config: Any) -> Any:
        assert name != "sts", "STS was called although AWS_ACCOUNT_ID is set"
        return original(self, name, **config)

    monkeypatch.setattr(AwsClients, "client", no_sts)
    assert infra(capsys, "setup", "--dry-run", "--json").exit_code == 0


# ---------------------------------------------------------------- the R2 bucket's CORS rules


def cors_row(plan: list[dict[str, Any]]) -> dict[str, Any]:
    (row,) = [r for r in plan if r["kind"] == "r2_cors"]
    return row


def preflight(origin: str) -> Any:
    """What a browser asks R2 before PUTting one part of an upload from ``origin``."""
    import requests

    return requests.options(f"{R2_TEST_ENDPOINT}/{BUCKET}/videos/1/source.mp4", timeout=5, headers={
        "Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"})


def test_bucket_cors_missing_is_set_by_setup_and_then_verified(aws, capsys):
    before = infra(capsys, "verify", "--json").json()["error"]
    row = cors_row(before["plan"])
    assert (row["name"], row["status"], row["source"]) == (BUCKET, "MISSING", "infra/json/r2/cors.json")
    assert row["actions"] == [{"api": "s3:PutBucketCors", "description":
                               "allow GET/PUT from http://localhost:3000, https://app.example.com (ETag exposed)"}]
    # No rule yet: the preflight grants nothing, so a browser upload fails here.
    assert "Access-Control-Allow-Origin" not in preflight(ORIGINS[0]).headers

    setup = infra(capsys, "setup", "--json")
    assert setup.exit_code == 0, setup.stdout
    assert [(r["kind"], r["api"]) for r in setup.json()["data"]["done"] if r["kind"] == "r2_cors"] == [
        ("r2_cors", "s3:PutBucketCors")]
    (rule,) = aws.r2.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ORIGINS and sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"] and rule["AllowedHeaders"] == ["content-type"]
    assert rule["MaxAgeSeconds"] == 3600

    after = infra(capsys, "verify", "--json")
    assert after.exit_code == 0 and cors_row(after.json()["data"]["plan"])["status"] == "OK"
    allowed = preflight(ORIGINS[0])
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == ORIGINS[0]
    assert allowed.headers["Access-Control-Expose-Headers"] == "ETag"
    assert preflight("https://elsewhere.example").status_code == 403


def test_bucket_cors_drift_is_shown_and_put_back(aws, capsys):
    assert infra(capsys, "setup", "--json").exit_code == 0
    # Someone narrows the origins by hand and drops the ETag; another rule appears.
    aws.r2.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://old.example.com"], "AllowedMethods": ["PUT", "GET"],
         "AllowedHeaders": ["content-type"], "MaxAgeSeconds": 3600},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["DELETE"]}]})

    drift = infra(capsys, "verify")
    assert drift.exit_code == 13 and f"r2_cors {BUCKET} (DRIFT)" in drift.stderr
    assert "CORSRules[0].ExposeHeaders: [] → ['etag'] (a browser uploading in parts" in drift.stdout
    row = cors_row(infra(capsys, "verify", "--json").json()["error"]["plan"])
    assert [(d["field"], d["note"]) for d in row["diff"]] == [
        ("CORSRules[0].AllowedOrigins", None),
        ("CORSRules[0].ExposeHeaders", "a browser uploading in parts must read each part's ETag"),
        ("CORSRules[1]", "not in infra/json")]
    assert row["diff"][0]["live"] == ["https://old.example.com"]
    assert [a["api"] for a in row["actions"]] == ["s3:PutBucketCors"]
    assert not_ok(infra(capsys, "verify", "--json").json()["error"]["plan"]) == [("r2_cors", BUCKET, "DRIFT")]

    fixed = infra(capsys, "setup", "--json")
    assert fixed.exit_code == 0 and [r["api"] for r in fixed.json()["data"]["done"]] == ["s3:PutBucketCors"]
    (rule,) = aws.r2.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ORIGINS and rule["ExposeHeaders"] == ["ETag"]
    assert infra(capsys, "verify").exit_code == 0


def test_new_upload_origins_are_drift_until_setup(aws, capsys, monkeypatch):
    assert infra(capsys, "setup", "--json").exit_code == 0
    monkeypatch.setenv("VIDEOCTL_UPLOAD_ORIGINS", "https://app.example.com,https://admin.example.com")
    row = cors_row(infra(capsys, "verify", "--json").json()["error"]["plan"])
    assert row["status"] == "DRIFT" and row["diff"][0]["desired"] == ["https://admin.example.com",
                                                                     "https://app.example.com"]
    assert infra(capsys, "setup", "--json").exit_code == 0
    assert aws.r2.get_bucket_cors(Bucket=BUCKET)["CORSRules"][0]["AllowedOrigins"] == [
        "https://app.example.com", "https://admin.example.com"]


def test_without_upload_origins_the_bucket_cors_is_skipped_and_left_alone(aws, capsys, monkeypatch):
    """An existing setup keeps working: no VIDEOCTL_UPLOAD_ORIGINS, no R2 call, the rules stay as they are."""
    hand_made = {"CORSRules": [{"AllowedOrigins": ["https://mine.example"], "AllowedMethods": ["GET"]}]}
    aws.r2.put_bucket_cors(Bucket=BUCKET, CORSConfiguration=hand_made)
    monkeypatch.delenv("VIDEOCTL_UPLOAD_ORIGINS")
    monkeypatch.setattr("videoctl.aws.clients.r2_client", lambda *_: pytest.fail("an R2 client was built"))

    setup = infra(capsys, "setup", "--json")
    assert setup.exit_code == 0, setup.stdout
    row = cors_row(setup.json()["data"]["plan"])
    assert row["status"] == "SKIPPED" and row["actions"] == [] and row["diff"] == []
    assert row["note"].startswith("VIDEOCTL_UPLOAD_ORIGINS is not set: the bucket's CORS rules are left as they are")
    assert not any(r["kind"] == "r2_cors" for r in setup.json()["data"]["done"])

    human = infra(capsys, "verify")
    assert human.exit_code == 0
    assert f"all {RESOURCES - 1} resources match infra/json; not managed: r2_cors {BUCKET} " \
           "(VIDEOCTL_UPLOAD_ORIGINS is not set" in " ".join(human.stdout.split())
    assert "SKIPPED" in human.stdout
    assert aws.r2.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == hand_made["CORSRules"]


def test_a_missing_bucket_is_left_to_a_person_and_everything_else_applied(aws, capsys):
    aws.r2.delete_bucket(Bucket=BUCKET)
    result = infra(capsys, "setup", "--json")
    assert result.exit_code == 13
    error = result.json()["error"]
    assert f"the bucket {BUCKET} does not exist at R2_ENDPOINT_URL" in error["message"]
    assert error["not_done"] == [] and any(r["api"] == "batch:RegisterJobDefinition" for r in error["done"])
    row = cors_row(infra(capsys, "verify", "--json").json()["error"]["plan"])
    assert row["status"] == "MISSING" and row["actions"] == [] and "wrangler r2 bucket create" in row["manual"][0]


def test_an_r2_token_that_may_not_read_the_rules_names_the_call_and_the_permission(aws, capsys, monkeypatch):
    from videoctl.aws import clients

    built = clients.r2_client

    def refusing(settings: Settings) -> Any:
        client = built(settings)

        def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            return AWSResponse(R2_TEST_ENDPOINT, 403, {}, None), {
                "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                "ResponseMetadata": {"HTTPStatusCode": 403}}

        client.meta.events.register("before-call.s3.GetBucketCors", refuse)
        return client

    monkeypatch.setattr(clients, "r2_client", refusing)
    result = infra(capsys, "verify", "--json")
    assert result.exit_code == EXIT_CODES["aws_error"] == 8
    error = result.json()["error"]
    assert error["message"] == "s3:GetBucketCors failed: AccessDenied: Access Denied"
    assert "Admin Read & Write" in error["hint"] and "VIDEOCTL_UPLOAD_ORIGINS" in error["hint"]
    assert not any(value in result.stdout + result.stderr for value in SECRET_VALUES)


def test_a_malformed_upload_origin_is_a_config_error_before_any_call(aws, capsys, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_UPLOAD_ORIGINS", "https://app.example.com/upload")
    monkeypatch.setattr(AwsClients, "client", lambda *a, **k: pytest.fail("an AWS client was built"))
    for args in (("verify",), ("setup",), ("setup", "--dry-run")):
        result = infra(capsys, *args, "--json")
        assert result.exit_code == EXIT_CODES["config_error"] == 6
        error = result.json()["error"]
        assert error["code"] == "config_error"
        assert "VIDEOCTL_UPLOAD_ORIGINS entry 'https://app.example.com/upload' has a path" in error["message"]


def playback_row(plan: list[dict[str, Any]]) -> dict[str, Any]:
    (row,) = [r for r in plan if r["kind"] == "playback_edge"]
    return row


def test_verify_checks_the_playback_settings_and_skips_them_when_unset(aws, capsys, monkeypatch):
    assert infra(capsys, "setup", "--json").exit_code == 0
    ok = infra(capsys, "verify", "--json")
    assert ok.exit_code == 0 and playback_row(ok.json()["data"]["plan"])["status"] == "OK"
    assert not any(value in ok.stdout for value in SECRET_VALUES)

    monkeypatch.setenv("VIDEOCTL_PLAYBACK_BASE_URL", "http://127.0.0.1:8080")  # local mode: not for viewers
    drift = infra(capsys, "verify", "--json")
    assert drift.exit_code == 13 and not_ok(drift.json()["error"]["plan"]) == [
        ("playback_edge", "http://127.0.0.1:8080", "DRIFT")]
    assert "https" in json.dumps(playback_row(drift.json()["error"]["plan"])["diff"])

    monkeypatch.delenv("VIDEOCTL_PLAYBACK_BASE_URL")
    skipped = infra(capsys, "verify")
    assert skipped.exit_code == 0 and "SKIPPED" in skipped.stdout
    assert "not managed: playback_edge (no playback base URL) (VIDEOCTL_PLAYBACK_BASE_URL is not set" in \
        " ".join(skipped.stdout.split())


def test_the_job_role_may_submit_find_and_stop_chunks_on_the_queue_and_definition_setup_made(aws, capsys):
    """The lead container submits its chunks (an array job, or one chunk alone): setup gives the
    job role SubmitJob on the very queue and job definition it created; an account set up before
    chunked encoding is drift until setup adds it."""
    assert infra(capsys, "setup", "--json").exit_code == 0
    queue_arn = aws.batch.describe_job_queues(jobQueues=[JOB_QUEUE])["jobQueues"][0]["jobQueueArn"]
    [definition] = aws.batch.describe_job_definitions(jobDefinitionName=JOBDEF, status="ACTIVE")["jobDefinitions"]
    assert (definition["retryStrategy"], definition["timeout"]) == ({"attempts": 1}, {"attemptDurationSeconds": 10800})
    policy = aws.iam.get_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl")["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    submit = by_sid["SubmitChunksToOurQueue"]
    assert submit["Action"] == "batch:SubmitJob" and queue_arn in submit["Resource"]
    # The revision setup registered (JOBDEF:1) is covered, and so is the name without one.
    definition_arn = definition["jobDefinitionArn"]
    assert definition_arn.endswith(f"job-definition/{JOBDEF}:1")
    assert definition_arn.rsplit(":", 1)[0] in submit["Resource"] and f"{definition_arn.rsplit(':', 1)[0]}:*" in submit["Resource"]
    assert by_sid["FindChunksHasNoResourceLevelPermission"]["Action"] == ["batch:DescribeJobs", "batch:ListJobs"]
    assert by_sid["StopChunks"]["Action"] == "batch:TerminateJob"
    assert by_sid["TagChunksAsTheyAreSubmitted"]["Condition"] == {"StringEquals": {"batch:CreateAction": "SubmitJob"}}

    earlier = {**policy, "Statement": [s for s in policy["Statement"] if not s["Sid"].endswith(("Queue", "Submitted",
                                                                                                   "Chunks", "Permission"))]}
    assert [s["Sid"] for s in earlier["Statement"]] == ["WriteOwnLogs", "EnqueueR2Deletes"]
    aws.iam.put_role_policy(RoleName="academy-video-batch-job-role", PolicyName="videoctl",
                            PolicyDocument=json.dumps(earlier))
    drift = infra(capsys, "verify", "--json").json()["error"]
    assert not_ok(drift["plan"]) == [("iam_role", "academy-video-batch-job-role", "DRIFT")]
    fixed = infra(capsys, "setup", "--json")
    assert [r["api"] for r in fixed.json()["data"]["done"]] == ["iam:PutRolePolicy"]
    assert infra(capsys, "verify").exit_code == 0
