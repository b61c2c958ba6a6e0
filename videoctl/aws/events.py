"""Sending events to EventBridge (PutEvents) or SNS (Publish), AWS failures as AwsError.

Both carry the event's canonical JSON unchanged (EventBridge as the event's ``detail``, SNS
as the message), so every target hands the receiver the same document and the same ``id``
to deduplicate on. A FIFO topic also gets the event id as its deduplication id (SNS drops a
resend within five minutes by itself) and the video as the message group, keeping one
video's events in order.

A send ends within its deadline: the call runs in a worker thread that is waited for that
long at most (aws/deadline.py; the client's own timeouts, aws/clients.py ``delivery``, end
it soon after).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videoctl.aws.deadline import within
from videoctl.aws.errors import aws_error
from videoctl.domain.errors import AwsError
from videoctl.domain.events import SOURCE, Delivery

#: PutEvents entry errors worth another try; any other code is this event's own problem.
_TRANSIENT_ENTRY_CODES = frozenset({"InternalFailure", "ThrottlingException"})
#: The deadline of a send called without one.
TIMEOUT_S = 10.0

class EventBridgeSender:
    def __init__(self, client: Any, bus: str) -> None:
        self.client = client
        self.bus = bus

    @property
    def target(self) -> str:
        return f"eventbridge:{self.bus}"

    def __call__(self, outgoing: Delivery, *, timeout_s: float = TIMEOUT_S) -> str:
        entry = {"Source": SOURCE, "DetailType": outgoing.type, "Detail": outgoing.body.decode(),
                 "EventBusName": self.bus, "Time": outgoing.occurred_at}
        try:
            answer = within(timeout_s, f"events:PutEvents {self.bus}", lambda: self.client.put_events(Entries=[entry]))
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(f"events:PutEvents {self.bus}", exc) from exc
        [result] = answer.get("Entries") or [{}]
        if answer.get("FailedEntryCount") or "EventId" not in result:
            code = result.get("ErrorCode")
            raise AwsError(f"events:PutEvents {self.bus} refused event {outgoing.event_id}: {code}: "
                           f"{result.get('ErrorMessage')}", transient=code in _TRANSIENT_ENTRY_CODES)
        return result["EventId"]


class SnsSender:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    @property
    def target(self) -> str:
        return f"sns:{self.topic_arn}"

    def __call__(self, outgoing: Delivery, *, timeout_s: float = TIMEOUT_S) -> str:
        params: dict[str, Any] = {
            "TopicArn": self.topic_arn, "Message": outgoing.body.decode(),
            "MessageAttributes": {"type": {"DataType": "String", "StringValue": outgoing.type}},
        }
        if self.topic_arn.endswith(".fifo"):
            params.update(MessageDeduplicationId=outgoing.event_id, MessageGroupId=f"video-{outgoing.video_id}")
        try:
            return within(timeout_s, f"sns:Publish {self.topic_arn}", lambda: self.client.publish(**params))["MessageId"]
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(f"sns:Publish {self.topic_arn}", exc) from exc
