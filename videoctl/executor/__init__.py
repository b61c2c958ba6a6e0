"""Where a job's container runs: AWS Batch, or a local process (the embedded default).

Both take the same call from submit_batch_job and scan-stuck, so the local
default exercises the same state machine as production.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from videoctl.domain.scan import Remote


class Executor(Protocol):
    kind: str

    def submit(self, name: str, *, job_id: int, video_id: int, attempt: int,
               priority: int | None = None) -> str:
        """Start the job's container; returns the executor's job id."""

    def find(self, name: str) -> str | None:
        """The executor job id of a submission whose reply was lost, if it exists."""

    def cancel(self, executor_job_id: str, reason: str) -> None:
        """Stop the container; a container already gone is not an error."""

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        """Status of each id it knows; ids it does not know are left out."""


def open_executor(settings, aws: Callable[[], object]) -> Executor:
    """The configured executor; ``aws`` builds the AWS clients, only when Batch needs them."""
    if settings.executor == "batch":
        from videoctl.aws.batch import BatchJobs
        from videoctl.executor.batch import BatchExecutor

        return BatchExecutor(BatchJobs(aws(), queue=settings.batch_job_queue,
                                       job_definition=settings.batch_job_definition))
    from videoctl.executor.local import LocalExecutor

    return LocalExecutor(settings.home / "logs")
