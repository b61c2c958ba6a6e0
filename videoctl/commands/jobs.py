"""`videoctl jobs …`: list, show, cancel and retry transcode jobs."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, TypedDict

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import JobFailed, UsageError
from videoctl.domain.models import Job
from videoctl.domain.selection import CONFIRM_ABOVE, JobFilter, parse_duration
from videoctl.domain.states import JobState

app = typer.Typer(help="List, show, cancel and retry transcode jobs.", no_args_is_help=True)


@app.command("list")
@out.document("videoctl.services.jobs:JobViews")
def list_(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    video: Annotated[int | None, typer.Option(min=1, max=out.MAX_ID, help="Only jobs of this video.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List transcode jobs, newest first.

    Example: videoctl jobs list --state DEAD --limit 20
    """
    jobs = client().list_jobs(state=state, video_id=video, limit=limit)
    out.success(jobs, lambda: out.table(None, out.JOB_COLUMNS, (out.job_row(j) for j in jobs)), json_flag=json_)


@app.command("show")
@out.document("videoctl.services.jobs:JobView")
def show(
    job_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")],
    json_: JsonOption = False,
) -> None:
    """Show one transcode job.

    Example: videoctl jobs show 42 --json
    """
    job = client().get_job(job_id)

    def render() -> None:
        record = job.to_dict()
        spent = record.pop("cost")
        record["cost"] = (f"${spent.cost_usd:.4f} ({spent.attempts} attempt(s), {spent.runtime_s:.0f} s, "
                          f"{spent.vcpu_hours:.3f} vCPU-h, {spent.gb_hours:.3f} GB-h)" if spent else None)
        record["ladder"] = out.ladder_text(record["decision"])
        record["loudness"] = out.loudness_text(record.pop("decision"), record.pop("measurements"))
        del record["size_vcpus"], record["size_memory_mib"]
        record["size"] = out.size_text(job)
        chunks = record.pop("chunk_progress")
        del record["chunking"], record["chunks_done"]  # the plan is for the chunks; the count is below
        record["chunks"] = out.chunks_text(chunks) if chunks else None
        out.fields_table(f"job {job.id}", record)
        if chunks:
            out.chunks_table(chunks)

    out.success(job, render, json_flag=json_)


class JobsPlan(TypedDict):
    """`jobs retry|cancel --dry-run` with filters: the jobs it would act on."""

    dry_run: Literal[True]
    action: str
    jobs: list[Job]


class FailedJob(TypedDict):
    job_id: int
    code: str
    message: str
    hint: str | None


class BulkJobs(TypedDict):
    done: list[Job]
    failed: list[FailedJob]


StateOption = Annotated[list[JobState] | None, typer.Option("--state", help="Only jobs in this state (repeatable).")]
ErrorOption = Annotated[list[str] | None, typer.Option("--error-code", help="Only jobs that failed with this code (repeatable).")]
SinceOption = Annotated[str | None, typer.Option("--since", metavar="DURATION",
                                                 help="Only jobs changed in the last DURATION: 90s, 15m, 2h, 7d.")]
VideosOption = Annotated[list[int] | None, typer.Option(
    "--video", min=1, max=out.MAX_ID, help="Only jobs of this video (repeatable).")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="List the jobs it would act on; change nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help=f"Act on more than {CONFIRM_ABOVE} jobs without asking.")]
BulkLimitOption = Annotated[int, typer.Option(min=1, max=out.MAX_LIMIT, help="At most this many jobs.")]


def _selection(job_id: int | None, state, error_code, since, video) -> JobFilter | None:
    """None for one job by id; the filter for a bulk action; a usage error for neither or both."""
    filters = bool(state or error_code or since or video)
    if job_id is not None and filters:
        raise UsageError("give either JOB_ID or filters (--state, --error-code, --since, --video), not both")
    if job_id is None and not filters:
        raise UsageError("give JOB_ID, or filters: --state, --error-code, --since, --video")
    if job_id is not None:
        return None
    since_s = parse_duration(since, "--since") if since else None
    return JobFilter(tuple(state or ()), tuple(error_code or ()), since_s, tuple(video or ()))


def _bulk(action: Literal["retry", "cancel"], selection: JobFilter, run, *, dry_run: bool, yes: bool,
          limit: int, json_flag: bool) -> None:
    """Plan, confirm above CONFIRM_ABOVE jobs, then act one by one; exit 1 if any failed."""
    chosen = client().select_jobs(selection, action, limit=limit)
    if dry_run:
        plan: JobsPlan = {"dry_run": True, "action": action, "jobs": chosen}
        out.success(plan, lambda: (out.table(f"would {action} {len(chosen)} job(s)", out.JOB_COLUMNS,
                                             (out.job_row(j) for j in chosen))), json_flag=json_flag)
        return
    if len(chosen) > CONFIRM_ABOVE and not yes:
        if out.json_mode(json_flag) or not sys.stdin.isatty():
            raise UsageError(f"{len(chosen)} jobs match: add --yes to {action} them all",
                             hint="--dry-run lists them")
        if not typer.confirm(f"{action} {len(chosen)} jobs?"):
            raise typer.Exit(1)
    with out.ProgressBar(f"{action}ing") as bar:
        result = run(lambda done, total: bar.update(100 * done / max(total, 1)))
    data: BulkJobs = {"done": result.submitted,
                      "failed": [{"job_id": job_id, **err.to_dict()} for job_id, err in result.failed]}

    def render() -> None:
        out.table(None, ("summary", "count"), [(f"{action} done", len(result.submitted)),
                                               ("failed", len(result.failed))])
        if result.failed:
            out.table("failures", ("job", "code", "message"), ((i, e.code, e.message) for i, e in result.failed))

    out.success(data, render, json_flag=json_flag)
    if result.failed:
        raise typer.Exit(JobFailed.exit_code)


@app.command("cancel")
@out.document(Job, JobsPlan, BulkJobs)
def cancel(
    job_id: Annotated[int | None, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")] = None,
    reason: Annotated[str, typer.Option(help="Why; kept on the job.")] = "cancelled by operator",
    state: StateOption = None,
    error_code: ErrorOption = None,
    since: SinceOption = None,
    video: VideosOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    limit: BulkLimitOption = 1000,
    json_: JsonOption = False,
) -> None:
    """Cancel a job, or every active job the filters name: CANCELLED at once, then the container is
    stopped (TerminateJob or kill).

    Example: videoctl jobs cancel --state QUEUED --video 7 --dry-run
    """
    selection = _selection(job_id, state, error_code, since, video)
    if selection is not None:
        return _bulk("cancel", selection, lambda on_each: client().cancel_jobs(
            selection, reason, limit=limit, on_each=on_each), dry_run=dry_run, yes=yes, limit=limit, json_flag=json_)
    job = client().cancel(job_id, reason)
    out.success(job, lambda: out.stdout.print(f"job {job.id} CANCELLED: {out.safe(reason)}"), json_flag=json_)


@app.command("retry")
@out.document(Job, JobsPlan, BulkJobs)
def retry(
    job_id: Annotated[int | None, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")] = None,
    state: StateOption = None,
    error_code: ErrorOption = None,
    since: SinceOption = None,
    video: VideosOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    limit: BulkLimitOption = 1000,
    json_: JsonOption = False,
) -> None:
    """Give a DEAD or CANCELLED job a new attempt now, or every one the filters name (at the
    bulk submit rate; one failure does not stop the rest).

    Example: videoctl jobs retry --state DEAD --error-code executor_failed --since 12h --yes
    """
    selection = _selection(job_id, state, error_code, since, video)
    if selection is not None:
        return _bulk("retry", selection, lambda on_each: client().retry_jobs(selection, limit=limit, on_each=on_each),
                     dry_run=dry_run, yes=yes, limit=limit, json_flag=json_)
    job = client().retry(job_id)
    out.success(job, lambda: out.stdout.print(
        f"job {job.id} resubmitted: attempt {job.attempt} as {out.safe(job.executor_job_id)}"), json_flag=json_)


@app.command("prune")
@out.document("videoctl.services.retention:PruneResult")
def prune(
    older_than: Annotated[str, typer.Option("--older-than", metavar="DURATION",
                                            help="Finished jobs last changed longer ago than this: 90d, 12w.")],
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
) -> None:
    """Delete finished job rows (SUCCEEDED, DEAD, CANCELLED) older than a cut-off, in small batches.

    Each video's last SUCCEEDED job stays, and so does any job a pending delete request still
    names; video rows always stay. VIDEOCTL_RETENTION_DAYS makes `scan-stuck --loop` do this daily.

    Example: videoctl jobs prune --older-than 90d --dry-run
    """
    result = client().prune_jobs(older_than_s=parse_duration(older_than, "--older-than"), dry_run=dry_run)
    verb = "would delete" if result.dry_run else "deleted"
    out.success(result, lambda: out.stdout.print(f"{verb} {result.jobs} finished job(s) older than {older_than}"),
                json_flag=json_)
