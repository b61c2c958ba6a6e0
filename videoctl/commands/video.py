"""`videoctl video …`: add, show, list and delete videos."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import UsageError
from videoctl.domain.models import Video
from videoctl.domain.states import VideoStatus

if TYPE_CHECKING:
    from videoctl.api import Client, VideoDetail

app = typer.Typer(help="Add, show, list and delete videos.", no_args_is_help=True)


@app.command("add")
@out.document(Video)
def add(
    file: Annotated[Path | None, typer.Argument(help="The source video file (copied into the store).")] = None,
    key: Annotated[str | None, typer.Option(
        "--key", metavar="KEY",
        help="Instead of FILE: an object already in the bucket, {videos_root}/{id}/source/NAME; nothing is "
             "copied and the id in the key becomes the video's.")] = None,
    title: Annotated[str | None, typer.Option(help="Title; defaults to the file name.")] = None,
    captions: Annotated[list[str] | None, typer.Option(
        "--captions", metavar="LANG=FILE",
        help="Captions (SRT or WebVTT) in language LANG (a BCP 47 tag: ko, en, pt-BR); repeat for more, "
             "the first is the default.")] = None,
    json_: JsonOption = False,
) -> None:
    """Store FILE under the video's source prefix (or register --key) and create the video UPLOADED.

    With VIDEOCTL_AUTO_SUBMIT=1 the video is submitted at once.

    Example: videoctl video add lecture.mp4 --title "Lecture 1" --captions ko=lecture.srt --captions en=lecture.vtt
    Example: videoctl video add --key videos/123/source/lecture.mp4 --title "Lecture 1"
    """
    if (file is None) == (key is None):
        raise UsageError("give either FILE (a local file to copy) or --key (an object already in the bucket)")
    videoctl = client()
    files = _caption_files(captions or [])
    video = (videoctl.register_video(key, title=title, captions=files) if key is not None
             else videoctl.add_video(file, title=title, captions=files))  # type: ignore[arg-type]

    def render() -> None:
        verb = "registered" if key is not None else "added"
        out.stdout.print(f"{verb} video [bold]{video.id}[/] ({out.safe(video.title)}) → "
                         f"{out.safe(videoctl.url_for(video.source_key))}")
        out.stdout.print(next_step(videoctl, video))

    out.success(video, render, json_flag=json_)


def next_step(videoctl: Client, video: Video) -> str:
    """What follows an UPLOADED video: its auto-submitted job, or the submit to run."""
    if not videoctl.settings.auto_submit:
        return f"next: [bold]videoctl submit {video.id}[/]"
    if video.auto_submit_at is not None:
        return ("[yellow]the auto-submit failed (see the log); the next scan-stuck pass submits it, or run "
                f"`videoctl submit {video.id}`[/]")
    [job] = videoctl.list_jobs(video_id=video.id, limit=1) or [None]
    if job is None:
        return f"next: [bold]videoctl submit {video.id}[/]"
    return f"submitted as job [bold]{job.id}[/] (VIDEOCTL_AUTO_SUBMIT): follow it with `videoctl jobs show {job.id}`"


def _caption_files(values: list[str]) -> dict[str, Path]:
    """``["ko=lecture.srt", …]`` → ``{"ko": Path("lecture.srt"), …}``, in the order given."""
    files: dict[str, Path] = {}
    for value in values:
        language, sep, file = value.partition("=")
        if not (sep and language and file):
            raise UsageError(f"--captions takes LANG=FILE (e.g. ko=lecture.srt), not {value!r}")
        if language in files:
            raise UsageError(f"--captions {language}=… is given twice")
        files[language] = Path(file)
    return files


@app.command("show")
@out.document("videoctl.services.videos:VideoDetail")
def show(
    video_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Video id.")],
    json_: JsonOption = False,
) -> None:
    """Show one video, the quality of its live ladder (`videoctl quality`) and its jobs.

    Example: videoctl video show 7 --json
    """
    detail: VideoDetail = client().video_detail(video_id)

    def render() -> None:
        record = detail.to_dict()
        jobs = record.pop("jobs")
        rungs, failure = record.pop("quality"), record.pop("quality_error")
        out.fields_table(f"video {detail.id}", record)
        out.quality_table(rungs, failure)
        if jobs:
            out.table("jobs", out.JOB_COLUMNS, (out.job_row(j) for j in jobs))

    out.success(detail, render, json_flag=json_)


@app.command("list")
@out.document(list[Video])
def list_(
    status: Annotated[VideoStatus | None, typer.Option(
        help="Only videos in this status (DELETED videos are listed only this way).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List videos, newest first; deleted ones only with --status DELETED.

    Example: videoctl video list --status READY
    """
    videos = client().list_videos(status=status, limit=limit)
    out.success(videos, lambda: out.table(None, out.VIDEO_COLUMNS, (out.video_row(v) for v in videos)),
                json_flag=json_)


@app.command("delete")
@out.document("videoctl.services.videos:VideoDeletion")
def delete(
    video_id: Annotated[int, typer.Argument(help="Video id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete it: its source is the only copy.")] = False,
    reason: Annotated[str, typer.Option(help="Why; kept on the cancelled job and the delete request.")]
    = "deleted by operator",
    json_: JsonOption = False,
) -> None:
    """Delete a video: cancel its active job, mark it DELETED (no ladder), delete everything under its prefix.

    The source, the ladder and every other object of the video go (R2: through
    the delete-r2 queue). DELETED is final: the video is never submitted again.
    Without --yes nothing happens and the refusal says what would go.

    Example: videoctl video delete 7 --yes
    """
    done = client().delete_video(video_id, confirm=yes, reason=reason)

    def render() -> None:
        out.stdout.print(f"video [bold]{done.video.id}[/] ({out.safe(done.video.title)}) is DELETED "
                         f"(it was {done.previous_status})")
        if done.cancelled_job is not None:
            out.stdout.print(f"cancelled job {done.cancelled_job.id} and stopped its container")
        if done.sent:
            out.stdout.print(f"deleted everything under {out.safe(done.request.prefix)} (request {done.request.id})")
        else:
            out.info(f"[yellow]the deletion of {out.safe(done.request.prefix)} (request {done.request.id}) is "
                     f"pending: {out.safe(done.pending_reason)}; `videoctl r2 drain` or the next scan-stuck "
                     "pass sends it[/]")

    out.success(done, render, json_flag=json_)
