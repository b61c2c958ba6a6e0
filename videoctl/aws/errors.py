"""botocore exceptions → our AwsError, with the action and AWS's own words."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)

from videoctl.domain.errors import AwsError

THROTTLING_CODES = frozenset({
    "TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
    "SlowDown", "RequestThrottled",
})


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def is_unknown_outcome(exc: BaseException) -> bool:
    """The request may have reached AWS and been applied: the reply was lost."""
    return isinstance(exc, ReadTimeoutError | ConnectionClosedError)


def aws_error(action: str, exc: BaseException) -> AwsError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return AwsError(
            f"{action} failed: {err.get('Code')}: {err.get('Message')}",
            hint="check the IAM permissions for this action" if err.get("Code") in ("AccessDenied", "AccessDeniedException")
            else None,
        )
    if isinstance(exc, BotoCoreError):
        return AwsError(f"{action} failed: {exc}")
    return AwsError(f"{action} failed: {type(exc).__name__}: {exc}")
