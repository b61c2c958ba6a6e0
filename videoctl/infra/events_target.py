"""The optional resource events go to: an EventBridge bus or an SNS topic (docs/events.md). Pure.

Only when VIDEOCTL_EVENTS_TARGET names one does infra manage it: ``eventbridge:BUS`` reads
infra/json/events/event_bus.json (the ``default`` bus every account has is left alone),
``sns:TOPIC_ARN`` reads infra/json/events/sns_topic.json. A webhook, or no target, adds
nothing. The bus or topic must be in the account and region infra manages: a target that
names another is refused here, before any call, rather than created in the wrong place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from videoctl.domain.errors import ConfigError
from videoctl.infra.compare import same
from videoctl.infra.model import Action, Desired, Diff, Kind, PlanItem, Status
from videoctl.settings import Settings

EVENT_BUS = "events/event_bus.json"
EVENT_TOPIC = "events/sns_topic.json"
#: Every account has it; EventBridge creates and owns it.
DEFAULT_BUS = "default"
#: The provisional account id validation runs with, before STS answers (placeholders.PROVISIONAL_ACCOUNT_ID).
_PROVISIONAL = "000000000000"


def load(doc: Callable[[str], Any], settings: Settings, account_id: str) -> tuple[Any, Any]:
    """(bus document, topic document), each None unless the target names that kind."""
    target = settings.events
    if target is None or target.kind == "webhook":
        return None, None
    where = target.arn_region_account
    if where is not None:
        region, account = where
        if region != settings.aws_region or (account != account_id and account_id != _PROVISIONAL):
            raise ConfigError(
                f"VIDEOCTL_EVENTS_TARGET names a {'bus' if target.kind == 'eventbridge' else 'topic'} in account "
                f"{account}, region {region}; infra manages account {account_id} in {settings.aws_region}",
                hint="run infra with that account and AWS_REGION, or create the bus or topic yourself and "
                     "run infra without VIDEOCTL_EVENTS_TARGET")
    if target.kind == "eventbridge":
        return (None if target.name == DEFAULT_BUS else doc(EVENT_BUS)), None
    return None, doc(EVENT_TOPIC)


def desired(bus: Any, topic: Any, *, region: str, account_id: str) -> list[Desired]:
    out = []
    if bus is not None:
        out.append(Desired(Kind.EVENT_BUS, bus["Name"], bus, f"infra/json/{EVENT_BUS}", frozenset({"events"})))
    if topic is not None:
        spec = {**topic, "TopicArn": f"arn:aws:sns:{region}:{account_id}:{topic['Name']}"}
        out.append(Desired(Kind.SNS_TOPIC, topic["Name"], spec, f"infra/json/{EVENT_TOPIC}", frozenset({"events"})))
    return out


def problems(bus: Any, topic: Any) -> list[tuple[str, str]]:
    """(file, problem) for documents that would fail at AWS, or be compared wrongly."""
    found = []
    if bus is not None and (not isinstance(bus, dict) or set(bus) != {"Name"}):
        found.append((EVENT_BUS, 'must be {"Name": …}: a bus has nothing else infra sets'))
    if topic is not None:
        attributes = topic.get("Attributes", {}) if isinstance(topic, dict) else None
        if not isinstance(attributes, dict) or not all(isinstance(v, str | int | bool) for v in attributes.values()):
            found.append((EVENT_TOPIC, "Attributes must be an object of strings, numbers or booleans"))
        elif "FifoTopic" in attributes:
            found.append((EVENT_TOPIC, "FifoTopic comes from the topic's name (a .fifo ARN); leave it out"))
    return found


# ---------------------------------------------------------------- planning


def _item(d: Desired, live: Any, diffs: list[Diff], actions: list[Action], manual: list[str] = (),
          ref: str | None = None) -> PlanItem:
    status = Status.MISSING if live is None else Status.DRIFT if diffs or manual else Status.OK
    return PlanItem(d.kind, d.name, status, tuple(diffs), tuple(actions), tuple(manual), d.source, ref)


def plan_event_bus(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    if live is None:
        return _item(d, live, [], [Action("events", "create_event_bus", {"Name": d.name},
                                          f"create event bus {d.name}")])
    return _item(d, live, [], [], ref=live.get("Arn"))


def _attribute(value: Any) -> str:
    """SNS attributes are strings: true/false, numbers as text."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def plan_topic(d: Desired, live: dict[str, Any] | None) -> PlanItem:
    want = {k: _attribute(v) for k, v in d.spec.get("Attributes", {}).items()}
    fifo = d.name.endswith(".fifo")
    if live is None:
        create = {**want, **({"FifoTopic": "true"} if fifo else {})}
        return _item(d, live, [], [Action("sns", "create_topic", {"Name": d.name, "Attributes": create},
                                          f"create topic {d.name}")])
    have = live.get("Attributes", {})
    diffs, actions, manual = [], [], []
    for key, value in want.items():
        if not same(value, have.get(key)):
            diffs.append(Diff(f"Attributes.{key}", have.get(key), value))
            actions.append(Action("sns", "set_topic_attributes", {
                "TopicArn": live["TopicArn"], "AttributeName": key, "AttributeValue": value}, f"set {key}"))
    if fifo != (str(have.get("FifoTopic", "false")).lower() == "true"):
        diffs.append(Diff("Attributes.FifoTopic", have.get("FifoTopic"), _attribute(fifo)))
        manual.append("a topic's FifoTopic cannot change: delete the topic and rerun setup")
    return _item(d, live, diffs, actions, manual, ref=live["TopicArn"])
