"""Events to EventBridge and SNS on moto, read back where an app would read them (an SQS queue).

EventBridge: a rule on the bus forwards videoctl's events to a queue; the message's ``detail``
is the envelope. SNS: a queue subscribed to the topic gets SNS's notification, whose
``Message`` is the envelope. A FIFO topic gets the event id as its deduplication id.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from tests.integration.test_events import pending_events
from videoctl.context import AppContext
from videoctl.db.repositories import EventRepository
from videoctl.domain.events import envelope

REGION = "us-east-1"


@pytest.fixture
def aws(env):
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("events", "sns", "sqs")}


def queue(sqs, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def received(sqs, url: str) -> list[dict]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def drained(monkeypatch, target: str):
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", target)
    ctx = AppContext()
    try:
        return ctx.drain_events(), [envelope(e) for e in sorted(ctx.events.list()[0], key=lambda e: e.id)]
    finally:
        ctx.close()


def test_eventbridge_put_events_reaches_a_rule_with_the_envelope_as_detail(aws, conn, monkeypatch):
    aws["events"].create_event_bus(Name="academy-video-events")
    url, arn = queue(aws["sqs"], "app-events")
    aws["events"].put_rule(Name="videoctl-to-app", EventBusName="academy-video-events",
                           EventPattern=json.dumps({"source": ["videoctl"], "detail-type": ["job.cancelled"]}))
    aws["events"].put_targets(Rule="videoctl-to-app", EventBusName="academy-video-events",
                              Targets=[{"Id": "app", "Arn": arn}])
    pending_events(conn, 2)

    result, sent = drained(monkeypatch, "eventbridge:academy-video-events")
    assert (result.target, result.sent, result.pending, result.failures) == (
        "eventbridge:academy-video-events", 2, 0, [])
    messages = received(aws["sqs"], url)
    assert [(m["source"], m["detail-type"]) for m in messages] == [("videoctl", "job.cancelled")] * 2
    assert [m["detail"] for m in messages] == json.loads(json.dumps(sent))
    delivered = EventRepository(conn).list()[0]
    assert all(e.delivered_to == "eventbridge:academy-video-events" and e.receipt for e in delivered)


def test_a_bus_that_does_not_exist_keeps_the_events_pending(aws, conn, monkeypatch):
    pending_events(conn, 1)
    result, _ = drained(monkeypatch, "eventbridge:no-such-bus")
    assert result.sent == 0 and result.pending == 1
    [failure] = result.failures
    assert failure.error.code == "aws_error" and "no-such-bus" in failure.error.message


def test_sns_publish_reaches_a_subscribed_queue_with_the_envelope_as_message(aws, conn, monkeypatch):
    topic = aws["sns"].create_topic(Name="academy-video-events")["TopicArn"]
    url, arn = queue(aws["sqs"], "app-events")
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    pending_events(conn, 2)

    result, sent = drained(monkeypatch, f"sns:{topic}")
    assert (result.sent, result.pending, result.failures) == (2, 0, [])
    notifications = received(aws["sqs"], url)
    assert [json.loads(n["Message"]) for n in notifications] == json.loads(json.dumps(sent))
    assert [n["MessageAttributes"]["type"]["Value"] for n in notifications] == ["job.cancelled"] * 2


def test_a_fifo_topic_deduplicates_on_the_event_id_and_groups_by_video(aws, conn, monkeypatch):
    topic = aws["sns"].create_topic(Name="academy-video-events.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = queue(aws["sqs"], "app-events.fifo", FifoQueue="true")
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    pending_events(conn, 1)
    result, sent = drained(monkeypatch, f"sns:{topic}")
    assert result.sent == 1
    # A resend (the drain killed after Publish, before its mark) is dropped by SNS itself.
    from videoctl.aws.events import SnsSender
    from videoctl.domain.events import delivery

    event = EventRepository(conn).list()[0][0]
    SnsSender(aws["sns"], topic)(delivery(event))
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          AttributeNames=["MessageGroupId", "MessageDeduplicationId"])["Messages"]
    assert len(messages) == 1 and json.loads(messages[0]["Body"]) == json.loads(json.dumps(sent[0]))
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == event.event_id
    assert messages[0]["Attributes"]["MessageGroupId"] == f"video-{event.video_id}"


@pytest.mark.parametrize("target", ["eventbridge:videoctl", "sns:arn:aws:sns:us-east-1:123456789012:videoctl-events"])
def test_an_aws_endpoint_that_drips_is_cut_at_the_delivery_deadline(env, conn, monkeypatch, target):
    """The AWS endpoint (here a loopback server, through VIDEOCTL_AWS_ENDPOINT_URL) answers a
    byte a second: botocore's read timeout never fires, the delivery's total deadline does."""
    from tests.events_receiver import Receiver

    with Receiver("whsec-unused-by-a-dripping-endpoint") as endpoint:
        endpoint.drip_every_s = 1.0
        monkeypatch.setenv("VIDEOCTL_AWS_ENDPOINT_URL", endpoint.url.rsplit("/hooks", 1)[0])
        monkeypatch.setenv("VIDEOCTL_DELIVERY_TIMEOUT_SECONDS", "1.5")
        pending_events(conn, 1)
        started = time.monotonic()
        result, _ = drained(monkeypatch, target)
        assert time.monotonic() - started < 1.5 + 4  # a bound, far below the ~45 s the drip takes
    assert (result.sent, result.pending, result.stopped_early) == (0, 1, True)
    assert "timed out" in result.failures[0].error.message and result.failures[0].error.transient
