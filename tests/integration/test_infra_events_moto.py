"""The events' bus or topic in `videoctl infra …` against moto: only when configured, verified like the rest.

VIDEOCTL_EVENTS_TARGET naming an EventBridge bus or an SNS topic adds it to what verify compares
and setup creates (infra/json/events/); the default bus, a webhook, or no target add nothing;
a topic drifting from its document is set back; a target in another account stops before any call.
"""

from __future__ import annotations

import boto3
import pytest

from tests.integration.test_infra_moto import (  # noqa: F401 - fixtures, used by name
    ACCOUNT,
    REGION,
    aws,
    infra,
    moto_keeps_state_time_limits,
    moto_knows_the_batch_service_policy,
    not_ok,
    shared_session,
)
from videoctl.aws.clients import AwsClients
from videoctl.domain.errors import EXIT_CODES

pytestmark = pytest.mark.usefixtures("aws")  # moto's account, as test_infra_moto.py sets it up

BUS = "academy-video-events"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:academy-video-events"


def kinds(plan: list[dict]) -> set[str]:
    return {row["kind"] for row in plan}


def test_no_target_a_webhook_or_the_default_bus_add_nothing(capsys, monkeypatch):
    plain = kinds(infra(capsys, "setup", "--dry-run", "--json").json()["data"]["plan"])
    assert not plain & {"event_bus", "sns_topic"}
    for target in ("eventbridge:default", "https://app.example.com/hooks/videoctl"):
        monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", target)
        monkeypatch.setenv("VIDEOCTL_EVENTS_WEBHOOK_SECRET", "whsec-0123456789abcdef")
        assert kinds(infra(capsys, "setup", "--dry-run", "--json").json()["data"]["plan"]) == plain


def test_an_eventbridge_bus_is_verified_and_created_when_configured(capsys, monkeypatch):
    assert infra(capsys, "setup", "--json").exit_code == 0
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", f"eventbridge:{BUS}")
    missing = infra(capsys, "verify", "--json")
    assert missing.exit_code == EXIT_CODES["drift"]
    assert not_ok(missing.json()["error"]["plan"]) == [("event_bus", BUS, "MISSING")]

    setup = infra(capsys, "setup", "--json")
    assert setup.exit_code == 0, setup.stdout
    [done] = setup.json()["data"]["done"]
    assert done["api"] == "events:CreateEventBus" and done["result"].endswith(f":event-bus/{BUS}")
    events = boto3.client("events", region_name=REGION)
    assert events.describe_event_bus(Name=BUS)["Name"] == BUS
    verified = infra(capsys, "verify", "--json")
    assert verified.exit_code == 0 and verified.json()["data"]["ok"] is True
    assert [row["ref"] for row in verified.json()["data"]["plan"] if row["kind"] == "event_bus"] == [
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}"]
    assert infra(capsys, "setup", "--json").json()["data"]["changed"] is False


def test_an_sns_topic_is_created_encrypted_and_its_drift_set_back(capsys, monkeypatch):
    assert infra(capsys, "setup", "--json").exit_code == 0
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", f"sns:{TOPIC_ARN}")
    setup = infra(capsys, "setup", "--json")
    assert setup.exit_code == 0, setup.stdout
    assert [r["api"] for r in setup.json()["data"]["done"]] == ["sns:CreateTopic"]
    sns = boto3.client("sns", region_name=REGION)
    attributes = sns.get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns" and attributes["DisplayName"] == "videoctl events"

    sns.set_topic_attributes(TopicArn=TOPIC_ARN, AttributeName="DisplayName", AttributeValue="hand-made")
    drift = infra(capsys, "verify", "--json").json()["error"]
    [row] = [r for r in drift["plan"] if r["status"] != "OK"]
    assert (row["kind"], row["status"], row["diff"][0]["field"]) == ("sns_topic", "DRIFT", "Attributes.DisplayName")
    fixed = infra(capsys, "setup", "--json")
    assert [r["api"] for r in fixed.json()["data"]["done"]] == ["sns:SetTopicAttributes"]
    assert infra(capsys, "verify").exit_code == 0


def test_a_target_in_another_account_stops_before_any_call(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", "sns:arn:aws:sns:eu-west-1:999999999999:their-topic")
    monkeypatch.setattr(AwsClients, "client", lambda *a, **k: pytest.fail("an AWS client was built"))
    result = infra(capsys, "verify", "--json")
    assert result.exit_code == EXIT_CODES["config_error"]
    message = result.json()["error"]["message"]
    assert "VIDEOCTL_EVENTS_TARGET" in message and "999999999999" in message
