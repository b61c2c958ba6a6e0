"""Delivering events: drain the outbox to the configured target, list, discard, prune.

The repositories record an event in the transaction of each transition the app hears of
(db/repositories.py, ``record_event``). This module sends them after the commit: run-job,
``jobs cancel`` and ``video delete`` right after theirs (best effort), every scan-stuck
pass, and ``videoctl events drain``. Delivery is at least once: an event is marked delivered
only after the target acknowledged it, so a process killed in between sends it again on the
next drain, with the same id for the receiver to deduplicate on.

Each event is locked (FOR UPDATE SKIP LOCKED), sent and marked in a transaction of its own:
two drains never send one event at once, and a drain killed half-way resends only the event
it was sending. A send is retried with jittered backoff while its failure is transient; one
that stays transient (the target is down) ends the drain, leaving the rest pending for the
next one rather than waiting out every event's retries.

Each event's delivery, every try and wait included, ends within one total deadline
(``VIDEOCTL_DELIVERY_TIMEOUT_SECONDS``): each try is given what is left of it, and no try
starts once the wait before it would pass it. A receiver that answers slowly, or not at
all, thus holds a drain (and a scan-stuck pass) for that long at most, and ends it early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_before_delay, wait_random_exponential

from videoctl.domain.errors import ConfigError, VideoctlError
from videoctl.domain.events import Delivery, delivery
from videoctl.domain.models import Event
from videoctl.domain.repositories import EventRepository
from videoctl.domain.text import check_reason

log = logging.getLogger(__name__)

#: How often one event is tried within a drain, and the backoff between tries.
TRIES = 3
BACKOFF_MULTIPLIER_S = 0.5
BACKOFF_MAX_S = 8.0
#: The total deadline of one event's delivery when none is given (Settings.delivery_timeout_s).
DEADLINE_S = 10.0


class EventSender(Protocol):
    """Sends one event to the configured target; returns what the target answered (an
    EventBridge event id, an SNS message id, an HTTP status) or raises a VideoctlError whose
    ``transient`` says whether trying again can help."""

    #: Where the events go, for the record (``eventbridge:BUS``, ``sns:ARN``, the webhook URL).
    target: str

    def __call__(self, outgoing: Delivery, *, timeout_s: float) -> str | None:
        """Returns or raises within *timeout_s*, whatever the target does."""


def no_target_error(pending: int) -> ConfigError:
    return ConfigError(f"no event target is configured: {pending} event(s) stay pending",
                       hint="set VIDEOCTL_EVENTS_TARGET to eventbridge:BUS, sns:TOPIC_ARN or an https:// webhook "
                            "URL (docs/events.md); `videoctl events list` shows what is waiting")


# ---------------------------------------------------------------- the drain


class EventFailureDocument(TypedDict):
    event: int
    event_id: str
    type: str
    code: str
    message: str
    hint: str | None


@dataclass(frozen=True)
class EventFailure:
    event: Event
    error: VideoctlError

    def to_dict(self) -> EventFailureDocument:
        return {"event": self.event.id, "event_id": self.event.event_id, "type": self.event.type,
                **self.error.to_dict()}


class EventDrainDocument(TypedDict):
    """`events drain`: where the events went, how many, and what failed."""

    target: str | None
    sent: int
    failed: int
    #: Pending after the drain: failed, not tried because the target was unreachable, or beyond --limit.
    pending: int
    #: The drain stopped at a transient failure (the target seems down); the rest wait for the next.
    stopped_early: bool
    failures: list[EventFailureDocument]


@dataclass
class EventDrainResult:
    #: None: no target configured, nothing was sent.
    target: str | None
    sent: int = 0
    pending: int = 0
    stopped_early: bool = False
    failures: list[EventFailure] = field(default_factory=list)

    def to_dict(self) -> EventDrainDocument:
        return {"target": self.target, "sent": self.sent, "failed": len(self.failures), "pending": self.pending,
                "stopped_early": self.stopped_early, "failures": [f.to_dict() for f in self.failures]}


def _transient(exc: BaseException) -> bool:
    return bool(getattr(exc, "transient", False))


def _send(send: EventSender, outgoing: Delivery, *, tries: int, sleep: Callable[[float], None],
          deadline_s: float, clock: Callable[[], float] = time.monotonic) -> str | None:
    """One event's delivery, its tries and the waits between them within *deadline_s* in all."""
    ends_at = clock() + deadline_s
    retrying = Retrying(stop=stop_after_attempt(tries) | stop_before_delay(deadline_s),
                        wait=wait_random_exponential(multiplier=BACKOFF_MULTIPLIER_S, max=BACKOFF_MAX_S),
                        retry=retry_if_exception(_transient), sleep=sleep, reraise=True)
    for attempt in retrying:
        with attempt:
            return send(outgoing, timeout_s=max(ends_at - clock(), 0.01))
    raise AssertionError("unreachable")  # Retrying either returns or re-raises


def drain_events(repo: EventRepository, send: EventSender | None, *, limit: int = 100, tries: int = TRIES,
                 sleep: Callable[[float], None] = time.sleep, deadline_s: float = DEADLINE_S) -> EventDrainResult:
    """Deliver up to *limit* pending events, oldest first; with no *send* (no target), only count them.

    Failures are recorded on the event (attempts, last error) and returned; the event stays
    pending for the next drain.
    """
    if send is None:
        return EventDrainResult(None, pending=repo.count_pending())
    result = EventDrainResult(send.target)
    after_id = 0
    while result.sent + len(result.failures) < limit:
        with repo.transaction():
            event = repo.next_pending(after_id)
            if event is None:
                break
            after_id = event.id
            try:
                receipt = _send(send, delivery(event), tries=tries, sleep=sleep, deadline_s=deadline_s)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the others
                error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
                repo.note_failure(event.id, f"{error.code}: {error.message}")
                result.failures.append(EventFailure(event, error))
                log.warning("event %s (%s) stays pending: %s: %s", event.id, event.type, error.code, error.message)
                if _transient(error):
                    result.stopped_early = True
                    break
                continue
            repo.mark_delivered(event.id, target=send.target, receipt=receipt)
            result.sent += 1
    result.pending = repo.count_pending()
    return result


def send_after_commit(drain: Callable[[], EventDrainResult]) -> EventDrainResult | None:
    """What a command runs once its transition committed: deliver now if it can. Never fails the
    command, whose change is done: what could not go stays pending for the next scan pass."""
    try:
        return drain()
    except VideoctlError as exc:
        log.warning("events stay pending for the next drain: %s: %s", exc.code, exc.message)
        return None


# ---------------------------------------------------------------- for people


@dataclass(frozen=True)
class EventPage:
    """Events, newest first: how many match the filters, how many are pending in all, and the page."""

    total: int
    pending: int
    events: list[Event]


def list_events(repo: EventRepository, *, pending_only: bool = False, video_id: int | None = None,
                type: str | None = None, limit: int = 50) -> EventPage:
    events, total = repo.list(pending_only=pending_only, video_id=video_id, type=type, limit=limit)
    return EventPage(total, repo.count_pending(), events)


def discard_event(repo: EventRepository, ref: int | str, reason: str) -> Event:
    """Stop trying an event no target will ever take; the row stays, with the reason, for the record."""
    return repo.discard(ref, check_reason(reason))


def prune_events(repo: EventRepository, *, older_than_s: float, batch: int = 500) -> int:
    """Delete delivered and discarded events older than the cut-off, in short batches; pending ones stay."""
    count = 0
    while True:
        with repo.transaction():
            deleted = repo.prune(older_than_s, limit=batch)
        count += deleted
        if deleted < batch:
            return count
