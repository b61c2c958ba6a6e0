"""The production executor: one AWS Batch job per attempt.

Every Batch call goes through :func:`_call`, so nothing botocore leaves this
module: callers get the domain's AwsError, which says whether trying again can
help (``transient``) and whether the call may have been carried out although
its reply was lost (``outcome_unknown``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from videoctl.aws.batch import BatchJobs
from videoctl.aws.errors import aws_error
from videoctl.domain.executor import QueuedJob, Remote
from videoctl.domain.sizing import ContainerSize, SizingTable

T = TypeVar("T")

#: The Batch statuses of a container that holds, or is about to hold, compute: what
#: reconcile lists (SUBMITTED and PENDING ones become RUNNABLE within seconds).
UNENDED_STATUSES = ("RUNNABLE", "STARTING", "RUNNING")


def _call(action: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(action, exc) from exc


class BatchExecutor:
    kind = "batch"

    def __init__(self, batch: BatchJobs, *, sizing: SizingTable | None = None) -> None:
        self.batch = batch
        self.sizing = sizing

    def submit(self, name: str, *, job_id: int, video_id: int, attempt: int,
               priority: int | None = None, size: ContainerSize | None = None) -> str:
        return _call("SubmitJob", lambda: self.batch.submit(
            name,
            parameters={"job_id": str(job_id)},
            tags={"video_id": str(video_id), "job_id": str(job_id), "attempt": str(attempt)},
            priority=priority,
            container_overrides=container_overrides(size),
        ))

    def find(self, name: str) -> str | None:
        return _call("ListJobs", lambda: self.batch.find_by_name(name))

    def cancel(self, executor_job_id: str, reason: str) -> None:
        _call("TerminateJob", lambda: self.batch.terminate(executor_job_id, reason))

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        jobs = _call("DescribeJobs", lambda: list(self.batch.describe(executor_job_ids)))
        return {
            j["jobId"]: Remote(
                j["status"],
                j.get("statusReason") or _container_reason(j),
                _time(j.get("stoppedAt")),
                _exit_code(j),
                _time(j.get("startedAt")),
                *_resources(j),
            )
            for j in jobs
        }

    def list_unended(self) -> Iterator[QueuedJob]:
        try:
            for status in UNENDED_STATUSES:
                for job in self.batch.list_in_queue(status):
                    yield QueuedJob(job["jobId"], job["jobName"], job.get("status", status))
        except (ClientError, BotoCoreError) as exc:
            raise aws_error("ListJobs", exc) from exc


def container_overrides(size: ContainerSize | None) -> dict[str, Any] | None:
    """SubmitJob's containerOverrides for a container of *size*; None keeps the job definition's.

    Fargate takes both VCPU and MEMORY, as resourceRequirements: the older ``vcpus`` and
    ``memory`` overrides are ignored for a job definition that sets resourceRequirements.
    """
    if size is None:
        return None
    return {"resourceRequirements": [{"type": "VCPU", "value": size.vcpu_value},
                                     {"type": "MEMORY", "value": str(size.memory_mib)}]}


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms else None


def _resources(job: dict) -> tuple[float | None, int | None]:
    """The container's vCPUs and memory (MiB): Fargate's resourceRequirements, or the older fields."""
    container = job.get("container") or {}
    requirements = {r.get("type"): r.get("value") for r in container.get("resourceRequirements") or []}
    try:
        vcpus = float(requirements.get("VCPU") or container.get("vcpus") or 0) or None
        memory = int(float(requirements.get("MEMORY") or container.get("memory") or 0)) or None
    except (TypeError, ValueError):
        return None, None
    return vcpus, memory


def _exit_code(job: dict) -> int | None:
    attempts = job.get("attempts") or []
    container = attempts[-1].get("container", {}) if attempts else job.get("container", {})
    code = container.get("exitCode")
    return code if isinstance(code, int) else None


def _container_reason(job: dict) -> str | None:
    """Spot reclaims, OOM kills and image-pull failures are told in the attempt's container."""
    attempts = job.get("attempts") or []
    if attempts:
        container = attempts[-1].get("container", {})
        reason = container.get("reason")
        code = container.get("exitCode")
        if reason or code is not None:
            return f"{reason or 'container exited'} (exit code {code})"
    return None
