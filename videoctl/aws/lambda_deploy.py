"""Read the delete-r2 Lambda and its SQS event source mapping as infra compares them."""

from __future__ import annotations

from typing import Any

from videoctl.aws.infra_call import call

NOT_FOUND = ("ResourceNotFoundException",)


def read_function(lambda_: Any, name: str) -> dict[str, Any] | None:
    config = call(lambda_, "get_function_configuration", missing=NOT_FOUND, FunctionName=name)
    if config is None:
        return None
    config.pop("ResponseMetadata", None)
    return config


def read_event_source_mapping(lambda_: Any, function_name: str, source_arn: str) -> dict[str, Any] | None:
    found = call(lambda_, "list_event_source_mappings", missing=NOT_FOUND,
                 FunctionName=function_name, EventSourceArn=source_arn)
    mappings = (found or {}).get("EventSourceMappings", [])
    return mappings[0] if mappings else None
