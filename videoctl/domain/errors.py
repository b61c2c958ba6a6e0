"""The closed error vocabulary of videoctl.

Every failure an operator can see is one of these classes. Each carries a
stable ``code`` (printed in ``--json`` output and stored in
``video_transcode_job.error_code``), an exit code, and a default message in
its docstring, so a bare ``raise NotFound()`` still says something useful.

Whether a job failure is retried is decided here too, in one table
(:data:`RETRY_CLASSES`): every code a failed attempt can carry is permanent
(DEAD at once), transient (retried by scan-stuck with backoff), or permanent
once it repeats (the same deterministic failure twice in a row).
"""

from __future__ import annotations

import inspect
from enum import StrEnum


class VideoctlError(Exception):
    """Something went wrong."""

    code = "internal_error"
    exit_code = 1

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        self.message = message or inspect.cleandoc(type(self).__doc__ or self.code)
        self.hint = hint
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "hint": self.hint}

    @property
    def permanent(self) -> bool:
        """A job failing with this is DEAD at once (see RETRY_CLASSES)."""
        return retry_class(self.code) is Retry.PERMANENT


class UsageError(VideoctlError):
    """The command line could not be understood."""

    code = "usage_error"
    exit_code = 2


class InvalidInput(VideoctlError):
    """The input was refused."""

    code = "invalid_input"
    exit_code = 3


class SourceChanged(InvalidInput):
    """The video's source is not the object its upload completed with: it was replaced since."""

    code = "source_changed"
    exit_code = 3  # refused input, never retried, as invalid_input


class NotFound(VideoctlError):
    """No such object."""

    code = "not_found"
    exit_code = 4


class InvalidState(VideoctlError):
    """The object is not in a state that allows this."""

    code = "invalid_state"
    exit_code = 5


class ConfigError(VideoctlError):
    """The configuration is invalid."""

    code = "config_error"
    exit_code = 6


class _RemoteCallError(VideoctlError):
    """A call to something over the network failed; says whether trying again can help."""

    def __init__(self, message: str | None = None, *, hint: str | None = None, transient: bool = False,
                 outcome_unknown: bool = False) -> None:
        super().__init__(message, hint=hint)
        #: Worth trying again (throttling, a 5xx, a dropped connection).
        self.transient = transient or outcome_unknown
        #: The request may have been carried out although no reply came back (a read
        #: timeout, a reset connection, a 5xx): look before doing it again.
        self.outcome_unknown = outcome_unknown


class DbError(_RemoteCallError):
    """The database could not be used."""

    code = "db_error"
    exit_code = 7


class AwsError(_RemoteCallError):
    """An AWS call failed."""

    code = "aws_error"
    exit_code = 8


class ExecutorError(_RemoteCallError):
    """The executor could not start, find or stop a job's container."""

    code = "executor_error"
    exit_code = 12


class StorageError(_RemoteCallError):
    """The object store could not be used."""

    code = "storage_error"
    exit_code = 9


class DeliveryError(_RemoteCallError):
    """An event could not be delivered to its webhook."""

    code = "delivery_error"
    exit_code = 14


class MediaError(VideoctlError):
    """Encoding failed."""

    code = "media_error"
    exit_code = 10


class VerifyFailed(MediaError):
    """The produced HLS ladder did not pass verification."""

    code = "verify_failed"


class Fenced(InvalidState):
    """This runner no longer holds the job's claim; its writes are refused."""

    code = "fenced"
    exit_code = 11


class JobFailed(VideoctlError):
    """The job did not succeed."""

    code = "job_failed"
    exit_code = 1  # what Batch and `run-job`'s contract expect of a failed job


class Drift(VideoctlError):
    """Live AWS resources differ from the documents in infra/json."""

    code = "drift"
    exit_code = 13


class Interrupted(VideoctlError):
    """Interrupted by a signal."""

    code = "interrupted"
    exit_code = 130


ERROR_CLASSES: tuple[type[VideoctlError], ...] = (
    VideoctlError,
    UsageError,
    InvalidInput,
    SourceChanged,
    NotFound,
    InvalidState,
    ConfigError,
    DbError,
    AwsError,
    ExecutorError,
    StorageError,
    DeliveryError,
    MediaError,
    VerifyFailed,
    Fenced,
    JobFailed,
    Drift,
    Interrupted,
)

#: code → exit code, the one table the README documents.
EXIT_CODES: dict[str, int] = {cls.code: cls.exit_code for cls in ERROR_CLASSES}



class Retry(StrEnum):
    """What scan-stuck does with an attempt that failed with a code."""

    #: The same input fails the same way: DEAD at once, the video FAILED.
    PERMANENT = "permanent"
    #: Worth another attempt after a backoff, while attempts remain.
    TRANSIENT = "transient"
    #: Retried once; the same code again on the next attempt is DEAD (a deterministic
    #: failure must not cost every attempt a full encode).
    ONCE = "once"


class ScanFailure(StrEnum):
    """The codes scan-stuck gives the attempts it fails itself (no exception raised them)."""

    #: No heartbeat: the container hung or vanished.
    STALE = "stale"
    #: The executor never heard of the container.
    LOST = "lost"
    #: Batch: Spot reclaim, OOM kill, image pull; locally: the process is gone.
    EXECUTOR_FAILED = "executor_failed"
    #: The container ended without completing the job.
    EXITED_EARLY = "exited_early"


#: Every code a failed attempt can carry, and whether it is retried. The codes of
#: the error classes, then those scan-stuck gives the attempts it fails itself.
RETRY_CLASSES: dict[str, Retry] = {
    InvalidInput.code: Retry.PERMANENT,      # the probe refused the upload
    SourceChanged.code: Retry.PERMANENT,     # the source was replaced after its upload completed
    NotFound.code: Retry.PERMANENT,          # the video or its source is gone
    InvalidState.code: Retry.PERMANENT,      # e.g. the video was deleted meanwhile
    UsageError.code: Retry.PERMANENT,
    ConfigError.code: Retry.PERMANENT,       # fix the setting, then `jobs retry`
    Drift.code: Retry.PERMANENT,
    VerifyFailed.code: Retry.ONCE,           # a ladder that does not verify, twice, will not
    MediaError.code: Retry.TRANSIENT,        # ffmpeg killed (OOM), a flaky volume
    StorageError.code: Retry.TRANSIENT,
    DbError.code: Retry.TRANSIENT,
    AwsError.code: Retry.TRANSIENT,
    ExecutorError.code: Retry.TRANSIENT,
    DeliveryError.code: Retry.TRANSIENT,     # never an attempt's failure (events go after commits); listed for the table
    Interrupted.code: Retry.TRANSIENT,       # SIGTERM: Spot reclaim, a scale-in
    Fenced.code: Retry.TRANSIENT,
    JobFailed.code: Retry.TRANSIENT,
    VideoctlError.code: Retry.TRANSIENT,     # internal_error: unknown, so worth one more look
    **{failure: Retry.TRANSIENT for failure in ScanFailure},
}


def retry_class(error_code: str | None) -> Retry:
    """An unknown code (one written by an older version, say) is transient."""
    return RETRY_CLASSES.get(error_code or "", Retry.TRANSIENT)


def is_permanent(error_code: str | None, repeats: int = 1) -> bool:
    """Never retried: a permanent code, or a ONCE code failing for the second time in a row.

    *repeats* is how many attempts in a row have failed with this code, this one included.
    """
    kind = retry_class(error_code)
    return kind is Retry.PERMANENT or (kind is Retry.ONCE and repeats >= 2)
