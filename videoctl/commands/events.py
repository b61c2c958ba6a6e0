"""`videoctl events …`: what the app was told (or is still to be told), sent now, or given up on."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import UsageError
from videoctl.domain.events import EventType
from videoctl.domain.models import Event

app = typer.Typer(
    help="Events for the app (video.ready, job.failed, …): list, deliver, discard. See docs/events.md.",
    no_args_is_help=True,
)


def _status(event: Event) -> str:
    if event.discarded_at is not None:
        return "discarded"
    if event.delivered_at is not None:
        return "delivered"
    return "pending"


@app.command("list")
@out.document("videoctl.services.events:EventPage")
def list_(
    pending: Annotated[bool, typer.Option("--pending", help="Only those not delivered (nor discarded) yet.")] = False,
    video: Annotated[int | None, typer.Option("--video", min=1, max=out.MAX_ID, help="Only this video's.")] = None,
    type_: Annotated[EventType | None, typer.Option("--type", help="Only events of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=out.MAX_LIMIT, help="At most this many, newest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List recorded events, newest first, with where each was delivered.

    Example: videoctl events list --pending
    """
    page = client().list_events(pending_only=pending, video_id=video, type=type_, limit=limit)

    def render() -> None:
        out.table(f"{page.total} event(s), {page.pending} pending in all",
                  ("#", "type", "video", "job", "recorded", "status", "attempts", "delivered to / last error"),
                  ((e.id, e.type, e.video_id, e.job_id, e.created_at, _status(e), e.attempts,
                    e.delivered_to or e.discard_reason or e.last_error) for e in page.events))

    out.success(page, render, json_flag=json_)


@app.command("drain")
@out.document("videoctl.services.events:EventDrainDocument")
def drain(
    limit: Annotated[int, typer.Option(min=1, max=out.MAX_LIMIT, help="At most this many events.")] = 500,
    json_: JsonOption = False,
) -> None:
    """Deliver pending events to VIDEOCTL_EVENTS_TARGET now, oldest first (every scan-stuck pass does too).

    Example: videoctl events drain
    """
    result = client().drain_events(limit=limit)
    if result.failures:
        raise out.drain_failed(
            [(f"event {f.event.id} ({f.event.type})", f.error) for f in result.failures],
            f"delivered {result.sent}, {len(result.failures)} failed; {result.pending} stay pending",
            "fix the cause and run `videoctl events drain` again; `videoctl events discard ID` stops trying an "
            "event no target will ever take")
    out.success(result.to_dict(), lambda: out.stdout.print(
        f"{result.sent} event(s) delivered to {out.safe(result.target)}; {result.pending} pending"), json_flag=json_)


@app.command("discard")
@out.document(Event)
def discard(
    event: Annotated[str, typer.Argument(metavar="ID", help="The event's number (`videoctl events list`) or its UUID.")],
    reason: Annotated[str, typer.Option(help="Why; kept on the event.")] = "discarded by operator",
    json_: JsonOption = False,
) -> None:
    """Stop trying a pending event no target will ever take; it stays on record, never delivered.

    Example: videoctl events discard 42 --reason "the app dropped this video"
    """
    if event.strip().isdigit() and not 1 <= int(event) <= out.MAX_ID:
        raise UsageError(f"event number {event} is out of range (1 to {out.MAX_ID})")
    done = client().discard_event(event, reason)
    out.success(done, lambda: out.stdout.print(
        f"event {done.id} ({done.type}, {done.event_id}) discarded: {out.safe(reason)}"), json_flag=json_)
