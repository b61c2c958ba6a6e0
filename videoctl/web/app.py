"""The web application: routes, the token gate, and the one place an error becomes a page.

Every page runs in a worker thread (Starlette runs plain functions so) with a Client
borrowed from the pool for that request alone. Whatever goes wrong in one request is
answered there, as a page that says what, and logged; the server goes on to the next:

``/t/…`` is the viewers' signed playback route (web/playback.py): it answers as the edge Worker
does, with no page and without VIDEOCTL_SERVE_TOKEN (the playback token is the credential).

| error | page |
| --- | --- |
| without a token, a Host header that is not a loopback name (DNS rebinding) | 421 |
| unknown id, media path outside the ladder (``..``), a link in the store | 404 |
| a query parameter the page does not know | 400 |
| the database down or its schema behind; the store unreachable; every session busy | 503, with the reason |
| anything else | 500, logged with its traceback |
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from videoctl import __version__
from videoctl.api import Client
from videoctl.domain import playback
from videoctl.domain.errors import DbError, InvalidInput, NotFound, StorageError, VideoctlError
from videoctl.domain.text import visible
from videoctl.settings import Settings, environment_scrubber
from videoctl.web.auth import LOGIN_PATH, LoopbackHostsOnly, TokenGate
from videoctl.web.pages import BadRequest, Pages
from videoctl.web.playback import PlaybackRoute
from videoctl.web.pool import Busy, ClientPool
from videoctl.web.views import FILTERS

log = logging.getLogger("videoctl.web")

HERE = Path(__file__).parent
#: The players come from static/vendor (hls.js); the rest is this package's own CSS and JS.
#: Media may come from R2 (https:) after a redirect, and hls.js feeds the video element
#: through blob: URLs from a blob: worker, and gives its caption tracks a data: source. No inline
#: script or style anywhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "media-src 'self' blob: data: https:; connect-src 'self' https:; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
#: Requests for this path, as sent, are a viewer's (web/playback.py).
PLAYBACK_PREFIX = f"/{playback.TOKEN_SEGMENT}/".encode()
#: The viewer named in the tokens the video page signs for its own player.
PAGE_VIEWER = "videoctl-serve-page"
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


def shown(value: Any) -> Any:
    """Every value a page prints (``{{ … }}``) passes here before it is HTML-escaped: text with its
    control characters written out, as the CLI shows it (a title's ESC or BEL, a reason's CR).
    Applied by the environment to every value, so that no template can forget it; what a macro
    rendered (Markup) went through here piece by piece already."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


def templates() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True, finalize=shown)
    environment.filters.update(FILTERS)
    environment.globals["version"] = __version__
    return environment


class Site:
    """The pages over one pool of Clients."""

    def __init__(self, settings: Settings, pool: ClientPool, keys: playback.Keyring | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.keys = keys
        self.environment = templates()
        self.scrub = environment_scrubber()
        self.pages = Pages(self.render, self.player_token)

    def player_token(self, prefix: str) -> str | None:
        """A token for the video page's own player, for as long as a token may live (to the
        minute, so that a reload within it asks the browser's cache for the same URLs)."""
        if self.keys is None:
            return None
        expires_at = (int(time.time()) + self.settings.playback_max_expiry_s) // 60 * 60
        try:
            return playback.sign(prefix, key=self.keys.signing, expires_at=expires_at, viewer=PAGE_VIEWER)
        except InvalidInput:  # a ladder kept under another layout: the player uses the media URLs
            return None

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.environment.get_template(template).render(**context), status_code=status)

    def endpoint(self, handler: Callable[[Client, Request], Response], *, media: bool = False
                 ) -> Callable[[Request], Response]:
        """*handler* with a borrowed Client; any error it raises becomes an error page here."""

        def run(request: Request) -> Response:  # a plain function: Starlette runs it in a worker thread
            try:
                with self.pool.client() as client:
                    return handler(client, request)
            except Exception as exc:
                return self.failure(request, exc, media=media)

        return run

    def failure(self, request: Request, exc: Exception, *, media: bool = False) -> HTMLResponse:
        where = f"{request.method} {request.url.path}"
        if isinstance(exc, NotFound | InvalidInput) or (media and isinstance(exc, StorageError) and not exc.transient):
            if isinstance(exc, StorageError):  # a link or a non-file where an output should be
                log.warning("%s: refused: %s", where, self.scrub(exc.message))
            return self.error_page(404, "Not found", exc.message if not media else "no such media")
        if isinstance(exc, BadRequest):
            return self.error_page(400, "Bad request", exc.message)
        if isinstance(exc, DbError | StorageError | Busy):
            title = ("Database unavailable" if isinstance(exc, DbError)
                     else "Store unavailable" if isinstance(exc, StorageError) else "Busy")
            reason = self.scrub(getattr(exc, "message", None) or str(exc))
            log.warning("%s: 503 %s: %s", where, title.lower(), reason)
            return self.error_page(503, title, reason, getattr(exc, "hint", None),
                                   headers={"Retry-After": "5"})
        if isinstance(exc, VideoctlError):
            log.error("%s: %s: %s", where, exc.code, self.scrub(exc.message))
            return self.error_page(500, "Error", f"{exc.code}: {exc.message}", exc.hint)
        log.error("%s: unexpected %s", where, type(exc).__name__, exc_info=exc)
        return self.error_page(500, "Internal error",
                               f"an unexpected {type(exc).__name__}; the server's log has the details")

    def error_page(self, status: int, title: str, reason: str, hint: str | None = None,
                   headers: dict[str, str] | None = None, login_next: str | None = None) -> HTMLResponse:
        # A 401 or 421 page goes without the stylesheet: fetching it would be refused too.
        response = self.render("error.html", status, nav=None, status_code=status, title=title,
                               reason=self.scrub(reason), hint=self.scrub(hint) if hint else None,
                               styled=status not in (401, 421), login=LOGIN_PATH, login_next=login_next)
        response.headers["Cache-Control"] = "no-store"
        response.headers.update(headers or {})
        return response

    def unauthorized(self, request: Request, back: str, problem: str | None) -> HTMLResponse:
        """401, with a form that exchanges the token for a session and leads back to *back*."""
        response = self.error_page(401, "Token required",
                                   problem or "this server answers only requests that carry its token",
                                   "type the value of VIDEOCTL_SERVE_TOKEN here, open the one-time link "
                                   "`videoctl serve` printed, or send the header Authorization: Bearer with it",
                                   login_next=back)
        response.headers["WWW-Authenticate"] = 'Bearer realm="videoctl"'
        return response

    def misdirected(self, request: Request) -> HTMLResponse:
        return self.error_page(421, "Misdirected request",
                               "without VIDEOCTL_SERVE_TOKEN this server answers only requests addressed to "
                               "localhost, 127.0.0.1 or [::1]",
                               "open it as http://127.0.0.1:PORT/ (or localhost); to serve it under another "
                               "name, set VIDEOCTL_SERVE_TOKEN")


class WebApp:
    """The ASGI app, every response (401s and static files included) with the security headers."""

    def __init__(self, app: Any, gate: TokenGate | None) -> None:
        self._app = app
        self._gate = gate

    def one_time_link(self) -> str | None:
        """With a token: a path that lets one browser in, once (see auth.py); else None."""
        return self._gate.one_time_link() if self._gate else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self._app(scope, receive, sending)


class ViewersFirst:
    """ASGI: a request for ``/t/…`` (as sent) goes to the playback route, which the playback
    token lets in; everything else to the operator's pages (behind their gate when there is one)."""

    def __init__(self, viewers: Any, pages: Any) -> None:
        self.viewers = viewers
        self.pages = pages

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        sent = scope.get("raw_path") or scope.get("path", "").encode()
        to = self.viewers if scope["type"] == "http" and sent.startswith(PLAYBACK_PREFIX) else self.pages
        await to(scope, receive, send)


def create_app(settings: Settings, pool: ClientPool | None = None, *,
               clock: Callable[[], float] = time.time) -> WebApp:
    """The ASGI app: behind the token gate when VIDEOCTL_SERVE_TOKEN is set, else (on loopback)
    answering only requests addressed to a loopback name; ``/t/…`` for viewers with a playback
    token either way. Its Clients come from *pool* (default: up to 8, built from *settings*);
    the playback keys from the first of them (made on first use, see Client.playback_keyring)."""
    pool = pool or ClientPool(lambda: Client(settings))
    with pool.client() as client:
        keys = client.playback_keyring()
    site = Site(settings, pool, keys)
    pages = site.pages
    viewers = PlaybackRoute(pool, keys, origins=settings.playback_origins,
                            max_lifetime_s=settings.playback_max_expiry_s, clock=clock)

    def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        title = "Not found" if status == 404 else "Method not allowed" if status == 405 else "Error"
        return site.error_page(status, title, f"nothing at {request.url.path}" if status == 404 else title)

    routes = [
        Route("/", site.endpoint(pages.videos), name="videos"),
        Route("/videos/{video_id:int}", site.endpoint(pages.video), name="video"),
        Route("/videos/{video_id:int}/media/{path:path}", site.endpoint(pages.media, media=True), name="media"),
        Route("/jobs", site.endpoint(pages.jobs), name="jobs"),
        Route("/jobs/live", site.endpoint(pages.jobs_live), name="jobs_live"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    if settings.serve_token:
        gate = TokenGate(app, settings.serve_token, site.unauthorized)
        return WebApp(ViewersFirst(viewers, gate), gate)
    return WebApp(LoopbackHostsOnly(ViewersFirst(viewers, app), site.misdirected), None)
