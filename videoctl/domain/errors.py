"""The closed error vocabulary of videoctl.

Every failure an operator can see is one of these classes. Each carries a
stable ``code`` (printed in ``--json`` output and stored in
``video_transcode_job.error_code``), an exit code, and a default message in
its docstring, so a bare ``raise NotFound()`` still says something useful.

Whether a job failure is retried is decided here too: ``permanent`` errors
(bad input) go straight to DEAD, everything else is transient and retried
by scan-stuck with backoff.
"""

from __future__ import annotations

import inspect


class VideoctlError(Exception):
    """Something went wrong."""

    code = "internal_error"
    exit_code = 1
    permanent = False

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        self.message = message or inspect.cleandoc(type(self).__doc__ or self.code)
        self.hint = hint
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


class UsageError(VideoctlError):
    """The command line could not be understood."""

    code = "usage_error"
    exit_code = 2


class InvalidInput(VideoctlError):
    """The input was refused."""

    code = "invalid_input"
    exit_code = 3
    permanent = True


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
    NotFound,
    InvalidState,
    ConfigError,
    DbError,
    AwsError,
    ExecutorError,
    StorageError,
    MediaError,
    VerifyFailed,
    Fenced,
    JobFailed,
    Drift,
    Interrupted,
)

#: code → exit code, the one table the README documents.
EXIT_CODES: dict[str, int] = {cls.code: cls.exit_code for cls in ERROR_CLASSES}

_PERMANENT_CODES = frozenset(cls.code for cls in ERROR_CLASSES if cls.permanent)


def is_permanent(error_code: str | None) -> bool:
    """A permanent job error is never retried: the same input fails the same way."""
    return error_code in _PERMANENT_CODES
