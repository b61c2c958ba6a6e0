"""`videoctl stats`: jobs by state, the oldest active job, failures and throughput."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption


@out.document("videoctl.services.stats:Stats")
def stats(
    hours: Annotated[int, typer.Option(min=1, max=24 * 30, help="Window for rates and failures.")] = 24,
    json_: JsonOption = False,
) -> None:
    """Jobs by state, oldest active job, top failure reasons, hourly throughput, mean encode time.

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
        out.table(f"per hour ({hours} h)", ("hour", "completed", "failed"),
                  ((r["hour"], r["completed"], r["failed"]) for r in data["hourly"]))

    out.success(data, render, json_flag=json_)
