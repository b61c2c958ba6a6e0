"""`videoctl infra …`: compare AWS with infra/json, and make it match.

verify prints the plan; setup applies it; register-jobdef and lambda-setup
apply the part of it they name. All of them validate the documents first
and send nothing to AWS when a document is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import typer

from videoctl.api import DiffDocument, InfraDrift, InfraStatus, PlanItem
from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import VideoctlError

if TYPE_CHECKING:
    from videoctl.api import InfraOutcome, InfraScope

_MODEL = "videoctl.infra.model"


class RegisteredJobDefinition(TypedDict):
    #: False when the ACTIVE revision already matched infra/json.
    registered: bool
    arn: str | None
    diff: list[DiffDocument]

app = typer.Typer(
    help="Check and set up the resources described in infra/json: IAM roles, Batch, SQS, the delete-r2 Lambda, "
         "the R2 bucket's CORS rules; verify also checks the playback edge's settings.",
    no_args_is_help=True,
)

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the plan (as verify does) and change nothing.")]

_STATUS_STYLE = {"OK": "green", "MISSING": "yellow", "DRIFT": "red", "SKIPPED": "dim"}  # by infra.model.Status value
_MAX_DIFFS = 8


def _plan_table(items: list[PlanItem], title: str | None = None) -> None:
    rows = []
    for item in items:
        diffs = [out.safe(d) for d in item.diffs[:_MAX_DIFFS]]
        if item.note:
            diffs.append(f"[italic]{out.safe(item.note)}[/]")
        if len(item.diffs) > _MAX_DIFFS:
            diffs.append(f"… {len(item.diffs) - _MAX_DIFFS} more (see --json)")
        todo = [out.safe(a.description) for a in item.actions] + [f"[italic]by hand:[/] {out.safe(m)}"
                                                                    for m in item.manual]
        status = out.Markup(f"[{_STATUS_STYLE[item.status.value]}]{item.status.value}[/]")
        rows.append((item.kind.value, item.name, status, out.Markup("\n".join(diffs)) or None,
                     out.Markup("\n".join(todo)) or None))
    out.table(title, ("resource", "name", "status", "differences", "setup will"), rows)


def _report_table(report: dict[str, Any]) -> None:
    rows = [(r["kind"], r["name"], r["api"], r["status"], r.get("result") or r.get("error")) for r in
            report.get("done", []) + report.get("not_done", [])]
    if rows:
        out.table("changes", ("resource", "name", "call", "status", "result"), rows)
    for note in report.get("manual", []):
        out.stdout.print(f"[yellow]by hand:[/] {out.safe(note)}", highlight=False)


def _matched(items: list[PlanItem]) -> str:
    """How many resources match, and which ones these settings leave alone (and why)."""
    skipped = [i for i in items if i.status is InfraStatus.SKIPPED]
    text = f"all {len(items) - len(skipped)} resources match infra/json"
    if skipped:
        text += "; not managed: " + "; ".join(f"{i.kind.value} {i.name} ({i.note})" for i in skipped)
    return out.safe(text)


def _not_ok(items: list[PlanItem]) -> str:
    bad = [f"{i.kind.value} {i.name} ({i.status.value})" for i in items if not i.ok]
    return ", ".join(bad)


def _spinner(message: str) -> Any:
    return out.stderr.status(message, spinner="dots")


def _apply(scope: InfraScope, json_: bool, what: str) -> InfraOutcome:
    """Run setup for the scope's resources; on failure show what was done and what was not."""
    try:
        outcome = client().infra_setup(scope, waiting=_spinner)
    except VideoctlError as exc:
        details = getattr(exc, "details", None)
        if details and not out.json_mode(json_):
            _report_table(details)
        raise
    if outcome.report and outcome.report.manual:
        if not out.json_mode(json_):
            _render_outcome(outcome, what)
        raise InfraDrift(
            f"{what}: {len(outcome.report.manual)} thing(s) need a person: " + "; ".join(outcome.report.manual),
            hint="do what is listed, then rerun; everything else was applied",
            details=outcome.to_dict(),
        )
    return outcome


def _render_outcome(outcome: InfraOutcome, what: str) -> None:
    report = outcome.report
    if report is None:
        return
    if report.changed or report.manual:
        _report_table(report.to_dict())
    if report.changed:
        out.stdout.print(f"{what}: {len(report.done)} change(s) applied; `videoctl infra verify` confirms",
                         highlight=False)
    elif not report.manual:
        out.stdout.print(f"{what}: nothing to change, {_matched(outcome.plan)}",
                         highlight=False)


@app.command("verify")
@out.document(f"{_MODEL}:VerifyDocument")
def verify(json_: JsonOption = False) -> None:
    """Compare live AWS and R2 with infra/json and print one row per resource: OK, MISSING or DRIFT.

    Changes nothing. Exit 0 when every resource is OK, else exit 13 (drift). A resource the settings
    leave alone is SKIPPED with the reason (the R2 bucket's CORS rules without VIDEOCTL_UPLOAD_ORIGINS).
    With --json, success prints {"data": {"ok": true, "plan": [...]}} and drift prints
    {"error": {"code": "drift", "message", "hint", "ok": false, "plan": [...]}}: one document
    either way, the rows inside.

    Example: videoctl infra verify --json
    """
    out.json_mode(json_)  # now, so that an error before the plan is printed as JSON too
    outcome = client().infra_plan()
    items = outcome.plan
    if outcome.ok:
        def render() -> None:
            _plan_table(items)
            out.stdout.print(_matched(items), highlight=False)

        out.success(outcome.to_dict(), render, json_flag=json_)
        return
    if not out.json_mode(json_):
        _plan_table(items)
    raise InfraDrift(
        f"{sum(not i.ok for i in items)} of {len(items)} resources differ from infra/json: {_not_ok(items)}",
        hint="`videoctl infra setup --dry-run` shows the calls, `videoctl infra setup` makes them",
        details=outcome.to_dict(),
    )


@app.command("setup")
@out.document(f"{_MODEL}:PlanDocument", f"{_MODEL}:SetupDocument")
def setup(dry_run: DryRunOption = False, json_: JsonOption = False) -> None:
    """Create what is missing and update what drifted, so AWS matches infra/json; safe to rerun.

    Includes the delete-r2 Lambda (see lambda-setup). Waits for the compute environment and job queue
    to be VALID/ENABLED. --dry-run prints the plan and exits 0. Exit 8 (aws_error) if a call fails, with
    what was done and what was not; exit 13 if something needs a person (e.g. an SSM value nobody set).

    Example: videoctl infra setup --dry-run
    """
    _setup("all", dry_run, json_, "setup")


@app.command("lambda-setup")
@out.document(f"{_MODEL}:PlanDocument", f"{_MODEL}:SetupDocument")
def lambda_setup(dry_run: DryRunOption = False, json_: JsonOption = False) -> None:
    """Build the delete-r2 Lambda zip from this checkout and deploy it with its role, queue, DLQ and trigger.

    Idempotent: the code is uploaded only when its CodeSha256 changed. Same exit codes as setup.

    Example: videoctl infra lambda-setup
    """
    _setup("lambda", dry_run, json_, "lambda-setup")


def _setup(scope: InfraScope, dry_run: bool, json_: bool, what: str) -> None:
    out.json_mode(json_)  # now, so that an error before the plan is printed as JSON too
    if dry_run:
        outcome = client().infra_plan(scope)
        items = outcome.plan

        def render() -> None:
            _plan_table(items, "plan (dry run)")
            calls = sum(len(i.actions) for i in items)
            out.stdout.print(f"{calls} call(s) would be made; nothing changed", highlight=False)

        out.success({"dry_run": True, **outcome.to_dict()}, render, json_flag=json_)
        return
    outcome = _apply(scope, json_, what)
    out.success(outcome.to_dict(), lambda: _render_outcome(outcome, what), json_flag=json_)


@app.command("register-jobdef")
@out.document(RegisteredJobDefinition)
def register_jobdef(json_: JsonOption = False) -> None:
    """Register a new job definition revision if the ACTIVE one differs from infra/json; print its ARN.

    Exit 0 either way ("current" or "registered"); 8 if AWS refuses.

    Example: videoctl infra register-jobdef
    """
    out.json_mode(json_)  # now, so that an error is printed as JSON too
    outcome = _apply("job_definition", json_, "register-jobdef")
    item = outcome.plan[0]
    registered = next((r.result for r in outcome.report.done), None) if outcome.report else None
    data: RegisteredJobDefinition = {"registered": registered is not None, "arn": registered or item.ref,
            "diff": [d.to_dict() for d in item.diffs]}

    def render() -> None:
        if registered:
            out.stdout.print(f"registered {out.safe(registered)}", highlight=False)
            for d in item.diffs:
                out.stdout.print(f"  {out.safe(d)}", highlight=False)
        else:
            out.stdout.print(f"job definition is current: {out.safe(item.ref)}", highlight=False)

    out.success(data, render, json_flag=json_)
