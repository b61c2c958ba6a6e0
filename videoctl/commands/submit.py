"""`videoctl submit`: start encoding one video, or every UPLOADED one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.domain.errors import JobFailed, UsageError
from videoctl.domain.models import Job

if TYPE_CHECKING:
    from videoctl.executor import Executor


def wait_for(job: Job, executor: Executor | None = None) -> Job:
    """Follow a job with a progress bar until it settles; the exit code tells how it ended."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.services.submit import follow_job

    ctx = context()
    with out.ProgressBar(f"job {job.id}") as bar:
        final = follow_job(job.id, jobs=ctx.jobs, executor=executor or ctx.executor,
                           on_update=lambda j: bar.update(j.progress, f"job {j.id} {j.state}"))
    return final


def submit(
    video_id: Annotated[int | None, typer.Argument(help="The video to encode.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends; exit 1 unless it succeeded.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-encode a READY video (its ladder stays live meanwhile).")] = False,
    priority: Annotated[int | None, typer.Option(min=0, max=9999, help="Batch scheduling priority override.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and show what would happen; change nothing.")] = False,
    all_uploaded: Annotated[bool, typer.Option("--all-uploaded", help="Submit every UPLOADED video with no active job.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="With --all-uploaded: at most this many.")] = 1000,
    json_: JsonOption = False,
) -> None:
    """Create a transcode job for VIDEO_ID and submit it (AWS Batch, or a local process)."""
    from videoctl.services.submit import create_job_and_submit, plan_submit, require_success

    if all_uploaded:
        if video_id is not None:
            raise UsageError("give either VIDEO_ID or --all-uploaded, not both")
        return _submit_all(limit=limit, dry_run=dry_run, json_flag=json_)
    if video_id is None:
        raise UsageError("missing VIDEO_ID (or --all-uploaded)")
    ctx = context()
    settings = ctx.settings
    plan = plan_submit(video_id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=settings.max_attempts,
                       force=force, priority=priority)
    if dry_run:
        data = {"dry_run": True, "video": plan.video, "reencode": plan.reencode,
                "executor": settings.executor, "queue": settings.batch_job_queue,
                "job_definition": settings.batch_job_definition, "max_attempts": plan.max_attempts}
        out.success(data, lambda: out.stdout.print(
            f"would create a job for video {plan.video.id} ({plan.video.status}"
            f"{', re-encode' if plan.reencode else ''}) and submit it to "
            + (f"Batch queue {settings.batch_job_queue} with {settings.batch_job_definition}"
               if settings.executor == "batch" else "a local process")), json_flag=json_)
        return
    job = create_job_and_submit(plan, jobs=ctx.jobs, executor=ctx.executor)
    out.info(f"submitted job {job.id} (attempt {job.attempt}) as {job.aws_batch_job_id}")
    if wait:
        job = wait_for(job)
    if wait:
        require_success(job)  # the exit code reflects how the job ended
    data = {"job": job, "video_id": job.video_id, "job_id": job.id, "aws_batch_job_id": job.aws_batch_job_id}
    out.success(data, lambda: out.stdout.print(
        f"job [bold]{job.id}[/] for video {job.video_id}: {job.state} (executor job {job.aws_batch_job_id})"),
        json_flag=json_)


def _submit_all(*, limit: int, dry_run: bool, json_flag: bool) -> None:
    from videoctl.services.submit import submit_all_uploaded

    ctx = context()
    settings = ctx.settings
    if dry_run:
        candidates = ctx.videos.uploaded_without_job(limit)
        out.success({"dry_run": True, "videos": [v.id for v in candidates]}, lambda: out.stdout.print(
            f"would submit {len(candidates)} video(s) at ≤ {settings.submit_rate:g}/s"), json_flag=json_flag)
        return
    with out.ProgressBar("submitting") as bar:
        result = submit_all_uploaded(
            videos=ctx.videos, jobs=ctx.jobs, executor=ctx.executor, max_attempts=settings.max_attempts,
            rate=settings.submit_rate, limit=limit,
            on_each=lambda done, total: bar.update(100 * done / max(total, 1)))
    data = {"submitted": [{"job_id": j.id, "video_id": j.video_id, "aws_batch_job_id": j.aws_batch_job_id}
                          for j in result.submitted],
            "failed": [{"video_id": vid, **err.to_dict()} for vid, err in result.failed]}

    def render() -> None:
        out.table("submitted", ("summary", "count"), [("submitted", len(result.submitted)),
                                                       ("failed", len(result.failed))])
        if result.failed:
            out.table("failures", ("video", "code", "message"),
                      ((vid, err.code, err.message) for vid, err in result.failed))

    out.success(data, render, json_flag=json_flag)
    if result.failed:
        # The summary above is the result; the exit code says some failed.
        out.info(f"[red]{len(result.failed)} submission(s) failed[/]; rerun to try them again")
        raise typer.Exit(JobFailed.exit_code)
