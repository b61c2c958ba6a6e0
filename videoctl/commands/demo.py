"""`videoctl demo`: the whole pipeline on the embedded default, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption


@out.document("videoctl.services.demo:DemoResult")
def demo(
    file: Annotated[Path | None, typer.Argument(help="A video to use instead of a generated clip.")] = None,
    seconds: Annotated[float, typer.Option(min=1, max=600, help="Length of the generated clip.")] = 4,
    json_: JsonOption = False,
) -> None:
    """Encode a generated clip (or FILE) end to end: add → submit locally → wait → show the ladder.

    Example: videoctl demo --seconds 10
    """
    bar = out.ProgressBar("encoding")
    with bar:
        result = client().demo(file, seconds=seconds, note=out.info,
                               on_update=lambda j: bar.update(j.progress, f"job {j.id} {j.state}"))
    video, master = result.video, result.master

    def render() -> None:
        out.stdout.print(f"\n[bold green]video {video.id} is READY[/] — master playlist:\n  {out.safe(master)}\n")
        out.table("ladder", ("rendition", "resolution", "bandwidth", "codecs", "fps"),
                  ((r["name"], r["resolution"], r["bandwidth"], r["codecs"], r["frame_rate"])
                   for r in result.ladder))
        outputs = [(name, out.safe(url)) for name, url in result.outputs.items()]
        if outputs:
            out.table("outputs", ("output", "where"), outputs)
        out.stdout.print(
            "\nplay it:\n"
            f"  ffplay {out.safe(master)}        (or open it in VLC or Safari)\n"
            f"  or serve it: python -m http.server -d {out.safe(Path(master).parent)} 8000 "
            "and open http://localhost:8000/master.m3u8 in an HLS player\n"
            f"job log: {out.safe(result.log_dir)}")

    out.success(result, render, json_flag=json_)
