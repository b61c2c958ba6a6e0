"""Read the Batch resources infra manages: compute environment, job queue, latest ACTIVE job definition."""

from __future__ import annotations

from typing import Any

from videoctl.aws.infra_call import call, paginate


def read_compute_env(batch: Any, name: str) -> dict[str, Any] | None:
    found = call(batch, "describe_compute_environments", computeEnvironments=[name])["computeEnvironments"]
    return found[0] if found else None


def read_job_queue(batch: Any, name: str) -> dict[str, Any] | None:
    found = call(batch, "describe_job_queues", jobQueues=[name])["jobQueues"]
    return found[0] if found else None


def read_latest_job_definition(batch: Any, name: str) -> dict[str, Any] | None:
    """The highest ACTIVE revision: what SubmitJob uses when given the name alone."""
    found = paginate(batch, "describe_job_definitions", "jobDefinitions", jobDefinitionName=name, status="ACTIVE")
    active = [jd for jd in found or [] if jd.get("status", "ACTIVE") == "ACTIVE"]
    return max(active, key=lambda jd: jd["revision"]) if active else None
