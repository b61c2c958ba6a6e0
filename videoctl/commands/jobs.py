"""`videoctl jobs …`: list, show, cancel and retry transcode jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.models import Job
from videoctl.domain.states import JobState

app = typer.Typer(help="List, show, cancel and retry transcode jobs.", no_args_is_help=True)


@app.command("list")
@out.document(list[Job])
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
@out.document(Job)
def show(
    job_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")],
    json_: JsonOption = False,
) -> None:
    """Show one transcode job.

    Example: videoctl jobs show 42 --json
    """
    job = client().get_job(job_id)
    out.success(job, lambda: out.fields_table(f"job {job.id}", job.to_dict()), json_flag=json_)


@app.command("cancel")
@out.document(Job)
def cancel(
    job_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")],
    reason: Annotated[str, typer.Option(help="Why; kept on the job.")] = "cancelled by operator",
    json_: JsonOption = False,
) -> None:
    """Cancel a job: CANCELLED at once, then its container is stopped (TerminateJob or kill).

    Example: videoctl jobs cancel 42 --reason "wrong source"
    """
    job = client().cancel(job_id, reason)
    out.success(job, lambda: out.stdout.print(f"job {job.id} CANCELLED: {out.safe(reason)}"), json_flag=json_)


@app.command("retry")
@out.document(Job)
def retry(
    job_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Job id.")],
    json_: JsonOption = False,
) -> None:
    """Give a DEAD or CANCELLED job a new attempt now.

    Example: videoctl jobs retry 42
    """
    job = client().retry(job_id)
    out.success(job, lambda: out.stdout.print(
        f"job {job.id} resubmitted: attempt {job.attempt} as {out.safe(job.executor_job_id)}"), json_flag=json_)
