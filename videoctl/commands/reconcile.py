"""`videoctl reconcile`: compare the database, the executor and the store; repair the drift with --fix."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.reconcile import DriftRemains
from videoctl.domain.selection import parse_duration

if TYPE_CHECKING:
    from videoctl.api import Findings, ReconcileReport, Scanned

_KINDS = ("broken ladder(s)", "orphan prefix(es)", "unowned executor job(s)", "stuck video(s)")


def _findings(report: ReconcileReport) -> tuple[Findings, ...]:
    return report.broken, report.orphans, report.unowned, report.stuck


def _render(report: ReconcileReport) -> None:
    s = report.scanned
    listed = f", {s['executor_jobs']} executor job(s)" if s["executor_jobs"] is not None else ""
    out.stdout.print(f"compared {s['videos']} video(s), {s['objects']} object(s) ({s['bytes']} bytes, "
                     f"{s['playlists_read']} playlist(s) read){listed}", highlight=False)
    out.table(None, ("kind", "found", "fixed", "in hand", "grace", "remaining"),
              ((kind, *(f.counts()[c] for c in ("found", "fixed", "in_hand", "grace", "remaining")))
               for kind, f in zip(_KINDS, _findings(report), strict=True)))
    _items("broken ladders", ("video", "hls_path", "missing", "first missing", "outcome", "job"), report.broken.items,
           lambda i: (i.video_id, i.hls_path, i.missing, i.first_missing, i.outcome, i.job_id))
    _items("orphan prefixes", ("prefix", "objects", "bytes", "newest", "outcome", "why"), report.orphans.items,
           lambda i: (i.prefix, i.objects, i.bytes, i.newest,
                      f"{i.outcome} (request {i.request_id})" if i.request_id else i.outcome, i.reason))
    _items("unowned executor jobs", ("executor job", "name", "status", "outcome", "why"), report.unowned.items,
           lambda i: (i.executor_job_id, i.name, i.status, i.outcome, i.reason))
    _items("stuck videos", ("video", "title", "updated", "outcome"), report.stuck.items,
           lambda i: (i.video_id, i.title, i.updated_at, i.outcome))
    shown = sum(len(f.items) for f in _findings(report))
    found = sum(f.counts()["found"] for f in _findings(report))
    if shown < found:
        out.info(f"{found - shown} more finding(s) not listed (--show N lists more)")
    for note in report.notes:
        out.info(f"note: {out.safe(note)}")
    if report.in_sync:
        out.stdout.print("in sync" + (": everything found was fixed or is in hand" if found else ""))


def _items(title: str, columns: tuple[str, ...], items: list, row: Callable[[Any], tuple]) -> None:
    """One kind's items as a table; an error column only when a fix failed."""
    if not items:
        return
    errors = any(item.error for item in items)
    out.table(title, columns + (("error",) if errors else ()),
              ((*row(item), *((item.error,) if errors else ())) for item in items))


@out.document("videoctl.services.reconcile:ReconcileDocument")
def reconcile(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is found; without it nothing changes.")] = False,
    older_than: Annotated[str, typer.Option(
        "--older-than", metavar="DURATION",
        help="An orphan prefix is drift once its newest object is older than this: 90m, 24h, 7d.")] = "24h",
    show: Annotated[int, typer.Option(min=0, max=out.MAX_LIMIT, help="List at most this many of each kind.")] = 20,
    json_: JsonOption = False,
) -> None:
    """Compare the database, the executor and the store, and report drift in four kinds.

    (a) Broken ladder: a READY video whose master, or a playlist or segment it names, is missing from the store. --fix resubmits it as a re-encode; the ladder stays live meanwhile.

    (b) Orphan prefix: a folder under the videos root that no video's ladder or source and no active job's attempt owns. --fix sends it to delete-r2 once its newest object is older than --older-than. A live ladder is never touched; one a pending delete request covers is left to it.

    (c) Unowned executor job: a Batch job of our queue (RUNNABLE, STARTING, RUNNING) that is not the current attempt of an active job. --fix terminates it. The local executor has no queue to list.

    (d) Stuck video: PROCESSING with no active job. --fix sets it back to UPLOADED.

    Exit 0 when in sync (or everything found was fixed or is in hand), else 13 (drift). With --json the report is {"data": …}, or inside {"error": {"code": "drift", …}} while drift remains.

    Example: videoctl reconcile --fix --older-than 48h
    """
    out.json_mode(json_)  # now, so that an error before the report is printed as JSON too
    older_than_s = parse_duration(older_than, "--older-than")
    watching = out.stderr.is_terminal and not out.STATE.json
    status = out.stderr.status("reconciling…", spinner="dots") if watching else nullcontext()
    with status:
        def progress(scanned: Scanned) -> None:
            if watching:
                status.update(f"reconciling: {scanned['objects']} objects, {scanned['videos']} videos…")

        report = client().reconcile(fix=fix, older_than_s=older_than_s, show=show, progress=progress)
    if report.in_sync:
        out.success(report.to_dict(), lambda: _render(report), json_flag=json_)
        return
    if not out.json_mode(json_):
        _render(report)
    remaining = ", ".join(f"{f.remaining} {kind}" for kind, f in zip(_KINDS, _findings(report), strict=True)
                          if f.remaining)
    raise DriftRemains(
        f"drift remains: {remaining}",
        hint="the failures say why; fix their cause and rerun" if fix else "`videoctl reconcile --fix` repairs it",
        report=report.to_dict())
