"""`videoctl submit`: start encoding one video, or every UPLOADED one."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import JobFailed, UsageError
from videoctl.domain.models import Job, Video, require_success
from videoctl.domain.states import VideoStatus


class Submitted(TypedDict):
    job: Job
    video_id: int
    job_id: int
    executor_job_id: str | None
    #: Deprecated alias of executor_job_id, kept for this release.
    aws_batch_job_id: str | None


class SubmitDryRun(TypedDict):
    dry_run: Literal[True]
    video: Video
    reencode: bool
    executor: str
    queue: str
    job_definition: str
    max_attempts: int


class SubmittedJob(TypedDict):
    job_id: int
    video_id: int
    executor_job_id: str | None
    #: Deprecated alias of executor_job_id, kept for this release.
    aws_batch_job_id: str | None


class FailedSubmission(TypedDict):
    video_id: int
    code: str
    message: str
    hint: str | None


class BulkSubmitted(TypedDict):
    submitted: list[SubmittedJob]
    failed: list[FailedSubmission]


class BulkDryRun(TypedDict):
    dry_run: Literal[True]
    videos: list[int]


def _submitted(job: Job) -> SubmittedJob:
    return {"job_id": job.id, "video_id": job.video_id, "executor_job_id": job.executor_job_id,
            "aws_batch_job_id": job.executor_job_id}


@out.document(Submitted, SubmitDryRun, BulkSubmitted, BulkDryRun)
def submit(
    video_id: Annotated[int | None, typer.Argument(min=1, max=out.MAX_ID, help="The video to encode.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends; exit 1 unless it succeeded.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-encode a READY video (its ladder stays live meanwhile).")] = False,
    priority: Annotated[int | None, typer.Option(min=0, max=9999, help="Batch scheduling priority override.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and show what would happen; change nothing.")] = False,
    all_uploaded: Annotated[bool, typer.Option("--all-uploaded", help="Submit every UPLOADED video with no active job.")] = False,
    all_ready: Annotated[bool, typer.Option(
        "--all-ready", help="With --force: re-encode every READY video with no active job (backfills new outputs).")] = False,
    limit: Annotated[int, typer.Option(min=1, max=out.MAX_LIMIT, help="With --all-uploaded/--all-ready: at most this many.")] = 1000,
    json_: JsonOption = False,
) -> None:
    """Create a transcode job for VIDEO_ID and submit it (AWS Batch, or a local process).

    The bulk forms go at ≤ VIDEOCTL_SUBMIT_RATE a second; one failure does not stop the rest.

    Example: videoctl submit 7 --wait
    """
    if all_uploaded or all_ready:
        if video_id is not None or (all_uploaded and all_ready):
            raise UsageError("give one of VIDEO_ID, --all-uploaded or --all-ready")
        if all_ready and not force:
            raise UsageError("--all-ready re-encodes every READY video: add --force to mean it")
        status = VideoStatus.READY if all_ready else VideoStatus.UPLOADED
        return _submit_all(status, limit=limit, dry_run=dry_run, json_flag=json_)
    if video_id is None:
        raise UsageError("missing VIDEO_ID (or --all-uploaded, or --all-ready --force)")
    videoctl = client()
    if dry_run:
        _dry_run(videoctl.plan_submit(video_id, force=force, priority=priority), json_flag=json_)
        return
    job = videoctl.submit(video_id, force=force, priority=priority)
    out.info(f"submitted job {job.id} (attempt {job.attempt}) as {out.safe(job.executor_job_id)}")
    if wait:
        bar, update = out.job_progress(job.id)
        with bar:
            job = videoctl.follow(job.id, on_update=update)
        require_success(job)  # the exit code reflects how the job ended
    data: Submitted = {"job": job, **_submitted(job)}
    out.success(data, lambda: out.stdout.print(
        f"job [bold]{job.id}[/] for video {job.video_id}: {job.state} (executor job {out.safe(job.executor_job_id)})"),
        json_flag=json_)


def _dry_run(plan, *, json_flag: bool) -> None:
    settings = client().settings
    data: SubmitDryRun = {
        "dry_run": True, "video": plan.video, "reencode": plan.reencode, "executor": settings.executor,
        "queue": settings.batch_job_queue, "job_definition": settings.batch_job_definition,
        "max_attempts": plan.max_attempts}
    out.success(data, lambda: out.stdout.print(
        f"would create a job for video {plan.video.id} ({plan.video.status}"
        f"{', re-encode' if plan.reencode else ''}) and submit it to "
        + (f"Batch queue {settings.batch_job_queue} with {settings.batch_job_definition}"
           if settings.executor == "batch" else "a local process")), json_flag=json_flag)


def _submit_all(status: VideoStatus, *, limit: int, dry_run: bool, json_flag: bool) -> None:
    videoctl = client()
    if dry_run:
        candidates = videoctl.videos_without_job(status, limit=limit)
        plan: BulkDryRun = {"dry_run": True, "videos": [v.id for v in candidates]}
        out.success(plan, lambda: out.stdout.print(
            f"would submit {len(candidates)} video(s) at ≤ {videoctl.settings.submit_rate:g}/s"),
            json_flag=json_flag)
        return
    with out.ProgressBar("submitting") as bar:
        result = videoctl.submit_all(status, limit=limit,
                                     on_each=lambda done, total: bar.update(100 * done / max(total, 1)))
    data: BulkSubmitted = {
        "submitted": [_submitted(j) for j in result.submitted],
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
