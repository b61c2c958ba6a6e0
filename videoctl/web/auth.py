"""Who may look: everyone on loopback, only a holder of VIDEOCTL_SERVE_TOKEN anywhere else.

On loopback without a token, a request must also be addressed to a loopback name (its Host
header ``localhost``, ``127.0.0.1``, ``[::1]``…, any port), or it gets 421. Without that, a
web page anywhere could rebind its own domain's DNS to 127.0.0.1 and read every page and
video through the visitor's browser: the browser thinks it talks to that domain, and says so
in the Host header.

When the token is set, every request must carry it, whatever it asks for (a page, a media
segment, a static file, a path that does not exist): ``Authorization: Bearer TOKEN``, or the
session cookie a browser gets from opening any page once with ``?token=TOKEN``. That link
answers with a redirect to the same page without the token, so the token does not stay in
the address bar, the history or a Referer. The cookie holds an HMAC of the token, never the
token itself, and is HttpOnly: no page script can read it. Anything else gets 401.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

COOKIE = "videoctl_session"
#: A browser keeps the session this long (s); opening the token link again renews it.
COOKIE_MAX_AGE = 7 * 86_400

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether binding *host* keeps the server to this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def is_loopback_authority(host_header: str) -> bool:
    """Whether a Host header names this machine by a loopback name: ``localhost`` or a loopback
    address (``127.0.0.1``, ``[::1]``), with or without a port."""
    host, port = host_header, ""
    if host.startswith("["):  # [::1]:8080
        host, _, rest = host[1:].partition("]")
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
        if ":" not in host:
            return False  # brackets hold an IPv6 address, nothing else
    elif ":" in host:
        host, _, port = host.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return False
    if ":" not in host and host.lower() != "localhost":
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False  # a name, which any DNS may point here
    return is_loopback(host)


class LoopbackHostsOnly:
    """ASGI middleware: only requests addressed to a loopback name reach the app (DNS rebinding)."""

    def __init__(self, app: ASGIApp, misdirected: Callable[[Request], Response]) -> None:
        self.app = app
        self.misdirected = misdirected

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").strip()
        if is_loopback_authority(host):
            await self.app(scope, receive, send)
            return
        await self.misdirected(Request(scope))(scope, receive, send)


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie jar never holds the token."""
    return hmac.new(token.encode(), b"videoctl serve session", hashlib.sha256).hexdigest()


class TokenGate:
    """ASGI middleware: the app behind it sees only requests that carry the token."""

    def __init__(self, app: ASGIApp, token: str, unauthorized: Callable[[Request], Response]) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token)
        self.unauthorized = unauthorized

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        offered = request.query_params.get("token")
        if offered is not None:
            response = self._exchange(request, offered)
        elif self._carries_token(request):
            await self.app(scope, receive, send)
            return
        else:
            response = self.unauthorized(request)
        await response(scope, receive, send)

    def _carries_token(self, request: Request) -> bool:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(credential.strip(), self.token):
            return True
        return _same(request.cookies.get(COOKIE, ""), self.session)

    def _exchange(self, request: Request, offered: str) -> Response:
        """The one-time link: the right token becomes the session cookie, then the page without it."""
        if not _same(offered, self.token):
            return self.unauthorized(request)
        rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, self.session, max_age=COOKIE_MAX_AGE, path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response


def _same(offered: str, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(offered.encode(), expected.encode())
