"""Sending to an SQS queue by name, with AWS failures as AwsError.

The queue URL is looked up once per object (GetQueueUrl), so a drain of a
hundred requests costs one lookup and a hundred SendMessage calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from videoctl.aws.deadline import within
from videoctl.aws.errors import aws_error, error_code

T = TypeVar("T")

_MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class SqsQueue:
    def __init__(self, client: Any, queue_name: str, *, timeout_s: float | None = None) -> None:
        self.client = client
        self.name = queue_name
        #: Each call's total deadline (aws/deadline.py); None: botocore's timeouts alone.
        self.timeout_s = timeout_s

    def _call(self, action: str, call: Callable[[], T]) -> T:
        return call() if self.timeout_s is None else within(self.timeout_s, action, call)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @cached_property
    def url(self) -> str:
        try:
            return self._call(f"sqs:GetQueueUrl {self.name}",
                              lambda: self.client.get_queue_url(QueueName=self.name))["QueueUrl"]
        except (BotoCoreError, ClientError) as exc:
            error = aws_error(f"sqs:GetQueueUrl {self.name}", exc)
            if error_code(exc) in _MISSING_QUEUE:
                error.hint = "create it with `videoctl infra setup`, or set VIDEO_DELETE_R2_QUEUE"
            raise error from exc

    def send(self, body: str, *, deduplication_id: str, group_id: str) -> str:
        """Send *body*; returns the SQS message id.

        The deduplication and group ids are used only by a FIFO queue (a
        standard queue rejects them).
        """
        params: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if self.fifo:
            params.update(MessageDeduplicationId=deduplication_id, MessageGroupId=group_id)
        try:
            return self._call(f"sqs:SendMessage {self.name}", lambda: self.client.send_message(**params))["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(f"sqs:SendMessage {self.name}", exc) from exc
