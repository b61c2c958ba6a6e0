"""`videoctl r2 …`: delete object prefixes through the delete-r2 path; drain, list and discard pending requests."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import UsageError
from videoctl.domain.models import DeleteRequest

app = typer.Typer(
    help="Delete object prefixes (R2: through SQS and the delete-r2 Lambda; local: at once).",
    no_args_is_help=True,
)


@app.command("delete")
@out.document("videoctl.services.r2_delete:PreviewDocument", "videoctl.services.r2_delete:EnqueuedDocument")
def delete(
    video: Annotated[int | None, typer.Option("--video", min=1, max=out.MAX_ID, help="The video whose whole prefix goes.")] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="A prefix under the videos root, ending in '/'.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why; travels with the request into the logs.")] = "operator request",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Allow deleting a source folder no video answers for (it may be the only copy).")] = False,
    show: Annotated[int, typer.Option(min=0, max=10000, help="Keys listed by --dry-run.")] = 20,
    json_: JsonOption = False,
) -> None:
    """Delete everything under a prefix: --video ID (its whole prefix) or --prefix PREFIX.

    With both, PREFIX must lie inside that video's prefix. What a video that is
    not DELETED uses (its source, its live ladder, its active job's prefixes) is
    never deleted here: `videoctl video delete ID --yes` retires the video, and
    --video is then for what is left. A source folder with no video row needs --yes.

    Example: videoctl r2 delete --prefix videos/7/hls/12-1/ --dry-run
    """
    if video is None and prefix is None:
        raise UsageError("give --video ID or --prefix PREFIX")
    videoctl = client()
    target = prefix if prefix is not None else videoctl.video_prefix(video)
    if dry_run:
        preview = videoctl.preview_delete(target, video, show=show)

        def render_preview() -> None:
            out.table(f"{preview.count} objects, {preview.total_bytes} bytes under {out.safe(preview.prefix)} "
                      f"in {out.safe(preview.location)}", ("key", "size"), ((k["key"], k["size"]) for k in preview.keys))
            if preview.count > len(preview.keys):
                out.info(f"… and {preview.count - len(preview.keys)} more")
            if preview.unclaimed_source:
                out.info(f"[yellow]this includes {out.safe(preview.unclaimed_source)}, a source folder no video "
                         "answers for: deleting needs --yes[/]")
            out.info("dry run: nothing deleted")

        out.success(preview.to_dict(), render_preview, json_flag=json_)
        return

    done = videoctl.delete_prefix(target, reason, video, confirm_source=yes)

    def render() -> None:
        if done.sent.mode == "sqs":
            out.stdout.print(f"queued delete of [bold]{out.safe(done.message.prefix)}[/] in {out.safe(done.message.bucket)} "
                             f"(message {done.sent.message_id}, key {done.message.idempotency_key}); "
                             "the delete-r2 Lambda removes it")
        else:
            out.stdout.print(f"deleted {done.sent.deleted} objects under [bold]{out.safe(done.message.prefix)}[/]")

    out.success(done.to_dict(), render, json_flag=json_)


@app.command("drain")
@out.document("videoctl.services.r2_delete:DrainDocument")
def drain(
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many requests.")] = 500,
    json_: JsonOption = False,
) -> None:
    """Send pending delete requests (abandoned attempts, replaced ladders); local mode deletes them now.

    Example: videoctl r2 drain
    """
    result = client().drain_deletions(limit=limit)
    if result.failures:
        raise out.drain_failed(
            [(f"request {f.request_id} ({f.prefix})", f.error) for f in result.failures],
            f"sent {result.sent}, {len(result.failures)} failed and stay pending",
            "fix the cause and run `videoctl r2 drain` again; `videoctl r2 discard ID` stops trying a request "
            "that can never succeed")
    verb = "deleted" if result.mode == "local" else "sent to the delete-r2 queue"
    out.success(result.to_dict(), lambda: out.stdout.print(f"{result.sent} pending request(s) {verb}"),
                json_flag=json_)


@app.command("pending")
@out.document("videoctl.services.r2_delete:PendingRequests")
def pending(
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, oldest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List delete requests not sent yet.

    Example: videoctl r2 pending --json
    """
    page = client().pending_deletions(limit=limit)

    def render() -> None:
        out.table(f"{page.total} pending", ("id", "prefix", "reason", "video", "requested"),
                  ((r.id, r.prefix, r.reason, r.video_id, r.requested_at) for r in page.requests))

    out.success(page, render, json_flag=json_)


@app.command("discard")
@out.document(DeleteRequest)
def discard(
    request_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="The pending request's id (`videoctl r2 pending`).")],
    reason: Annotated[str, typer.Option(help="Why; kept on the request.")] = "discarded by operator",
    json_: JsonOption = False,
) -> None:
    """Stop trying a pending delete request that can never succeed; its objects stay where they are.

    Example: videoctl r2 discard 3 --reason "prefix is a live ladder now"
    """
    request = client().discard_deletion(request_id, reason)
    out.success(request, lambda: out.stdout.print(
        f"delete request {request.id} ({out.safe(request.prefix)}) discarded: {out.safe(reason)}; nothing was deleted"),
        json_flag=json_)
