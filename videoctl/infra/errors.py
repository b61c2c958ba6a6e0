"""Infra errors that carry the plan or the apply report, so --json output stays one document.

They keep the codes and exit codes of the closed vocabulary (``drift`` 13,
``aws_error`` 8, ``config_error`` 6); ``to_dict`` adds the rows, so a
failing ``verify --json`` prints ``{"error": {"code": "drift", …, "plan": […]}}``
and a failing ``setup --json`` lists what was done and what was not.
"""

from __future__ import annotations

from typing import Any

from videoctl.domain.errors import AwsError, ConfigError, Drift, VideoctlError


class _WithDetails(VideoctlError):
    def __init__(self, message: str | None = None, *, hint: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.details}


class InfraDrift(_WithDetails, Drift):
    """Live AWS resources differ from the documents in infra/json."""


class InfraAwsError(_WithDetails, AwsError):
    """An AWS call failed during infra setup."""


class InfraConfigError(_WithDetails, ConfigError):
    """The configuration is invalid."""


def with_details(exc: VideoctlError, details: dict[str, Any]) -> VideoctlError:
    """The same error (message, hint, code) with the report attached."""
    for base, detailed in ((AwsError, InfraAwsError), (Drift, InfraDrift), (ConfigError, InfraConfigError)):
        if isinstance(exc, base):
            return detailed(exc.message, hint=exc.hint, details=details)
    return InfraAwsError(f"{exc.code}: {exc.message}", hint=exc.hint, details=details)
