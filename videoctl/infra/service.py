"""The infra use cases the commands call: verify, setup, register-jobdef, lambda-setup.

Each one: load and validate the documents (no AWS yet), learn the account
(STS only if AWS_ACCOUNT_ID is unset), read live state, plan, and for
setup apply. Selecting a subset of resources (the job definition alone,
the Lambda and its queue) reuses the same plan and apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from videoctl.aws.clients import AwsClients
from videoctl.aws.infra_call import call
from videoctl.infra import documents, files, package, placeholders, validation
from videoctl.infra.apply import Sleep, Waiting, apply, quiet
from videoctl.infra.live import read_live_state
from videoctl.infra.model import ApplyReport, Desired, Kind, PlanItem, SecretRef, SetupDocument, VerifyDocument
from videoctl.infra.planner import plan
from videoctl.settings import Settings

Select = Callable[[Desired], bool]


def everything(_: Desired) -> bool:
    return True


def job_definition_only(d: Desired) -> bool:
    return d.kind is Kind.JOB_DEFINITION


def lambda_only(d: Desired) -> bool:
    return "lambda" in d.groups


#: What each command acts on: setup and verify everything, register-jobdef and lambda-setup their part.
SCOPES: dict[str, Select] = {"all": everything, "job_definition": job_definition_only, "lambda": lambda_only}


@dataclass
class Outcome:
    plan: list[PlanItem]
    report: ApplyReport | None = None

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.plan)

    def to_dict(self) -> VerifyDocument | SetupDocument:
        """verify: ``ok`` and the plan; setup: ``in_sync_before``, the plan it ran, and what it did."""
        plan = [item.to_dict() for item in self.plan]
        if self.report is None:
            return {"ok": self.ok, "plan": plan}
        return {"in_sync_before": self.ok, "plan": plan, **self.report.to_dict()}


def check_documents(settings: Settings) -> documents.Documents:
    """Load and validate with a provisional account id: every local mistake before any AWS call."""
    docs = files.load(settings, settings.aws_account_id or placeholders.PROVISIONAL_ACCOUNT_ID)
    validation.validate(docs, sizing=settings.sizing_table)
    return docs


def account_id(settings: Settings, clients: AwsClients) -> str:
    if settings.aws_account_id:
        return settings.aws_account_id
    return str(call(clients.sts, "get_caller_identity")["Account"])


def desired(settings: Settings, clients: AwsClients, select: Select = everything) -> list[Desired]:
    """The selected resources; the Lambda zip is built only if the function is among them."""
    check_documents(settings)
    docs = files.load(settings, account_id(settings, clients))
    wants_lambda = any(select(d) for d in documents.desired_resources(docs, settings, None)
                       if d.kind is Kind.LAMBDA_FUNCTION)
    zip_bytes = package.build_lambda_zip() if wants_lambda else None
    return [d for d in documents.desired_resources(docs, settings, zip_bytes) if select(d)]


def make_plan(settings: Settings, clients: AwsClients, select: Select = everything) -> list[PlanItem]:
    wanted = desired(settings, clients, select)
    return plan(wanted, read_live_state(clients, wanted))


def secret_from(settings: Settings) -> Callable[[SecretRef], str | None]:
    def secret(ref: SecretRef) -> str | None:
        value = getattr(settings, ref.setting, None) if ref.setting else None
        return None if value is None else str(value)

    return secret


def setup(settings: Settings, clients: AwsClients, select: Select = everything, *,
          sleep: Sleep = time.sleep, waiting: Waiting = quiet) -> Outcome:
    current = make_plan(settings, clients, select)
    report = apply(current, clients, secret=secret_from(settings), sleep=sleep, waiting=waiting)
    return Outcome(current, report)
