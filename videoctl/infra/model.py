"""The data that flows planner → apply → command: desired resources, diffs, actions, plan items.

Everything here is plain data so ``plan()`` stays pure and the command can
print the same plan as a rich table or as JSON. Secrets never enter these
objects: an SSM value is referred to by the setting that holds it
(:class:`SecretRef`) and looked up only at the moment of the PutParameter call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypedDict


class Kind(StrEnum):
    """Resource kinds, in the order setup creates them (dependencies first)."""

    IAM_ROLE = "iam_role"
    LOG_GROUP = "log_group"
    SSM_PARAMETER = "ssm_parameter"
    SQS_QUEUE = "sqs_queue"
    COMPUTE_ENVIRONMENT = "compute_environment"
    JOB_QUEUE = "job_queue"
    JOB_DEFINITION = "job_definition"
    LAMBDA_FUNCTION = "lambda_function"
    EVENT_SOURCE_MAPPING = "event_source_mapping"
    # Only with VIDEOCTL_EVENTS_TARGET naming one (infra/events_target.py).
    EVENT_BUS = "event_bus"
    SNS_TOPIC = "sns_topic"
    #: The R2 bucket's CORS rules (Cloudflare, through its S3 API): last, so an R2 token that may not
    #: set them stops nothing on AWS.
    R2_CORS = "r2_cors"
    #: The playback edge's settings (infra/playback_edge.py): checked here, deployed with wrangler.
    PLAYBACK_EDGE = "playback_edge"


ORDER = {kind: i for i, kind in enumerate(Kind)}


class Status(StrEnum):
    OK = "OK"
    MISSING = "MISSING"
    DRIFT = "DRIFT"
    #: Not managed with these settings (the row's note says why); counts as in order.
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Desired:
    """One resource as the documents in infra/json describe it (placeholders resolved)."""

    kind: Kind
    name: str
    spec: dict[str, Any]
    source: str  # the document(s) it came from, for messages
    groups: frozenset[str] = frozenset()
    #: Why these settings leave the resource alone (nothing is read or changed); None when managed.
    skipped: str | None = None

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)


@dataclass(frozen=True)
class SecretRef:
    """A value that lives in the operator's settings; resolved only by apply."""

    env: str  # the variable, e.g. DATABASE_URL
    setting: str  # the Settings field


class DiffDocument(TypedDict):
    field: str
    live: Any
    desired: Any
    note: str | None


class ActionDocument(TypedDict):
    api: str
    description: str


class PlanItemDocument(TypedDict):
    kind: Kind
    name: str
    status: Status
    diff: list[DiffDocument]
    actions: list[ActionDocument]
    manual: list[str]
    source: str
    ref: str | None
    #: Why a SKIPPED resource is not managed; null otherwise.
    note: str | None


class ResultDocument(TypedDict):
    kind: Kind
    name: str
    api: str
    description: str
    #: done | failed | not_attempted
    status: str
    result: str | None
    error: str | None


class ReportDocument(TypedDict):
    changed: bool
    done: list[ResultDocument]
    not_done: list[ResultDocument]
    manual: list[str]


class VerifyDocument(TypedDict):
    """`infra verify`: every resource compared, ok when all match."""

    ok: bool
    plan: list[PlanItemDocument]


class PlanDocument(VerifyDocument):
    """`infra setup --dry-run`: the plan, nothing applied."""

    dry_run: Literal[True]


class SetupDocument(ReportDocument):
    """`infra setup`: the plan it ran and what it did."""

    in_sync_before: bool
    plan: list[PlanItemDocument]


@dataclass(frozen=True)
class Diff:
    field: str
    live: Any
    desired: Any
    note: str | None = None

    def to_dict(self) -> DiffDocument:
        return {"field": self.field, "live": self.live, "desired": self.desired, "note": self.note}

    def __str__(self) -> str:
        text = f"{self.field}: {_short(self.live)} → {_short(self.desired)}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Action:
    """One AWS call setup will make, e.g. ``iam:PutRolePolicy``.

    ``wait`` names a condition apply polls for after the call
    (compute environment VALID, Lambda update finished, …).
    """

    service: str  # attribute of AwsClients: iam, batch, sqs, logs, ssm, lambda_, r2 (R2's S3 API)
    method: str  # boto3 method name
    params: dict[str, Any]
    description: str
    wait: str | None = None

    @property
    def api(self) -> str:
        # Spelled as the error of a failed call spells it (the client's signing name).
        prefix = {"lambda_": "lambda", "r2": "s3"}.get(self.service, self.service)
        return f"{prefix}:{''.join(p.capitalize() for p in self.method.split('_'))}"

    def to_dict(self) -> ActionDocument:
        # Parameters are left out on purpose: they hold zip bytes and, for SSM, secret references.
        return {"api": self.api, "description": self.description}


@dataclass(frozen=True)
class PlanItem:
    kind: Kind
    name: str
    status: Status
    diffs: tuple[Diff, ...] = ()
    actions: tuple[Action, ...] = ()
    #: what setup cannot do by itself (a person must act), e.g. an SSM value nobody gave us
    manual: tuple[str, ...] = ()
    source: str = ""
    #: the live resource's identifier (ARN, queue URL, mapping UUID) when it exists
    ref: str | None = None
    #: why a SKIPPED resource is not managed
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.OK, Status.SKIPPED)

    def to_dict(self) -> PlanItemDocument:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "diff": [d.to_dict() for d in self.diffs],
            "actions": [a.to_dict() for a in self.actions],
            "manual": list(self.manual),
            "source": self.source,
            "ref": self.ref,
            "note": self.note,
        }


@dataclass
class ActionResult:
    kind: Kind
    name: str
    action: Action
    status: str  # done | failed | not_attempted
    result: str | None = None  # e.g. the new job definition ARN
    error: str | None = None

    def to_dict(self) -> ResultDocument:
        return {
            "kind": self.kind,
            "name": self.name,
            **self.action.to_dict(),
            "status": self.status,
            "result": self.result,
            "error": self.error,
        }


@dataclass
class ApplyReport:
    results: list[ActionResult] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)

    @property
    def done(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "done"]

    @property
    def not_done(self) -> list[ActionResult]:
        return [r for r in self.results if r.status != "done"]

    @property
    def changed(self) -> bool:
        return bool(self.done)

    def to_dict(self) -> ReportDocument:
        return {
            "changed": self.changed,
            "done": [r.to_dict() for r in self.done],
            "not_done": [r.to_dict() for r in self.not_done],
            "manual": list(self.manual),
        }


def _short(value: Any, limit: int = 80) -> str:
    text = "absent" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
