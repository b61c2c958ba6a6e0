"""What an executor is to the rest of videoctl: where one attempt's container runs.

The interface and the words executors answer with live here, in the pure
domain, so the scan rules can read them without importing any IO; the
executors themselves (AWS Batch, a local process) live in videoctl/executor/.
They report failures as domain errors only (AwsError, ExecutorError), each
saying whether trying again can help and whether the outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from videoctl.domain.sizing import ContainerSize, SizingTable

#: How a local process's executor id begins (``local:PID:START``); anything else is Batch's.
LOCAL_ID_PREFIX = "local:"

#: Executor statuses that mean the container is gone for good without success.
REMOTE_FAILED = frozenset({"FAILED", "MISSING"})

#: Executor statuses that mean the container has ended, whichever way.
REMOTE_ENDED = REMOTE_FAILED | {"SUCCEEDED"}


class Remote(NamedTuple):
    """The executor's word on the job's current container (None: it does not know it).

    Executors answer ``describe`` with these; a tuple, as a pass asks about every job out there.
    """

    #: Batch's SUBMITTED … RUNNING, SUCCEEDED, FAILED; local: RUNNING or MISSING.
    status: str
    #: Why it stopped: Batch's statusReason or its container's (Spot reclaim, OOM, …).
    reason: str | None = None
    #: When the container stopped, for those that did.
    stopped_at: datetime | None = None
    #: The container's exit code, for those that ended and whose executor tells it.
    exit_code: int | None = None
    #: When the container started, and what it was given: what Fargate bills (cost).
    started_at: datetime | None = None
    vcpus: float | None = None
    memory_mib: int | None = None


class QueuedJob(NamedTuple):
    """A container the executor's queue holds that has not ended (what reconcile compares)."""

    executor_job_id: str
    #: The name it was submitted under: ``video-{v}-job-{j}-a{n}`` for ours.
    name: str
    #: Batch's RUNNABLE, STARTING or RUNNING.
    status: str


#: What a chunk's container is told besides its command (``videoctl run-job JOB_ID``): the
#: attempt it belongs to, and which chunk it is when it runs alone. A child of a Batch array
#: job finds its chunk in AWS_BATCH_JOB_ARRAY_INDEX instead.
CHUNK_ATTEMPT_VARIABLE = "VIDEOCTL_CHUNK_ATTEMPT"
CHUNK_INDEX_VARIABLE = "VIDEOCTL_CHUNK_INDEX"
BATCH_ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"


class Executor(Protocol):
    kind: str
    #: How it sizes a container to its source (VIDEOCTL_SIZING); None when it sizes nothing:
    #: sizing is off, or a local process, which has no size to choose.
    sizing: SizingTable | None

    def submit(self, name: str, *, job_id: int, video_id: int, attempt: int,
               priority: int | None = None, size: ContainerSize | None = None) -> str:
        """Start the job's container, of *size* if given (else the default); returns the executor's job id."""

    def submit_array(self, name: str, *, job_id: int, video_id: int, attempt: int, size: int,
                     priority: int | None = None, container_size: ContainerSize | None = None) -> list[str] | None:
        """Start the ``size`` chunks of a chunked attempt at once, each container of
        ``container_size`` (the longest chunk's) if given; their executor ids by index. None when
        this executor starts chunks one at a time as it has room (``chunk_slots``)."""

    def submit_chunk(self, name: str, *, job_id: int, video_id: int, attempt: int, index: int,
                     priority: int | None = None, cpus: frozenset[int] | None = None,
                     container_size: ContainerSize | None = None) -> str:
        """Start one chunk's container alone, of ``container_size`` if given; ``cpus``: where a
        local process may run."""

    def chunk_slots(self) -> list[frozenset[int]] | None:
        """The CPUs each chunk process may have, one entry per chunk run at once (a local
        machine: one per spare CPU); None when the executor has no such limit (Batch)."""

    def find_chunk(self, *, video_id: int, job_id: int, attempt: int, index: int, tries: int) -> str | None:
        """The executor id of a chunk's try whose sending was not recorded, if it exists."""

    def stop_chunks(self, executor_job_ids: list[str], reason: str) -> None:
        """Stop every container of an attempt's chunks (an array job as a whole)."""

    def find(self, name: str) -> str | None:
        """The executor job id of a submission whose reply was lost, if it exists."""

    def cancel(self, executor_job_id: str, reason: str) -> None:
        """Stop the container; a container already gone is not an error."""

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        """Status of each id it knows; ids it does not know are left out."""

    def list_unended(self) -> Iterator[QueuedJob] | None:
        """Every container of our queue that has not ended, page by page; None when this
        executor has no queue to list (a local process is known only by its pid)."""
