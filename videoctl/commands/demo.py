"""`videoctl demo`: the whole pipeline on the embedded default, in one command."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.services.videos import add_video


def demo(
    file: Annotated[Path | None, typer.Argument(help="A video to use instead of a generated clip.")] = None,
    json_: JsonOption = False,
) -> None:
    """Generate a short clip (or take FILE) and add it as a video."""
    ctx = context()
    with tempfile.TemporaryDirectory(prefix="videoctl-demo-") as tmp:
        if file is None:
            from videoctl.media.binary import find_ffmpeg
            from videoctl.media.sample import generate_sample_clip

            out.info("generating a 4 s sample clip with ffmpeg …")
            file = generate_sample_clip(find_ffmpeg(ctx.settings.ffmpeg), Path(tmp) / "sample.mp4")
        video = add_video(ctx.videos, ctx.store, videos_root=ctx.settings.videos_root, path=file)
    out.success({"video": video}, lambda: out.stdout.print(
        f"added video [bold]{video.id}[/] ({video.title}); encoding is not wired up yet"), json_flag=json_)
