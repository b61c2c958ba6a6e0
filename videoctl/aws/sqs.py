"""Sending to an SQS queue by name, with AWS failures as AwsError.

The queue URL is looked up once per object (GetQueueUrl), so a drain of a
hundred requests costs one lookup and a hundred SendMessage calls.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videoctl.aws.errors import aws_error, error_code

_MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class SqsQueue:
    def __init__(self, client: Any, queue_name: str) -> None:
        self.client = client
        self.name = queue_name

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @cached_property
    def url(self) -> str:
        try:
            return self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
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
            return self.client.send_message(**params)["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(f"sqs:SendMessage {self.name}", exc) from exc
