"""`videoctl scan-stuck`: recovery without a human."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain import ranges
from videoctl.domain.errors import JobFailed

if TYPE_CHECKING:
    from videoctl.api import ScanReport


def _render(report: ScanReport) -> None:
    if report.items:
        out.table("dry run: planned" if report.dry_run else "scan-stuck",
                  ("job", "video", "state", "attempt", "age", "rule", "action", "outcome", "reason"),
                  ((i.job_id, i.video_id, i.state, i.attempt, f"{i.age_s:.0f}s", i.rule, i.action,
                    i.error or i.outcome, i.reason) for i in report.items))
    if report.uploads:
        out.table("uploads: planned" if report.dry_run else "uploads", ("video", "action", "outcome", "job", "reason"),
                  ((u.video_id, u.action, u.error or u.outcome, u.job_id or "", u.reason) for u in report.uploads))
    out.table(None, ("summary", "count"), report.summary().items())
    for error in report.deletion_errors:
        out.stderr.print(f"[red]deletion still pending[/]: {out.safe(error)}", highlight=False)
    _render_failed_tasks(report)


def _render_failed_tasks(report: ScanReport) -> None:
    for task in report.tasks:
        if task.error is not None:
            out.stderr.print(f"[red]{task.name} failed[/]: {task.error.code}: {out.safe(task.error.message)}",
                             highlight=False)


@out.document("videoctl.services.scan:ScanDocument")
def scan_stuck(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=out.MAX_LIMIT, help="At most this many jobs a pass.")] = 1000,
    loop: Annotated[float | None, typer.Option(
        "--loop", min=1, max=ranges.MAX_DURATION_S, metavar="SECONDS",
        help="Keep scanning every SECONDS until SIGTERM/SIGINT.")] = None,
    json_: JsonOption = False,
) -> None:
    """Find failed, due and stalled jobs and resubmit them (the only retry decider).

    A pass runs each maintenance task on its own (jobs, uploads, usage, deletions, events and,
    in a loop, the daily prune): one that fails is reported with its error and the others run.
    With --loop nothing a pass meets stops the loop (a database restart, a target that is down);
    after a failed pass the next comes sooner, backing off up to SECONDS. With --loop and
    --json, each pass prints one document on one line.

    Example: videoctl scan-stuck --loop 60
    """
    videoctl = client()
    if loop is None:
        report = videoctl.scan(limit=limit, dry_run=dry_run)
        out.success(report.to_dict(), lambda: _render(report), json_flag=json_)
        if report.errors:
            raise typer.Exit(JobFailed.exit_code)
        return

    def on_pass(passes: int, report: ScanReport) -> None:
        if out.json_mode(json_):
            print(out.dumps({"data": report.to_dict()}).replace("\n", ""), flush=True)  # one line a pass
        else:
            out.stderr.print(f"pass {passes}: " + ", ".join(f"{k} {v}" for k, v in report.summary().items()))
            _render_failed_tasks(report)

    summary = videoctl.scan_loop(loop, limit=limit, dry_run=dry_run, on_pass=on_pass)
    out.info(f"stopped after {summary.passes} pass(es)")
    if summary.errors:
        raise typer.Exit(JobFailed.exit_code)
