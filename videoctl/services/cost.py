"""What the encodes cost: each attempt's usage priced, per job, per day, per source minute.

Usage rows are written by run-job as each container ends (services/run_job.py): an attempt's
own, and for a chunked attempt each try of each chunk too. A Batch container's runtime is then
replaced by Batch's own startedAt → stoppedAt, with the vCPUs and memory it was given, by
:func:`confirm_usage` in each scan pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from videoctl.domain import cost
from videoctl.domain.errors import VideoctlError
from videoctl.domain.executor import Executor
from videoctl.domain.repositories import UsageRepository
from videoctl.settings import Settings

#: A container ends within seconds of its run-job: Batch knows its times by then.
SETTLED_S = 60.0


def confirm_usage(usage: UsageRepository, executor: Executor, settings: Settings, *, limit: int = 100) -> int:
    """Replace the runner's measurements of ended Batch containers (attempts, and the chunks of
    chunked ones: an array's child is ``ARRAY_ID:INDEX``) with Batch's; returns how many.

    Batch's span is what Fargate bills (it includes pulling the image), and its capacity is
    the compute environment's as configured where the scan runs.
    """
    if executor.kind != "batch":
        return 0
    rows = usage.unconfirmed(settled_s=SETTLED_S, limit=limit)
    if not rows:
        return 0
    try:
        remotes = executor.describe([row["executor_job_id"] for row in rows])
    except VideoctlError:
        return 0  # the next pass asks again; costs are never worth failing a scan for
    confirmed = 0
    for row in rows:
        remote = remotes.get(row["executor_job_id"])
        if remote is None or remote.started_at is None or remote.stopped_at is None:
            continue
        usage.confirm(row["job_id"], row["attempt"], chunk=row["chunk"], chunk_try=row["chunk_try"],
                      capacity=settings.batch_compute_type,
                      vcpus=remote.vcpus or row["vcpus"], memory_mib=remote.memory_mib or row["memory_mib"],
                      runtime_s=max((remote.stopped_at - remote.started_at).total_seconds(), 0.0))
        confirmed += 1
    return confirmed


@dataclass(frozen=True)
class JobCost:
    """A job's usage over all its attempts that recorded one, and its price: every container
    of them, a chunked attempt's lead and each try of each of its chunks."""

    attempts: int
    #: Container-seconds: a chunked attempt's containers run at once, each counted.
    runtime_s: float
    vcpu_hours: float
    gb_hours: float
    cost_usd: float
    #: The containers priced: one per attempt that ran in one pass; a chunked attempt's lead
    #: and each try of each chunk.
    containers: int = 0


def job_costs(usage: UsageRepository, job_ids: list[int], prices: cost.Prices) -> dict[int, JobCost]:
    costs = {}
    for job_id, containers in usage.of_jobs(job_ids).items():
        costs[job_id] = JobCost(len({c.attempt for c in containers}), round(sum(c.runtime_s for c in containers), 1),
                                round(sum(c.vcpu_hours for c in containers), 6),
                                round(sum(c.gb_hours for c in containers), 6),
                                round(sum(cost.usage_cost(c, prices) for c in containers), 6), len(containers))
    return costs


class DayCost(TypedDict):
    """One day of `stats`' cost: usage, its price, and MediaConvert's for the same outputs."""

    day: datetime
    attempts: int
    vcpu_hours: float
    gb_hours: float
    cost_usd: float
    source_minutes: float
    #: Our cost per minute of source encoded (every attempt's cost, failed ones too).
    cost_per_source_minute_usd: float | None
    #: What MediaConvert would charge for the same renditions of the same minutes.
    mediaconvert_usd: float


def cost_by_day(usage: UsageRepository, *, hours: int, prices: cost.Prices) -> list[DayCost]:
    days: dict[datetime, DayCost] = {}
    for row in usage.by_day(hours):
        day = days.setdefault(row["day"], {
            "day": row["day"], "attempts": 0, "vcpu_hours": 0.0, "gb_hours": 0.0, "cost_usd": 0.0,
            "source_minutes": 0.0, "cost_per_source_minute_usd": None, "mediaconvert_usd": 0.0})
        vcpu_hours, gb_hours = row["vcpu_s"] / 3600, row["gb_s"] / 3600
        day["attempts"] += row["attempts"]
        day["vcpu_hours"] += vcpu_hours
        day["gb_hours"] += gb_hours
        day["cost_usd"] += cost.hours_cost(row["capacity"], vcpu_hours, gb_hours, prices)
        day["source_minutes"] += row["source_s"] / 60
        day["mediaconvert_usd"] += cost.mediaconvert_cost(row["hd_minutes"], row["sd_minutes"], prices)
    for day in days.values():
        day["cost_per_source_minute_usd"] = cost.per_source_minute(day["cost_usd"], day["source_minutes"] * 60)
        for key in ("vcpu_hours", "gb_hours", "cost_usd", "source_minutes", "mediaconvert_usd"):
            day[key] = round(day[key], 6)  # type: ignore[literal-required]
    return list(days.values())
