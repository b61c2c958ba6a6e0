"""`videoctl run-job`: what the Batch container runs. One job, then exit."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, TypedDict

import typer

from videoctl import logs
from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import Interrupted, UsageError
from videoctl.domain.models import Job, Video


class RunJobDocument(TypedDict):
    #: already_succeeded | ready_guard | reused_upload | encoded
    outcome: str
    job: Job
    video: Video


@contextmanager
def _raise_on_sigterm() -> Iterator[None]:
    """Batch stops a container with SIGTERM: unwind so ffmpeg is killed and scratch removed."""

    def handler(signum, frame):
        raise Interrupted(f"received {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@out.document(RunJobDocument)
def run_job_command(
    job_id: Annotated[int | None, typer.Argument(
        min=1, max=out.MAX_ID, help="The job to run; defaults to $VIDEO_JOB_ID.", envvar="VIDEO_JOB_ID",
        show_envvar=True)] = None,
    json_: JsonOption = False,
) -> None:
    """Run one transcode job to the end (idempotent): exit 0 when done, 1 when it failed.

    Example: videoctl run-job 42   (what the Batch container runs; VIDEO_JOB_ID works too)
    """
    if job_id is None:
        raise UsageError("no job id: pass JOB_ID or set VIDEO_JOB_ID")
    logs.configure(verbose=out.STATE.verbose)
    with _raise_on_sigterm(), out.ProgressBar(f"job {job_id}") as bar:
        result = client().run_job(job_id, progress=lambda phase, pct: bar.update(pct, f"job {job_id}: {phase}"))
    data: RunJobDocument = {"outcome": result.outcome, "job": result.job, "video": result.video}
    out.success(data, lambda: out.stdout.print(
        f"job {result.job.id}: {result.outcome.replace('_', ' ')} → video {result.video.id} "
        f"{result.video.status} at {out.safe(result.video.hls_path)}"), json_flag=json_)
