"""Where a job's container runs: AWS Batch, or a local process (the embedded default).

Both implement :class:`videoctl.domain.executor.Executor` and take the same calls
from ``send_attempt`` (services/submit.py) and scan-stuck, so the local default
exercises the same state machine as production.
"""

from __future__ import annotations

from collections.abc import Callable

from videoctl.domain.executor import Executor, Remote

__all__ = ["Executor", "Remote", "open_executor"]


def open_executor(settings, aws: Callable[[], object]) -> Executor:
    """The configured executor; ``aws`` builds the AWS clients, only when Batch needs them."""
    if settings.executor == "batch":
        from videoctl.aws.batch import BatchJobs
        from videoctl.executor.batch import BatchExecutor

        return BatchExecutor(BatchJobs(aws(), queue=settings.batch_job_queue,
                                       job_definition=settings.batch_job_definition),
                             sizing=settings.sizing_table)
    from videoctl.executor.local import LocalExecutor

    return LocalExecutor(settings.home / "logs")
