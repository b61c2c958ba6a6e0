"""`videoctl demo`: the whole pipeline on the embedded default, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.commands.serve import start


@out.document("videoctl.services.demo:DemoResult")
def demo(
    file: Annotated[Path | None, typer.Argument(help="A video to use instead of a generated clip.")] = None,
    seconds: Annotated[float, typer.Option(min=1, max=600, help="Length of the generated clip.")] = 4,
    serve_: Annotated[bool, typer.Option("--serve", help="Then serve the web page (videoctl serve) until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The page's port (see --serve).")] = 8080,
    json_: JsonOption = False,
) -> None:
    """Encode a generated clip (or FILE) end to end: add → submit locally → wait → show the ladder
    and where to watch it; with --serve, then serve the web page on loopback.

    Example: videoctl demo --seconds 10 --serve
    """
    bar = out.ProgressBar("encoding")
    if serve_:
        from videoctl.web.server import bind

        bind("127.0.0.1", port).close()  # a port in use is refused now, not after the encode
    with bar:
        result = client().demo(file, seconds=seconds, note=out.info, serve_port=port,
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
        command = "videoctl serve" + ("" if port == 8080 else f" --port {port}")
        signed = result.playback
        out.stdout.print(
            "\nwatch it in the web page:\n"
            f"  {'serving it now (Ctrl-C stops)' if serve_ else command}\n"
            f"  open http://127.0.0.1:{port}/videos/{video.id}\n"
            f"or play it: ffplay {out.safe(master)}   (or VLC, or Safari)\n"
            f"signed playback URL, as your app's viewers get them (`videoctl playback {video.id}`), good until "
            f"{signed.expires_at.astimezone().isoformat(timespec='seconds')} while `{command}` runs:\n"
            f"  {out.safe(signed.master)}\n"
            f"job log: {out.safe(result.log_dir)}", highlight=False)

    out.success(result, render, json_flag=json_)
    if serve_:
        start("127.0.0.1", port, json_flag=json_, document=False)
