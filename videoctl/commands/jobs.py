"""`videoctl jobs …`: list and show transcode jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.domain.models import Job
from videoctl.domain.states import JobState

app = typer.Typer(help="List, show, cancel and retry transcode jobs.", no_args_is_help=True)

JOB_COLUMNS = ("id", "video", "state", "attempt", "progress", "batch job", "error", "updated")


def job_row(j: Job) -> tuple:
    error = f"{j.error_code}: {j.error_message}" if j.error_code else None
    return (j.id, j.video_id, j.state, f"{j.attempt}/{j.max_attempts}", f"{j.progress}%",
            j.aws_batch_job_id, error, j.updated_at)


@app.command("list")
def list_(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    video: Annotated[int | None, typer.Option(help="Only jobs of this video.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List transcode jobs, newest first."""
    jobs = context().jobs.list(state=state, video_id=video, limit=limit)
    out.success(jobs, lambda: out.table(None, JOB_COLUMNS, (job_row(j) for j in jobs)), json_flag=json_)


@app.command("show")
def show(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    json_: JsonOption = False,
) -> None:
    """Show one transcode job."""
    job = context().jobs.get(job_id)
    out.success(job, lambda: out.fields_table(f"job {job.id}", job.to_dict()), json_flag=json_)


@app.command("cancel")
def cancel(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    reason: Annotated[str, typer.Option(help="Why; kept on the job.")] = "cancelled by operator",
    json_: JsonOption = False,
) -> None:
    """Cancel a job: CANCELLED at once, then its container is stopped (TerminateJob or kill)."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.services.submit import cancel_job

    ctx = context()
    job = cancel_job(job_id, reason, jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor)
    out.success(job, lambda: out.stdout.print(f"job {job.id} CANCELLED: {reason}"), json_flag=json_)


@app.command("retry")
def retry(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    json_: JsonOption = False,
) -> None:
    """Give a DEAD or CANCELLED job a new attempt now."""
    from videoctl.services.submit import retry_job

    ctx = context()
    job = retry_job(job_id, jobs=ctx.jobs, executor=ctx.executor)
    out.success(job, lambda: out.stdout.print(
        f"job {job.id} resubmitted: attempt {job.attempt} as {job.aws_batch_job_id}"), json_flag=json_)
