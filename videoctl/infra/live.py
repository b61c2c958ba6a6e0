"""``read_live_state(clients, desired)``: what AWS (and R2) have now, as plain data for the planner.

Only reads (Describe/Get/List). A resource that does not exist is None, and a
skipped one is not read at all; an AccessDenied on a read is an AwsError
naming the action, because a plan built on a guess would be wrong.
"""

from __future__ import annotations

from typing import Any

from videoctl.aws import batch_infra, events_infra, iam, lambda_deploy, r2_infra, sqs_infra, ssm_logs_infra
from videoctl.aws.clients import AwsClients
from videoctl.infra.model import Desired, Kind


def read_live_state(clients: AwsClients, desired: list[Desired]) -> dict[tuple[Kind, str], dict[str, Any] | None]:
    return {d.key: read_one(clients, d) for d in desired if not d.skipped}


def read_one(clients: AwsClients, d: Desired) -> dict[str, Any] | None:
    match d.kind:
        case Kind.IAM_ROLE:
            return iam.read_role(clients.iam, d.name)
        case Kind.LOG_GROUP:
            return ssm_logs_infra.read_log_group(clients.logs, d.name)
        case Kind.SSM_PARAMETER:
            return ssm_logs_infra.read_parameter(clients.ssm, d.name)
        case Kind.SQS_QUEUE:
            return sqs_infra.read_queue(clients.sqs, d.name)
        case Kind.COMPUTE_ENVIRONMENT:
            return batch_infra.read_compute_env(clients.batch, d.name)
        case Kind.JOB_QUEUE:
            return batch_infra.read_job_queue(clients.batch, d.name)
        case Kind.JOB_DEFINITION:
            return batch_infra.read_latest_job_definition(clients.batch, d.name)
        case Kind.LAMBDA_FUNCTION:
            return lambda_deploy.read_function(clients.lambda_, d.name)
        case Kind.EVENT_SOURCE_MAPPING:
            return lambda_deploy.read_event_source_mapping(clients.lambda_, d.spec["FunctionName"], d.spec["EventSourceArn"])
        case Kind.R2_CORS:
            return r2_infra.read_bucket_cors(clients.r2, d.name)
        case Kind.EVENT_BUS:
            return events_infra.read_event_bus(clients.events, d.name)
        case Kind.SNS_TOPIC:
            return events_infra.read_topic(clients.sns, d.spec["TopicArn"])
        case Kind.PLAYBACK_EDGE:
            return {}  # nothing to read: the Worker's own settings live on Cloudflare
    raise ValueError(f"unknown resource kind {d.kind}")
