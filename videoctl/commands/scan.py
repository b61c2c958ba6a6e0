"""`videoctl scan-stuck` and `videoctl stats`: recovery without a human, and the numbers."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.domain.errors import JobFailed

if TYPE_CHECKING:
    from videoctl.services.scan import ScanReport


def _render(report: ScanReport) -> None:
    if report.items:
        out.table("dry run: planned" if report.dry_run else "scan-stuck",
                  ("job", "video", "state", "attempt", "age", "rule", "action", "outcome", "reason"),
                  ((i.job_id, i.video_id, i.state, i.attempt, f"{i.age_s:.0f}s", i.rule, i.action,
                    i.error or i.outcome, i.reason) for i in report.items))
    out.table(None, ("summary", "count"), report.summary().items())
    for error in report.deletion_errors:
        out.stderr.print(f"[red]deletion still pending[/]: {error}", highlight=False)


def scan_stuck(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many jobs a pass.")] = 1000,
    loop: Annotated[float | None, typer.Option(
        "--loop", min=1, metavar="SECONDS", help="Keep scanning every SECONDS until SIGTERM/SIGINT.")] = None,
    json_: JsonOption = False,
) -> None:
    """Find failed, due and stalled jobs and resubmit them (the only retry decider).

    After a pass it also sends prefix deletions still pending (`videoctl r2 drain`)."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.services.scan import scan_and_drain

    ctx = context()

    def one_pass() -> ScanReport:
        return scan_and_drain(ctx, limit=limit, dry_run=dry_run)

    if loop is None:
        report = one_pass()
        out.success(report.to_dict(), lambda: _render(report), json_flag=json_)
        if report.errors:
            raise typer.Exit(JobFailed.exit_code)
        return
    _loop(one_pass, loop, json_flag=json_)


def _loop(one_pass, interval: float, *, json_flag: bool) -> None:
    """Passes until a signal; a pass in progress always finishes first."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    errors = passes = 0
    try:
        while not stop.is_set():
            report = one_pass()
            passes += 1
            errors += report.errors
            if out.json_mode(json_flag):
                print(out.dumps({"data": report.to_dict()}).replace("\n", ""), flush=True)  # one line a pass
            else:
                out.stderr.print(f"pass {passes}: " + ", ".join(f"{k} {v}" for k, v in report.summary().items()))
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.info(f"stopped after {passes} pass(es)")
    if errors:
        raise typer.Exit(JobFailed.exit_code)


def stats(
    hours: Annotated[int, typer.Option(min=1, max=24 * 30, help="Window for rates and failures.")] = 24,
    json_: JsonOption = False,
) -> None:
    """Jobs by state, oldest active job, top failure reasons, hourly throughput, mean encode time."""
    from videoctl.services.stats import collect_stats

    data = collect_stats(context().stats, hours=hours)

    def render() -> None:
        out.table("jobs by state", ("state", "jobs"), data["by_state"].items())
        oldest = data["oldest_active"]
        out.stdout.print("oldest active job: " + (
            f"{oldest['id']} ({oldest['state']}, {oldest['age_s'] / 60:.1f} min)" if oldest else "none"))
        mean = data["mean_encode_s"]
        out.stdout.print(f"mean encode time ({hours} h): " + (f"{mean:.1f}s over {data['encodes']} job(s)"
                                                             if mean is not None else "no completed jobs"))
        if data["failure_reasons"]:
            out.table(f"top failure reasons ({hours} h)", ("error", "jobs", "example"),
                      ((r["error_code"], r["jobs"], r["example"]) for r in data["failure_reasons"]))
        out.table(f"per hour ({hours} h)", ("hour", "completed", "failed"),
                  ((r["hour"], r["completed"], r["failed"]) for r in data["hourly"]))

    out.success(data, render, json_flag=json_)
