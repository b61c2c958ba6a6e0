"""`videoctl serve`: the read-only web page over the videos and jobs (videoctl/web)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from videoctl import logs
from videoctl.commands import _render as out
from videoctl.commands._render import JsonOption

HostOption = Annotated[str, typer.Option(
    "--host", help="Address to listen on. Anything but loopback needs VIDEOCTL_SERVE_TOKEN.")]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on; 0 picks a free one.")]


@out.document("videoctl.web.server:Listening")
def serve(host: HostOption = "127.0.0.1", port: PortOption = 8080, json_: JsonOption = False) -> None:
    """Serve a read-only web page: the videos with their posters and a player, the live jobs.

    Runs until SIGTERM or Ctrl-C. With --json, the address is printed as one document once it listens.

    Example: videoctl serve --port 8080   (then open http://127.0.0.1:8080/)
    """
    start(host, port, json_flag=json_)


def start(host: str, port: int, *, json_flag: bool = False, document: bool = True) -> None:
    """Serve; *document*: print the address as this command's output (else as a note on stderr,
    when another command's output came first)."""
    from videoctl.web.server import serve as serve_forever

    logs.configure(verbose=out.STATE.verbose)

    def listening(where) -> None:
        # The link carries a one-time code, never the token: it lets one browser in, once.
        login = (f"\nopen this link to let one browser in (once, within 15 minutes): {out.safe(where['login_url'])}"
                 if where["login_url"] else "")

        def render() -> None:
            out.stdout.print(f"serving videoctl's page on [bold]{out.safe(where['url'])}[/]"
                             + ("  (every request needs VIDEOCTL_SERVE_TOKEN)" if where["token_required"] else "")
                             + login + "\nstop with Ctrl-C")

        if document:
            out.success(where, render, json_flag=json_flag)
        else:
            out.info(f"serving videoctl's page on {where['url']}; stop with Ctrl-C{login}")
        sys.stdout.flush()

    serve_forever(host, port, on_listening=listening)
