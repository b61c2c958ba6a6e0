"""`videoctl stats`: jobs by state, the oldest active job, failures and throughput."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain import ranges


@out.document("videoctl.services.stats:Stats")
def stats(
    hours: Annotated[int, typer.Option(min=1, max=ranges.MAX_STATS_HOURS, help="Window for rates and failures.")] = 24,
    json_: JsonOption = False,
) -> None:
    """Jobs by state, oldest active job, top failure reasons, hourly throughput, mean encode time, cost,
    and how the top rung's VMAF spread over the ladders measured.

    Example: videoctl stats --hours 6
    """
    data = client().stats(hours=hours)

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
        _hourly(data["hourly"], hours)
        _cost(data["cost"], hours)
        _quality(data["quality"], hours)

    out.success(data, render, json_flag=json_)


def _cost(cost: dict, hours: int) -> None:
    """Usage and its price per day, beside what MediaConvert would charge for the same outputs."""
    if not cost["days"]:
        out.stdout.print(f"cost ({hours} h): no attempt has ended")
        return
    out.table(f"cost ({hours} h; prices: `videoctl config show`)",
              ("day", "attempts", "vCPU-h", "GB-h", "cost $", "source min", "$/source min", "MediaConvert $"),
              ((f"{d['day']:%Y-%m-%d}", d["attempts"], f"{d['vcpu_hours']:.3f}", f"{d['gb_hours']:.3f}",
                f"{d['cost_usd']:.4f}", f"{d['source_minutes']:.1f}",
                "-" if d["cost_per_source_minute_usd"] is None else f"{d['cost_per_source_minute_usd']:.5f}",
                f"{d['mediaconvert_usd']:.4f}") for d in cost["days"]))
    per_minute = cost["cost_per_source_minute_usd"]
    out.stdout.print(f"total ${cost['cost_usd']:.4f} for {cost['source_minutes']:.1f} source min"
                     + (f" (${per_minute:.5f}/min)" if per_minute is not None else "")
                     + f"; MediaConvert for the same outputs: ${cost['mediaconvert_usd']:.4f}", highlight=False)


def _quality(quality: dict, hours: int) -> None:
    """The top rung's mean VMAF over the ladders measured in the window: its spread, and a
    histogram by 10-point band from 0 to 100."""
    if not quality["ladders"]:
        out.stdout.print(f"top-rung VMAF ({hours} h): no ladder measured", highlight=False)
        return
    out.stdout.print(f"top-rung VMAF ({hours} h, {quality['ladders']} ladder(s)): min {quality['min']:.1f} · "
                     f"p5 {quality['p5']:.1f} · p50 {quality['p50']:.1f} · p95 {quality['p95']:.1f} · "
                     f"max {quality['max']:.1f}", highlight=False)
    out.stdout.print(f"  0 │{out.sparkline(quality['histogram'])}│ 100", highlight=False)


def _hourly(rows: list, hours: int) -> None:
    """A sparkline per series over the whole window, then a row only for the hours with activity:
    a quiet month folds into two lines (`--json` keeps every hour)."""
    if not rows:
        return
    first, last = rows[0]["hour"], rows[-1]["hour"]
    out.stdout.print(f"per hour ({hours} h, {out.fmt(first)} → {out.fmt(last)}):", highlight=False)
    for series in ("completed", "failed"):
        values = [r[series] for r in rows]
        out.stdout.print(f"  {series:<9} │{out.sparkline(values)}│ {sum(values)}", highlight=False)
    busy = [r for r in rows if r["completed"] or r["failed"]]
    if busy:
        out.table(None, ("hour", "completed", "failed"), ((r["hour"], r["completed"], r["failed"]) for r in busy))
    if len(busy) < len(rows):
        out.info(f"{len(rows) - len(busy)} hour(s) without activity folded (--json lists every hour)")
