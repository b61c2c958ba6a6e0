"""`videoctl demo`: the whole pipeline on the embedded default, in one command."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.commands.submit import wait_for


def demo(
    file: Annotated[Path | None, typer.Argument(help="A video to use instead of a generated clip.")] = None,
    seconds: Annotated[float, typer.Option(min=1, max=600, help="Length of the generated clip.")] = 4,
    json_: JsonOption = False,
) -> None:
    """Encode a generated clip (or FILE) end to end: add → submit locally → wait → show the ladder."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.executor.local import LocalExecutor
    from videoctl.services.submit import create_job_and_submit, plan_submit, require_success
    from videoctl.services.videos import add_video, describe_ladder

    ctx = context()
    settings = ctx.settings
    with tempfile.TemporaryDirectory(prefix="videoctl-demo-") as tmp:
        if file is None:
            from videoctl.media.binary import find_ffmpeg
            from videoctl.media.sample import generate_sample_clip

            out.info(f"generating a {seconds:g} s 720p sample clip with ffmpeg …")
            file = generate_sample_clip(find_ffmpeg(settings.ffmpeg), Path(tmp) / "sample.mp4",
                                        seconds=seconds, width=1280, height=720)
        video = add_video(ctx.videos, ctx.store, videos_root=settings.videos_root, path=file)
    out.info(f"added video {video.id}; encoding it in a local process …")
    plan = plan_submit(video.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=settings.max_attempts)
    # The demo always runs locally, whatever executor is configured.
    executor = LocalExecutor(settings.home / "logs")
    job = create_job_and_submit(plan, jobs=ctx.jobs, executor=executor)
    job = require_success(wait_for(job, executor))
    video = ctx.videos.get(video.id)
    ladder = describe_ladder(ctx.store, video)
    master = ctx.store.url_for(video.hls_path)
    data = {"video": video, "job": job, "master": master, "ladder": ladder}

    def render() -> None:
        out.stdout.print(f"\n[bold green]video {video.id} is READY[/] — master playlist:\n  {master}\n")
        out.table("ladder", ("rendition", "resolution", "bandwidth", "codecs", "fps"),
                  ((r["name"], r["resolution"], r["bandwidth"], r["codecs"], r["frame_rate"]) for r in ladder))
        out.stdout.print(
            "\nplay it:\n"
            f"  ffplay {master}        (or open it in VLC or Safari)\n"
            f"  or serve it: python -m http.server -d {Path(master).parent} 8000 "
            "and open http://localhost:8000/master.m3u8 in an HLS player\n"
            f"job log: {settings.home / 'logs'}")

    out.success(data, render, json_flag=json_)
