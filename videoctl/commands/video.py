"""`videoctl video …`: add, show and list videos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.domain.models import Video
from videoctl.domain.states import VideoStatus

app = typer.Typer(help="Add, show and list videos.", no_args_is_help=True)

VIDEO_COLUMNS = ("id", "title", "status", "duration", "size", "hls_path", "created")


def video_row(v: Video) -> tuple:
    duration = f"{v.duration_s:.1f}s" if v.duration_s else None
    size = f"{v.width}x{v.height}" if v.width else None
    return (v.id, v.title, v.status, duration, size, v.hls_path, v.created_at)


@app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="The source video file.")],
    title: Annotated[str | None, typer.Option(help="Title; defaults to the file name.")] = None,
    json_: JsonOption = False,
) -> None:
    """Store FILE under the video's source prefix and create the video UPLOADED."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.services.videos import add_video

    ctx = context()
    video = add_video(ctx.videos, ctx.store, videos_root=ctx.settings.videos_root, path=file, title=title)
    out.success(video, lambda: out.stdout.print(
        f"added video [bold]{video.id}[/] ({video.title}) → {ctx.store.url_for(video.source_key)}\n"
        f"next: [bold]videoctl submit {video.id}[/]"), json_flag=json_)


@app.command("show")
def show(
    video_id: Annotated[int, typer.Argument(help="Video id.")],
    json_: JsonOption = False,
) -> None:
    """Show one video and its jobs."""
    ctx = context()
    video = ctx.videos.get(video_id)
    jobs = ctx.jobs.list(video_id=video_id, limit=20)

    def render() -> None:
        out.fields_table(f"video {video.id}", video.to_dict())
        if jobs:
            from videoctl.commands.jobs import JOB_COLUMNS, job_row

            out.table("jobs", JOB_COLUMNS, (job_row(j) for j in jobs))

    out.success({**video.to_dict(), "jobs": jobs}, render, json_flag=json_)


@app.command("list")
def list_(
    status: Annotated[VideoStatus | None, typer.Option(help="Only videos in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """List videos, newest first."""
    videos = context().videos.list(status=status, limit=limit)
    out.success(videos, lambda: out.table(None, VIDEO_COLUMNS, (video_row(v) for v in videos)), json_flag=json_)
