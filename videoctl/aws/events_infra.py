"""Read the events' EventBridge bus or SNS topic as infra compares them."""

from __future__ import annotations

from typing import Any

from videoctl.aws.infra_call import call


def read_event_bus(events: Any, name: str) -> dict[str, Any] | None:
    return call(events, "describe_event_bus", missing=("ResourceNotFoundException",), Name=name)


def read_topic(sns: Any, topic_arn: str) -> dict[str, Any] | None:
    got = call(sns, "get_topic_attributes", missing=("NotFound", "NotFoundException"), TopicArn=topic_arn)
    return None if got is None else {"TopicArn": topic_arn, "Attributes": got.get("Attributes", {})}
