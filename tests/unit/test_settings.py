from pathlib import Path

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.settings import FIELDS, Settings, mask


def test_defaults_mean_the_embedded_default():
    s = Settings.from_env({"VIDEOCTL_HOME": "/srv/vc"})
    assert s.embedded_db and s.database_url is None
    assert s.executor == "local" and s.sources["executor"] == "embedded"
    assert s.storage_dir == Path("/srv/vc/storage") and s.sources["storage_dir"] == "embedded"
    assert s.batch_job_queue == "academy-video-batch-queue"
    assert s.batch_job_definition == "academy-video-batch-jobdef"
    assert s.sources["batch_job_queue"] == "default"


def test_env_values_and_their_sources():
    s = Settings.from_env({
        "DATABASE_URL": "postgresql://u:pw@db:5432/app",
        "VIDEO_BATCH_JOB_QUEUE": "q2",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "VIDEOCTL_MAX_ATTEMPTS": "5",
    })
    assert s.database_url == "postgresql://u:pw@db:5432/app"
    assert s.sources["database_url"] == "env:DATABASE_URL"
    assert s.executor == "batch"  # a real database means the real executor
    assert s.batch_job_queue == "q2" and s.aws_region == "eu-west-1" and s.max_attempts == 5


def test_aws_region_prefers_aws_region():
    s = Settings.from_env({"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert s.aws_region == "ap-south-1" and s.sources["aws_region"] == "env:AWS_REGION"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("VIDEOCTL_DATABASE_URL", "mysql://x/y", "VIDEOCTL_DATABASE_URL must be a URL starting with postgresql://"),
        ("VIDEOCTL_DATABASE_URL", "postgresql://", "VIDEOCTL_DATABASE_URL has no host"),
        ("VIDEOCTL_STALE_AFTER_SECONDS", "-5", "VIDEOCTL_STALE_AFTER_SECONDS must be at least"),
        ("VIDEOCTL_MAX_ATTEMPTS", "three", "VIDEOCTL_MAX_ATTEMPTS must be a whole number"),
        ("VIDEOCTL_EXECUTOR", "k8s", "VIDEOCTL_EXECUTOR must be one of local, batch"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with redis://"),
        ("VIDEOCTL_VIDEOS_ROOT", "../up", "VIDEOCTL_VIDEOS_ROOT must be a relative key prefix"),
    ],
)
def test_invalid_values_name_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert fragment in info.value.message


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_MAX_ATTEMPTS": "0", "VIDEOCTL_HEARTBEAT_SECONDS": "x"})
    assert "VIDEOCTL_MAX_ATTEMPTS" in info.value.message and "VIDEOCTL_HEARTBEAT_SECONDS" in info.value.message


def test_partial_r2_configuration_is_refused():
    with pytest.raises(ConfigError, match="R2_ENDPOINT_URL, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY are not"):
        Settings.from_env({"R2_BUCKET": "b"})


def test_describe_masks_every_secret():
    env = {
        "VIDEOCTL_DATABASE_URL": "postgresql://app:hunter2@db.internal:5432/videos",
        "R2_BUCKET": "b", "R2_ENDPOINT_URL": "https://acct.r2.cloudflarestorage.com",
        "R2_ACCESS_KEY_ID": "AKIDSECRET", "R2_SECRET_ACCESS_KEY": "s3cr3tvalue",
        "REDIS_URL": "redis://:redispw@cache:6379/0",
    }
    rows = Settings.from_env(env).describe()
    text = repr(rows)
    for secret in ("hunter2", "AKIDSECRET", "s3cr3tvalue", "redispw", "app:"):
        assert secret not in text
    by_name = {r["name"]: r for r in rows}
    assert by_name["database_url"]["value"] == "postgresql://****@db.internal:5432/videos"
    assert by_name["r2_secret_access_key"]["value"] == "****"
    assert {r["name"] for r in rows} == {f.name for f in FIELDS}


def test_mask_plain_secret():
    assert mask("abc") == "****"
