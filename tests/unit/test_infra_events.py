"""infra/events_target.py without AWS: which documents a target brings, their checks, and the plans."""

from __future__ import annotations

import pytest

from tests.unit.test_infra_documents import ACCOUNT, settings
from videoctl.domain.errors import ConfigError, InvalidInput
from videoctl.infra import events_target, files, validation
from videoctl.infra.model import Kind, Status

TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:academy-video-events"


def test_the_documents_follow_the_target():
    assert files.load(settings(), ACCOUNT).event_bus is None
    bus = files.load(settings(VIDEOCTL_EVENTS_TARGET="eventbridge:academy-video-events"), ACCOUNT)
    assert bus.event_bus == {"Name": "academy-video-events"} and bus.event_topic is None
    by_arn = files.load(settings(
        VIDEOCTL_EVENTS_TARGET=f"eventbridge:arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/academy-video-events"), ACCOUNT)
    assert by_arn.event_bus == {"Name": "academy-video-events"}
    topic = files.load(settings(VIDEOCTL_EVENTS_TARGET=f"sns:{TOPIC}"), ACCOUNT)
    assert topic.event_topic["Name"] == "academy-video-events" and topic.event_bus is None
    [desired] = events_target.desired(None, topic.event_topic, region="eu-west-1", account_id=ACCOUNT)
    assert desired.kind is Kind.SNS_TOPIC and desired.spec["TopicArn"] == TOPIC


@pytest.mark.parametrize("target", [f"sns:arn:aws:sns:us-east-1:{ACCOUNT}:t",
                                    "sns:arn:aws:sns:eu-west-1:999999999999:t",
                                    "eventbridge:arn:aws:events:eu-west-1:999999999999:event-bus/b"])
def test_a_target_elsewhere_is_refused_naming_the_variable(target):
    with pytest.raises(ConfigError, match="VIDEOCTL_EVENTS_TARGET names a"):
        files.load(settings(VIDEOCTL_EVENTS_TARGET=target), ACCOUNT)


def test_validation_refuses_what_aws_would_or_what_would_compare_wrongly():
    docs = files.load(settings(VIDEOCTL_EVENTS_TARGET=f"sns:{TOPIC}"), ACCOUNT)
    docs.event_topic["Attributes"]["FifoTopic"] = True
    with pytest.raises(InvalidInput, match="FifoTopic comes from the topic's name"):
        validation.validate(docs)
    assert events_target.problems({"Name": "b", "Description": "x"}, None) == [
        ("events/event_bus.json", 'must be {"Name": …}: a bus has nothing else infra sets')]


def test_plans():
    [bus] = events_target.desired({"Name": "b"}, None, region="eu-west-1", account_id=ACCOUNT)
    assert [a.api for a in events_target.plan_event_bus(bus, None).actions] == ["events:CreateEventBus"]
    assert events_target.plan_event_bus(bus, {"Name": "b", "Arn": "arn:b"}).status is Status.OK

    [fifo] = events_target.desired(None, {"Name": "t.fifo", "Attributes": {"DisplayName": "x", "Raw": True}},
                                   region="eu-west-1", account_id=ACCOUNT)
    create = events_target.plan_topic(fifo, None)
    assert create.actions[0].params["Attributes"] == {"DisplayName": "x", "Raw": "true", "FifoTopic": "true"}
    live = {"TopicArn": fifo.spec["TopicArn"], "Attributes": {"DisplayName": "x", "Raw": "true"}}
    drift = events_target.plan_topic(fifo, live)  # made by hand as a standard topic
    assert drift.status is Status.DRIFT and not drift.actions and "FifoTopic cannot change" in drift.manual[0]
    live["Attributes"]["FifoTopic"] = "true"
    assert events_target.plan_topic(fifo, live).status is Status.OK
