"""Read an SQS queue's URL and attributes as infra compares them."""

from __future__ import annotations

from typing import Any

from videoctl.aws.infra_call import call

NOT_FOUND = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def read_queue(sqs: Any, name: str) -> dict[str, Any] | None:
    got = call(sqs, "get_queue_url", missing=NOT_FOUND, QueueName=name)
    if got is None:
        return None
    url = got["QueueUrl"]
    attributes = call(sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    return {"QueueUrl": url, "Attributes": attributes}
