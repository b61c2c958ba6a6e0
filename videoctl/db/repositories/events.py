"""The event outbox (docs/events.md): the events waiting for their target, and those sent."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from videoctl.db.repositories._base import _all, _known_id, _one, _Repository
from videoctl.domain import events
from videoctl.domain.errors import InvalidState, NotFound
from videoctl.domain.models import Event


def record_event(conn: psycopg.Connection, event: events.NewEvent) -> Event:
    """Write *event* in the caller's transaction: the outbox row the drains send after the commit.

    For a transition of its own (the lead example: a video FAILED with ``upload_expired``),
    call this inside the transaction that makes the change, or use a repository method that
    does (:meth:`VideoRepository.mark_failed`)."""
    return Event.from_row(_one(conn, "insert_event", {
        "type": event.type, "video_id": event.video_id, "job_id": event.job_id, "data": Jsonb(event.data)}))


class EventRepository(_Repository):
    """The events waiting for their target, and the record of those sent (docs/events.md)."""

    def add(self, event: events.NewEvent) -> Event:
        """Record *event*; call it inside the transaction of the change it reports."""
        return record_event(self.conn, event)

    def next_pending(self, after_id: int) -> Event | None:
        """The oldest pending event after *after_id*, locked until the transaction ends
        (a concurrent drain skips it)."""
        row = _one(self.conn, "next_pending_event", {"after_id": after_id})
        return Event.from_row(row) if row else None

    def mark_delivered(self, event_id: int, *, target: str, receipt: str | None) -> None:
        _one(self.conn, "mark_event_delivered", {"id": event_id, "target": target, "receipt": receipt})

    def note_failure(self, event_id: int, error: str) -> None:
        _one(self.conn, "note_event_failure", {"id": event_id, "error": error[:2000]})

    def count_pending(self) -> int:
        return _one(self.conn, "count_pending_events", {})["pending"]

    def list(self, *, pending_only: bool = False, video_id: int | None = None, type: str | None = None,
             limit: int = 50) -> tuple[list[Event], int]:
        """Newest first, without locking; and how many match in all."""
        if not _known_id(video_id):
            return [], 0
        rows = _all(self.conn, "list_events", {"pending_only": pending_only, "video_id": video_id, "type": type,
                                                "limit": limit})
        return [Event.from_row(r) for r in rows], (rows[0]["total"] if rows else 0)

    def get(self, ref: int | str) -> Event:
        """By its number (``events list``'s first column) or its UUID."""
        row = _one(self.conn, "get_event", _event_ref(ref))
        if row is None:
            raise NotFound(f"event {ref} not found", hint="list events with `videoctl events list`")
        return Event.from_row(row)

    def discard(self, ref: int | str, reason: str) -> Event:
        """Stop trying a pending event; refused, saying why, for one that is not pending."""
        row = _one(self.conn, "discard_event", {**_event_ref(ref), "reason": reason})
        if row is not None:
            return Event.from_row(row)
        found = self.get(ref)
        if found.delivered_at is not None:
            raise InvalidState(f"event {found.id} ({found.type}) was already delivered at "
                               f"{found.delivered_at:%Y-%m-%d %H:%M:%S} UTC to {found.delivered_to}")
        raise InvalidState(f"event {found.id} ({found.type}) was already discarded: {found.discard_reason}")

    def prune(self, older_than_s: float, *, limit: int) -> int:
        """Delete up to *limit* delivered or discarded events older than the cut-off; how many went."""
        return len(_all(self.conn, "prune_events", {"older_than_s": older_than_s, "limit": limit}))

    def count_prunable(self, older_than_s: float) -> int:
        return _one(self.conn, "count_prunable_events", {"older_than_s": older_than_s})["events"]


def _event_ref(ref: int | str) -> dict[str, Any]:
    """Query parameters naming one event by its number or its UUID (the other left unmatched)."""
    if isinstance(ref, int):
        if not _known_id(ref):
            raise NotFound(f"event {ref} not found")
        return {"id": ref, "event_id": None}
    text = str(ref).strip()
    if text.isdigit():
        return _event_ref(int(text))
    try:
        return {"id": None, "event_id": UUID(text)}
    except ValueError:
        raise NotFound(f"event {ref!r} not found: give its number or its UUID",
                       hint="list events with `videoctl events list`") from None
