"""botocore exceptions → our AwsError, with the action, AWS's own words, and whether to try again."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from videoctl.domain.errors import AwsError

#: botocore errors raised before anything is sent that the same call would raise again.
_LOCAL_MISTAKES = (NoCredentialsError, PartialCredentialsError, NoRegionError, ParamValidationError)

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
    """The request may have reached AWS and been applied: the reply was lost, or AWS
    failed on its side (a 5xx, whose ``Server…`` code says nothing of what was done)."""
    return isinstance(exc, ReadTimeoutError | ConnectionClosedError) or (error_code(exc) or "").startswith("Server")


def aws_error(action: str, exc: BaseException) -> AwsError:
    """The domain's error for a failed AWS call: a ClientError is transient only when
    throttled or unknown in outcome; any other botocore error is connection trouble."""
    unknown = is_unknown_outcome(exc)
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return AwsError(
            f"{action} failed: {err.get('Code')}: {err.get('Message')}",
            hint="check the IAM permissions for this action" if err.get("Code") in ("AccessDenied", "AccessDeniedException")
            else None,
            transient=is_throttling(exc), outcome_unknown=unknown,
        )
    if isinstance(exc, BotoCoreError):
        return AwsError(f"{action} failed: {exc}", transient=not isinstance(exc, _LOCAL_MISTAKES),
                        outcome_unknown=unknown)
    return AwsError(f"{action} failed: {type(exc).__name__}: {exc}")
