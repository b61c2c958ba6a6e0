"""Running the web app: uvicorn on a socket bound before it starts, so the URL printed (also
with ``--port 0``) is the one listening.

Why Starlette and uvicorn rather than the standard library's http.server: the jobs page
polls every second from every open tab while players fetch segments, so requests overlap;
uvicorn parses HTTP with h11 (a maintained, strict parser) and Starlette gives routing, a
thread pool for the blocking database calls, streaming responses and static files. The
standard library's server documents itself as unfit for anything but local testing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any, TypedDict

import uvicorn

from videoctl.api import Client
from videoctl.domain.errors import ConfigError, UsageError, VideoctlError
from videoctl.domain.playback import is_local_base
from videoctl.settings import Settings
from videoctl.web.app import create_app
from videoctl.web.auth import is_loopback
from videoctl.web.pool import ClientPool

log = logging.getLogger("videoctl.web")


class Listening(TypedDict):
    """What `videoctl serve --json` prints once it listens."""

    #: The page's address (no token in it).
    url: str
    host: str
    port: int
    #: Whether every request must carry VIDEOCTL_SERVE_TOKEN.
    token_required: bool
    #: With the token: a link that lets one browser in, once, within 15 minutes (it carries a
    #: one-time code, never the token); null without.
    login_url: str | None


def check_bind(host: str, settings: Settings) -> None:
    """Refuse, before anything listens, a host other machines can reach without a token."""
    if not is_loopback(host) and not settings.serve_token:
        raise ConfigError(
            f"--host {host} is reachable from other machines, and VIDEOCTL_SERVE_TOKEN is not set",
            hint="set VIDEOCTL_SERVE_TOKEN (e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
                 "or keep the default --host 127.0.0.1")


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror or exc}", hint="check --host") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port, or stop what holds this one") from exc
    sock.set_inheritable(True)
    return sock


def page_url(host: str, port: int, path: str = "/") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


class _Server(uvicorn.Server):
    """Stops on SIGTERM or SIGINT as a normal end (exit 0), as `scan-stuck --loop` does, rather
    than raising the signal again once shut down as uvicorn does by default."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        with suppress(AttributeError):
            self._captured_signals.clear()


def _prepare(settings: Settings, host: str, port: int, clock: Callable[[], float] = time.time
             ) -> tuple[_Server, socket.socket, ClientPool, Listening]:
    check_bind(host, settings)
    sock = bind(host, port)
    pool = ClientPool(lambda: Client(settings))
    try:
        app = create_app(settings, pool, clock=clock)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                            ws="none", lifespan="off", timeout_graceful_shutdown=3)
    bound = sock.getsockname()[1]
    link = app.one_time_link()
    return _Server(config), sock, pool, Listening(url=page_url(host, bound), host=host, port=bound,
                                                   token_required=settings.serve_token is not None,
                                                   login_url=page_url(host, bound, link) if link else None)


def _first_look(pool: ClientPool) -> None:
    """Open the database before the first page (the embedded server may need starting); a
    database that is down is reported, and the pages answer 503 until it is back."""
    try:
        with pool.client() as client:
            client.list_videos(limit=1)
    except VideoctlError as exc:
        log.warning("the database cannot be read yet (%s); pages answer 503 until it can", exc.message)


def serve(host: str, port: int, *, settings: Settings | None = None,
          on_listening: Callable[[Listening], None] = lambda _: None) -> None:
    """Serve until SIGTERM or SIGINT; *on_listening* hears the address once it is bound."""
    settings = settings or Settings.from_env()
    server, sock, pool, listening = _prepare(settings, host, port)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop lines say what we print
    base = listening["url"].rstrip("/")
    try:
        _first_look(pool)
        # `videoctl playback` on this machine signs for this address while it listens.
        with Client(settings) as recorder, (recorder.serving(base) if is_local_base(base) else nullcontext()):
            on_listening(listening)
            server.run(sockets=[sock])
    finally:
        pool.close()
        sock.close()


@contextmanager
def running(settings: Settings, host: str = "127.0.0.1", port: int = 0, *,
            clock: Callable[[], float] = time.time) -> Iterator[Listening]:
    """The server in a thread of this process, for as long as the block lasts (*clock*: what the
    playback route takes for now)."""
    server, sock, pool, listening = _prepare(settings, host, port, clock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="videoctl-serve", daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield listening
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        pool.close()
        sock.close()
