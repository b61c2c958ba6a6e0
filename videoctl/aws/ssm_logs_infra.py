"""Read a CloudWatch log group and SSM parameter metadata (never a parameter's value)."""

from __future__ import annotations

from typing import Any

from videoctl.aws.infra_call import paginate


def read_log_group(logs: Any, name: str) -> dict[str, Any] | None:
    groups = paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=name) or []
    return next((g for g in groups if g.get("logGroupName") == name), None)


def read_parameter(ssm: Any, name: str) -> dict[str, Any] | None:
    """Name and type only: DescribeParameters returns no value, so no secret is read."""
    # Paginated: DescribeParameters may return an empty first page with a NextToken.
    found = paginate(ssm, "describe_parameters", "Parameters",
                     ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]) or []
    return {"Name": found[0]["Name"], "Type": found[0]["Type"]} if found else None
