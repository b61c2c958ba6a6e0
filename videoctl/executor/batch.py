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
from videoctl.domain.chunks import MAX_CHUNKS, MIN_CHUNKS
from videoctl.domain.errors import InvalidState
from videoctl.domain.executor import CHUNK_ATTEMPT_VARIABLE, CHUNK_INDEX_VARIABLE, QueuedJob, Remote
from videoctl.domain.keys import chunk_job_name, chunks_job_name
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
            name, parameters={"job_id": str(job_id)}, tags=_tags(video_id, job_id, attempt), priority=priority,
            container_overrides=container_overrides(size)))

    def submit_array(self, name: str, *, job_id: int, video_id: int, attempt: int, size: int,
                     priority: int | None = None, container_size: ContainerSize | None = None) -> list[str]:
        """One array job whose ``size`` children are the attempt's chunks: the same command
        (``videoctl run-job JOB_ID``), each child's chunk from AWS_BATCH_JOB_ARRAY_INDEX, each
        container of ``container_size`` (a chunk's: the longest one's, as they share it) if given.

        Batch takes 2 to 10,000 children; the chunk plan never makes others, and a size
        outside is refused here before any call, not left to Batch's ClientException."""
        if not MIN_CHUNKS <= size <= MAX_CHUNKS:
            raise InvalidState(f"an array job of {size} chunks: AWS Batch takes {MIN_CHUNKS} to {MAX_CHUNKS} "
                               f"children (one chunk is encoded in one pass)")
        array_id = _call("SubmitJob", lambda: self.batch.submit(
            name, parameters={"job_id": str(job_id)}, tags=_tags(video_id, job_id, attempt), priority=priority,
            array_size=size,
            container_overrides=container_overrides(container_size, {CHUNK_ATTEMPT_VARIABLE: str(attempt)})))
        return [child_id(array_id, index) for index in range(size)]

    def submit_chunk(self, name: str, *, job_id: int, video_id: int, attempt: int, index: int,
                     priority: int | None = None, cpus: frozenset[int] | None = None,
                     container_size: ContainerSize | None = None) -> str:
        """One chunk alone (a resubmission): the same command, its index in VIDEOCTL_CHUNK_INDEX."""
        environment = {CHUNK_INDEX_VARIABLE: str(index), CHUNK_ATTEMPT_VARIABLE: str(attempt)}
        return _call("SubmitJob", lambda: self.batch.submit(
            name, parameters={"job_id": str(job_id)}, tags=_tags(video_id, job_id, attempt), priority=priority,
            container_overrides=container_overrides(container_size, environment)))

    def chunk_slots(self) -> None:
        return None  # Batch runs every child it has capacity for

    def find_chunk(self, *, video_id: int, job_id: int, attempt: int, index: int, tries: int) -> str | None:
        """A first try is a child of the attempt's array job; a later one a job of its own."""
        if tries == 1:
            array_id = self.find(chunks_job_name(video_id, job_id, attempt))
            return child_id(array_id, index) if array_id else None
        return self.find(chunk_job_name(video_id, job_id, attempt, index, tries))

    def stop_chunks(self, executor_job_ids: list[str], reason: str) -> None:
        """TerminateJob on each array job (Batch terminates its children with it) and on each
        chunk sent alone."""
        for executor_job_id in sorted({array_of(i) for i in executor_job_ids}):
            self.cancel(executor_job_id, reason)

    def find(self, name: str) -> str | None:
        return _call("ListJobs", lambda: self.batch.find_by_name(name))

    def cancel(self, executor_job_id: str, reason: str) -> None:
        _call("TerminateJob", lambda: self.batch.terminate(executor_job_id, reason))

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        jobs = _call("DescribeJobs", lambda: list(self.batch.describe(executor_job_ids)))
        return {
            j["jobId"]: Remote(
                j["status"],
                _reason(j),
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


def _tags(video_id: int, job_id: int, attempt: int) -> dict[str, str]:
    return {"video_id": str(video_id), "job_id": str(job_id), "attempt": str(attempt)}


def child_id(array_id: str, index: int) -> str:
    """Batch's id of an array job's child: the array's id, a colon, the index."""
    return f"{array_id}:{index}"


def array_of(executor_job_id: str) -> str:
    """The array job a child id belongs to (an id that is no child's is its own)."""
    parent, sep, index = executor_job_id.rpartition(":")
    return parent if sep and index.isdigit() else executor_job_id


def container_overrides(size: ContainerSize | None,
                        environment: dict[str, str] | None = None) -> dict[str, Any] | None:
    """SubmitJob's containerOverrides for a container of *size* with *environment* added (its
    command stays); None keeps the job definition's.

    Fargate takes both VCPU and MEMORY, as resourceRequirements: the older ``vcpus`` and
    ``memory`` overrides are ignored for a job definition that sets resourceRequirements.
    """
    overrides: dict[str, Any] = {}
    if size is not None:
        overrides["resourceRequirements"] = [{"type": "VCPU", "value": size.vcpu_value},
                                             {"type": "MEMORY", "value": str(size.memory_mib)}]
    if environment:
        overrides["environment"] = [{"name": key, "value": value} for key, value in environment.items()]
    return overrides or None


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


def _reason(job: dict) -> str | None:
    """Batch's statusReason and its container's, both when they differ: an OOM kill on Fargate is
    "Essential container in task exited" for the job and "OutOfMemoryError: …" for the container."""
    reasons = [r for r in (job.get("statusReason"), _container_reason(job)) if r]
    return "; ".join(dict.fromkeys(reasons)) or None


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
