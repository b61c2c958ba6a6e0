"""infra/json: placeholders resolve from settings, or fail naming the variable; bad JSON names file and line."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.infra import documents, files, placeholders
from videoctl.infra.files import CHECKOUT_DIR, DEFAULT_DIR, INSTALLED_DIR
from videoctl.infra.model import Kind, SecretRef
from videoctl.settings import Settings

ACCOUNT = "123456789012"

#: Everything the documents need, as an operator would set it.
INFRA_ENV = {
    "AWS_REGION": "eu-west-1",
    "VIDEO_BATCH_IMAGE_URI": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/videoctl/worker:1.4.2",
    "VIDEO_BATCH_SUBNETS": "subnet-aaa, subnet-bbb",
    "VIDEO_BATCH_SECURITY_GROUPS": "sg-111",
    "R2_BUCKET": "videos",
    "R2_ENDPOINT_URL": "https://acct.r2.cloudflarestorage.com",
    "R2_ACCESS_KEY_ID": "r2-key-id-value",
    "R2_SECRET_ACCESS_KEY": "r2-secret-value",
    "VIDEOCTL_DATABASE_URL": "postgresql://app:db-password@db.internal/video",
    "REDIS_URL": "redis://:redis-password@redis.internal:6379/0",
    "VIDEOCTL_HOME": "/tmp/videoctl-infra-test-home",
    "VIDEOCTL_UPLOAD_ORIGINS": "https://app.example.com, http://localhost:3000",
    "VIDEOCTL_PLAYBACK_KEYS": "k2026a:playback-secret-value-0123456789abcdef",
    "VIDEOCTL_PLAYBACK_BASE_URL": "https://media.example.com",
}
SECRET_VALUES = ("r2-key-id-value", "r2-secret-value", "db-password", "redis-password",
                 "playback-secret-value-0123456789abcdef")


def settings(**overrides: str | None) -> Settings:
    env = {**INFRA_ENV, **overrides}
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def test_shipped_documents_resolve_completely():
    docs = files.load(settings(), ACCOUNT)
    text = json.dumps([docs.roles, docs.compute_env, docs.job_queue, docs.job_definition, docs.dlq, docs.queue,
                       docs.function, docs.event_source, docs.log_group, docs.cors])
    assert "${" not in text
    assert docs.compute_env["computeResources"]["subnets"] == ["subnet-aaa", "subnet-bbb"]  # typed: a list
    assert docs.compute_env["computeResources"]["maxvCpus"] == 256  # typed: an int
    assert docs.compute_env["computeResources"]["type"] == "FARGATE"
    jd = docs.job_definition
    assert jd["jobDefinitionName"] == "academy-video-batch-jobdef"
    assert jd["containerProperties"]["command"] == ["videoctl", "run-job", "Ref::job_id"]
    assert jd["retryStrategy"] == {"attempts": 1}
    secrets = {s["name"]: s["valueFrom"] for s in jd["containerProperties"]["secrets"]}
    assert secrets["DATABASE_URL"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/academy/video/DATABASE_URL"
    assert set(secrets) == {"DATABASE_URL", "R2_ENDPOINT_URL", "R2_BUCKET", "R2_ACCESS_KEY_ID",
                            "R2_SECRET_ACCESS_KEY", "REDIS_URL"}
    env = {e["name"]: e["value"] for e in jd["containerProperties"]["environment"]}
    assert env["VIDEO_BATCH_JOB_QUEUE"] == "academy-video-batch-queue"
    assert jd["containerProperties"]["logConfiguration"]["options"]["awslogs-group"] == "/aws/batch/academy-video"
    execution = next(r for r in docs.roles if r["RoleName"] == "academy-video-batch-execution-role")
    pull = next(s for s in execution["InlinePolicyDocument"]["Statement"] if s["Sid"] == "PullTheImage")
    assert pull["Resource"] == f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/videoctl/worker"
    assert docs.queue["Attributes"]["RedrivePolicy"]["deadLetterTargetArn"] == \
        f"arn:aws:sqs:eu-west-1:{ACCOUNT}:academy-video-delete-r2-dlq"
    assert docs.event_source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (rule,) = docs.cors["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://app.example.com", "http://localhost:3000"]  # typed: a list
    assert rule["AllowedMethods"] == ["PUT", "GET"] and rule["ExposeHeaders"] == ["ETag"]
    assert docs.cors_skipped is None


def test_settings_rename_resources():
    docs = files.load(settings(VIDEO_BATCH_JOB_QUEUE="q2", VIDEO_DELETE_R2_QUEUE="del",
                                   VIDEO_BATCH_COMPUTE_TYPE="fargate_spot", VIDEOCTL_SSM_PREFIX="/x/y"), ACCOUNT)
    assert docs.job_queue["jobQueueName"] == "q2"
    assert docs.dlq["QueueName"] == "del-dlq"
    assert docs.compute_env["computeResources"]["type"] == "FARGATE_SPOT"
    assert docs.function["Environment"]["Variables"]["R2_ACCESS_KEY_ID_PARAMETER"] == "/x/y/R2_ACCESS_KEY_ID"


@pytest.mark.parametrize(("unset", "placeholder"), [
    ("VIDEO_BATCH_IMAGE_URI", "${IMAGE_URI}"),
    ("VIDEO_BATCH_SUBNETS", "${SUBNET_IDS}"),
    ("VIDEO_BATCH_SECURITY_GROUPS", "${SECURITY_GROUP_IDS}"),
])
def test_unresolved_placeholder_names_it_and_the_variable(unset, placeholder):
    with pytest.raises(ConfigError) as err:
        files.load(settings(**{unset: None}), ACCOUNT)
    assert placeholder in err.value.message and unset in err.value.message
    assert "infra/json/" in err.value.message


def test_r2_bucket_unset_is_named():
    env = {k: v for k, v in INFRA_ENV.items() if not k.startswith("R2_")}
    with pytest.raises(ConfigError) as err:
        files.load(Settings.from_env(env), ACCOUNT)
    assert "${R2_BUCKET}" in err.value.message and "set R2_BUCKET" in err.value.message


def test_non_ecr_image_is_refused_naming_the_variable():
    with pytest.raises(ConfigError) as err:
        files.load(settings(VIDEO_BATCH_IMAGE_URI="docker.io/library/videoctl:1"), ACCOUNT)
    assert "VIDEO_BATCH_IMAGE_URI" in err.value.message and "ECR" in err.value.message


def test_bad_ssm_prefix_and_account():
    with pytest.raises(ConfigError, match="VIDEOCTL_SSM_PREFIX"):
        files.load(settings(VIDEOCTL_SSM_PREFIX="academy/video/"), ACCOUNT)
    with pytest.raises(ConfigError, match="12 digits"):
        files.load(settings(), "12345")


def test_fill_rules():
    known = {"REGION": "eu-west-1", "SUBNET_IDS": ["a", "b"], "MAX_VCPUS": 8, "IMAGE_URI": None}
    known = {**{name: None for name in placeholders.PROVIDERS}, **known}
    assert placeholders.fill({"x": "${MAX_VCPUS}", "y": "n-${REGION}-${MAX_VCPUS}"}, known, "f") == \
        {"x": 8, "y": "n-eu-west-1-8"}
    with pytest.raises(ConfigError, match="list and must be a whole JSON value"):
        placeholders.fill({"x": "s-${SUBNET_IDS}"}, known, "f")
    with pytest.raises(ConfigError, match=r"\$\{NOPE\} is not a known placeholder"):
        placeholders.fill({"x": "${NOPE}"}, known, "f")
    with pytest.raises(ConfigError) as err:
        placeholders.fill({"a": "${IMAGE_URI}", "b": ["${NOPE}"]}, known, "infra/json/x.json")
    assert "placeholders" in err.value.message and "VIDEO_BATCH_IMAGE_URI" in err.value.message  # all at once
    with pytest.raises(ConfigError, match="malformed placeholder"):
        placeholders.fill({"x": "${region"}, known, "f")


def _copy_docs(tmp_path: Path) -> Path:
    root = tmp_path / "json"
    shutil.copytree(DEFAULT_DIR, root)
    return root


def test_bad_json_names_file_and_line(tmp_path):
    root = _copy_docs(tmp_path)
    path = root / "batch" / "job_queue.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rstrip(",")  # drop a comma on line 4
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError) as err:
        files.load(settings(VIDEOCTL_INFRA_DIR=str(root)), ACCOUNT)
    assert "infra/json/batch/job_queue.json" in err.value.message
    assert "line 5" in err.value.message  # where the parser notices the missing comma


def test_missing_document_and_directory(tmp_path):
    root = _copy_docs(tmp_path)
    (root / "sqs" / "delete_r2_dlq.json").unlink()
    with pytest.raises(ConfigError, match="infra/json/sqs/delete_r2_dlq.json is missing"):
        files.load(settings(VIDEOCTL_INFRA_DIR=str(root)), ACCOUNT)
    with pytest.raises(ConfigError, match="VIDEOCTL_INFRA_DIR"):
        files.load(settings(VIDEOCTL_INFRA_DIR=str(tmp_path / "nowhere")), ACCOUNT)


def test_desired_resources_order_and_ssm_parameters():
    s = settings(REDIS_URL=None)
    wanted = documents.desired_resources(files.load(s, ACCOUNT), s, b"zip")
    kinds = [d.kind for d in wanted]
    assert kinds == sorted(kinds, key=list(Kind).index)
    params = {d.name: d.spec for d in wanted if d.kind is Kind.SSM_PARAMETER}
    assert params["/academy/video/DATABASE_URL"]["Type"] == "SecureString"
    assert params["/academy/video/R2_BUCKET"]["Type"] == "String"  # not a secret setting
    assert params["/academy/video/R2_ACCESS_KEY_ID"]["Value"] == SecretRef("R2_ACCESS_KEY_ID", "r2_access_key_id")
    assert params["/academy/video/REDIS_URL"]["ValueAvailable"] is False
    groups = {d.name: d.groups for d in wanted if d.kind is Kind.SSM_PARAMETER}
    assert groups["/academy/video/R2_SECRET_ACCESS_KEY"] == {"batch", "lambda"}
    assert groups["/academy/video/DATABASE_URL"] == {"batch"}
    fn = next(d for d in wanted if d.kind is Kind.LAMBDA_FUNCTION)
    assert fn.spec["CodeSha256"] == documents.code_sha256(b"zip")


def test_an_install_finds_the_documents_where_the_wheel_puts_them():
    """pyproject.toml copies infra/json into the wheel; files.py must look for it at that place."""
    root = CHECKOUT_DIR.parents[1]
    wheel = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["infra/json"] == INSTALLED_DIR.relative_to(root).as_posix()
    assert DEFAULT_DIR == CHECKOUT_DIR  # in a checkout, its own documents


def test_bucket_cors_is_one_resource_named_by_the_bucket():
    s = settings()
    (cors,) = [d for d in documents.desired_resources(files.load(s, ACCOUNT), s, None) if d.kind is Kind.R2_CORS]
    assert cors.name == "videos" and cors.skipped is None and cors.groups == {"r2"}
    assert cors.source == "infra/json/r2/cors.json" and cors.spec["CORSRules"][0]["MaxAgeSeconds"] == 3600


def test_bucket_cors_without_upload_origins_is_skipped_saying_why():
    """An existing setup that never set VIDEOCTL_UPLOAD_ORIGINS keeps working: the rules are not managed."""
    s = settings(VIDEOCTL_UPLOAD_ORIGINS=None)
    docs = files.load(s, ACCOUNT)
    assert docs.cors is None and "VIDEOCTL_UPLOAD_ORIGINS is not set" in docs.cors_skipped
    (cors,) = [d for d in documents.desired_resources(docs, s, None) if d.kind is Kind.R2_CORS]
    assert cors.name == "videos" and cors.skipped == docs.cors_skipped


def test_bucket_cors_without_a_bucket_is_skipped_saying_why():
    # The shipped Lambda document needs R2_BUCKET anyway (test_r2_bucket_unset_is_named); the rule here
    # is for documents that do not, and for the CORS resource on its own.
    no_r2 = Settings.from_env({k: v for k, v in INFRA_ENV.items() if not k.startswith("R2_")})
    assert "R2_BUCKET is not set" in documents.cors_skip_reason(no_r2)
    assert documents.cors_skip_reason(settings()) is None


def test_a_broken_cors_document_is_refused_even_when_skipped(tmp_path):
    root = _copy_docs(tmp_path)
    (root / "r2" / "cors.json").write_text('{"CORSRules": [}')
    for origins in ("https://app.example.com", None):
        with pytest.raises(ConfigError, match="infra/json/r2/cors.json: invalid JSON at line 1"):
            files.load(settings(VIDEOCTL_INFRA_DIR=str(root), VIDEOCTL_UPLOAD_ORIGINS=origins), ACCOUNT)
    (root / "r2" / "cors.json").unlink()
    with pytest.raises(ConfigError, match="infra/json/r2/cors.json is missing"):
        files.load(settings(VIDEOCTL_INFRA_DIR=str(root), VIDEOCTL_UPLOAD_ORIGINS=None), ACCOUNT)


def test_upload_origins_placeholder_names_its_variable():
    known = placeholders.values(settings(VIDEOCTL_UPLOAD_ORIGINS=None), ACCOUNT)
    with pytest.raises(ConfigError, match=r"\$\{UPLOAD_ORIGINS\} has no value: set VIDEOCTL_UPLOAD_ORIGINS"):
        placeholders.fill({"AllowedOrigins": "${UPLOAD_ORIGINS}"}, known, "infra/json/r2/cors.json")
    assert placeholders.values(settings(VIDEOCTL_UPLOAD_ORIGINS="*"), ACCOUNT)["UPLOAD_ORIGINS"] == ["*"]
