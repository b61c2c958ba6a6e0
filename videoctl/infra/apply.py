"""``apply(plan, clients)``: run the plan's calls in order, wait where AWS is asynchronous.

Every action is recorded as done, failed or not attempted, so a failure
half-way (an AccessDenied on the fourth call) is reported with what was
done before it and what was left, never as a bare stack trace. Running
the same plan again is safe: the next ``plan()`` only contains what is
still missing.

Sleeping and the spinner are injected: tests pass a sleep that returns at
once, the CLI passes a rich status on stderr.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from botocore.exceptions import ClientError

from videoctl.aws import batch_infra, lambda_deploy
from videoctl.aws.clients import AwsClients
from videoctl.aws.infra_call import call
from videoctl.domain.errors import AwsError, ConfigError, VideoctlError
from videoctl.infra.errors import with_details
from videoctl.infra.model import Action, ActionResult, ApplyReport, PlanItem, SecretRef

#: A Fargate compute environment usually turns VALID within a minute; give AWS a generous bound.
WAIT_TIMEOUT_S = 900.0
POLL_S = 5.0
#: A role created seconds ago is not yet assumable everywhere (IAM is eventually consistent):
#: Lambda and Batch refuse it with a "cannot be assumed"/permission message for a few seconds.
PROPAGATION_TRIES = 8
PROPAGATION_SLEEP_S = 5.0
_PROPAGATION_METHODS = frozenset({
    "create_compute_environment", "update_compute_environment", "create_function",
    "update_function_configuration", "create_event_source_mapping",
})
_PROPAGATION_CODES = frozenset({"InvalidParameterValueException", "ClientException", "InvalidParameterValue"})

Sleep = Callable[[float], None]
Waiting = Callable[[str], AbstractContextManager[Any]]


def quiet(_: str) -> AbstractContextManager[Any]:
    return nullcontext()


def apply(
    plan: list[PlanItem],
    clients: AwsClients,
    *,
    secret: Callable[[SecretRef], str | None],
    sleep: Sleep = time.sleep,
    waiting: Waiting = quiet,
    wait_timeout_s: float = WAIT_TIMEOUT_S,
    poll_s: float = POLL_S,
) -> ApplyReport:
    report = ApplyReport(
        results=[ActionResult(item.kind, item.name, action, "not_attempted") for item in plan for action in item.actions],
        manual=[f"{item.kind.value} {item.name}: {note}" for item in plan for note in item.manual],
    )
    for result in report.results:
        try:
            response = _run(result.action, clients, secret, sleep)
            if result.action.wait:
                with waiting(f"waiting for {result.kind.value} {result.name} …"):
                    _wait(result.action, clients, sleep, wait_timeout_s, poll_s)
        except VideoctlError as exc:
            result.status, result.error = "failed", exc.message
            raise with_details(exc, report.to_dict()) from exc
        result.status, result.result = "done", _summary(response)
    return report


def _run(action: Action, clients: AwsClients, secret: Callable[[SecretRef], str | None], sleep: Sleep) -> Any:
    params = dict(action.params)
    for key, value in params.items():
        if isinstance(value, SecretRef):
            resolved = secret(value)
            if resolved is None:
                raise ConfigError(f"{value.env} is not set, so {params.get('Name')} cannot be created")
            params[key] = resolved
    client = getattr(clients, action.service)
    for attempt in range(1, PROPAGATION_TRIES + 1):
        try:
            return call(client, action.method, **params)
        except AwsError as exc:
            if attempt == PROPAGATION_TRIES or not _iam_propagation(action.method, exc.__cause__):
                raise
            sleep(PROPAGATION_SLEEP_S)
    raise AssertionError("unreachable")


def _iam_propagation(method: str, cause: BaseException | None) -> bool:
    if method not in _PROPAGATION_METHODS or not isinstance(cause, ClientError):
        return False
    error = cause.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in _PROPAGATION_CODES and any(w in message for w in ("role", "assume", "permission"))


def _summary(response: Any) -> str | None:
    """The identifier a create/register call returned (an ARN, a queue URL, a mapping UUID)."""
    if not isinstance(response, dict):
        return None
    for key in ("jobDefinitionArn", "computeEnvironmentArn", "jobQueueArn", "UUID", "FunctionArn", "QueueUrl",
                "EventBusArn", "TopicArn"):
        if key in response:
            return str(response[key])
    role = response.get("Role")
    return str(role["Arn"]) if isinstance(role, dict) and "Arn" in role else None


# ---------------------------------------------------------------- waits


def _wait(action: Action, clients: AwsClients, sleep: Sleep, timeout_s: float, poll_s: float) -> None:
    check = {"compute_environment": _compute_env_ready, "job_queue": _job_queue_ready, "lambda": _function_ready}[action.wait]
    polls = max(1, math.ceil(timeout_s / poll_s))
    last = "unknown"
    for poll in range(polls + 1):
        done, last = check(action, clients)
        if done:
            return
        if poll < polls:
            sleep(poll_s)
    raise AwsError(f"{action.api}: still {last} after {timeout_s:.0f} s",
                   hint="look at the resource in the AWS console, then rerun setup (it continues where it stopped)")


def _compute_env_ready(action: Action, clients: AwsClients) -> tuple[bool, str]:
    name = action.params.get("computeEnvironmentName") or action.params["computeEnvironment"]
    ce = batch_infra.read_compute_env(clients.batch, name)
    if ce is None:
        return False, "not visible yet"
    if ce.get("status") == "INVALID":
        raise AwsError(f"compute environment {name} is INVALID: {ce.get('statusReason')}",
                       hint="fix the cause (subnets, security groups, service role), then rerun setup")
    return ce.get("status") == "VALID", f"{ce.get('status')}/{ce.get('state')}"


def _job_queue_ready(action: Action, clients: AwsClients) -> tuple[bool, str]:
    name = action.params.get("jobQueueName") or action.params["jobQueue"]
    queue = batch_infra.read_job_queue(clients.batch, name)
    if queue is None:
        return False, "not visible yet"
    if queue.get("status") == "INVALID":
        raise AwsError(f"job queue {name} is INVALID: {queue.get('statusReason')}")
    want_state = action.params.get("state", queue.get("state"))
    return queue.get("status") == "VALID" and queue.get("state") == want_state, f"{queue.get('status')}/{queue.get('state')}"


def _function_ready(action: Action, clients: AwsClients) -> tuple[bool, str]:
    """Lambda refuses a second update while one is InProgress, and an ESM on a Pending function."""
    name = action.params["FunctionName"]
    fn = lambda_deploy.read_function(clients.lambda_, name)
    if fn is None:
        return False, "not visible yet"
    state, update = fn.get("State"), fn.get("LastUpdateStatus")
    if state == "Failed" or update == "Failed":
        raise AwsError(f"Lambda function {name} failed: {fn.get('StateReason') or fn.get('LastUpdateStatusReason')}")
    return state == "Active" and update != "InProgress", f"{state}/{update}"
