"""Who may look: everyone on loopback, only a holder of VIDEOCTL_SERVE_TOKEN anywhere else.

On loopback without a token, a request must also be addressed to a loopback name (its Host
header ``localhost``, ``127.0.0.1``, ``[::1]``…, any port), or it gets 421. Without that, a
web page anywhere could rebind its own domain's DNS to 127.0.0.1 and read every page and
video through the visitor's browser: the browser thinks it talks to that domain, and says so
in the Host header.

When the token is set, every request must carry it, whatever it asks for (a page, a media
segment, a static file, a path that does not exist), or gets 401: ``Authorization: Bearer
TOKEN``, or the session cookie a browser gets in exchange for the token, typed into the form
of the 401 page (a POST, so the token is in no address, history or log), or for a one-time
link ``?token=CODE`` that `videoctl serve` prints when it starts. A one-time link lets one
browser in, once, within 15 minutes; the token itself is never taken in an address: an
address stays in histories, proxy logs and Referer headers, where a used link is worth
nothing and the token would open everything for good. Either exchange answers with a
redirect to a path on this server (never ``//elsewhere``).

The cookie holds its expiry and an HMAC of it keyed by the token, never the token: the server
refuses it once expired whatever the browser keeps, and a new token refuses every cookie
made with the old one. It is HttpOnly: no page script can read it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

COOKIE = "videoctl_session"
#: A session lasts this long (s), signed into the cookie; then the token is asked for again.
COOKIE_MAX_AGE = 7 * 86_400
#: How long a one-time link stays good (s) if nobody opens it.
LINK_TTL_S = 15 * 60
#: Where the 401 page's form sends the token.
LOGIN_PATH = "/login"
#: The most a login form may send: a token and the path to go back to.
MAX_FORM_BYTES = 8192

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


def session_value(token: str, expires: int) -> str:
    """What the cookie holds: when it expires (Unix time) and an HMAC of that keyed by the token,
    so the cookie jar never holds the token and no one can make or lengthen a session without it."""
    return f"{expires}.{_mac(token, f'session {expires}')}"


def session_is_valid(token: str, value: str, now: float) -> bool:
    expires, _, mac = value.partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    return _same(mac, _mac(token, f"session {expires}")) and int(expires) > now


def same_origin_path(path: str) -> str:
    """*path* as a redirect target on this server: one leading slash. A browser takes ``//host``
    (or ``/\\host``) to be another server, so a link to ``//evil.example?token=…`` would send it there."""
    return "/" + path.lstrip("/\\")


class TokenGate:
    """ASGI middleware: the app behind it sees only requests that carry the token."""

    def __init__(self, app: ASGIApp, token: str, unauthorized: Callable[[Request, str, str | None], Response], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.token = token
        #: The 401 page: (request, the path its form leads back to, what was wrong if anything).
        self.unauthorized = unauthorized
        self.clock = clock
        #: The one-time links not used yet: a hash of each code → when it stops being good. Kept in
        #: this process only, so a link dies with the server that printed it.
        self._links: dict[str, float] = {}
        self._lock = threading.Lock()

    def one_time_link(self) -> str:
        """A path that lets one browser in, once, within LINK_TTL_S: ``/?token=CODE``."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._links[_digest(code)] = self.clock() + LINK_TTL_S
        return f"/?token={code}"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        offered = request.query_params.get("token")
        if request.method == "POST" and request.url.path == LOGIN_PATH:
            response = await self._log_in(request, receive)
        elif self._carries_token(request):
            if offered is None:
                await self.app(scope, receive, send)
                return
            # In already (a link opened twice in one browser): only the address is tidied.
            response = RedirectResponse(_here(request), status_code=303, headers={"Cache-Control": "no-store"})
        elif offered is not None:
            response = self._redeem(request, offered)
        else:
            response = self.unauthorized(request, _here(request), None)
        await response(scope, receive, send)

    def _carries_token(self, request: Request) -> bool:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(credential.strip(), self.token):
            return True
        return session_is_valid(self.token, request.cookies.get(COOKIE, ""), self.clock())

    def _redeem(self, request: Request, code: str) -> Response:
        """A one-time link: good once, before it expires; then the page it names, without the code."""
        with self._lock:
            expires = self._links.pop(_digest(code), None)
        here = _here(request)
        if expires is None or expires <= self.clock():
            return self.unauthorized(request, here, "this link was used already, has expired, or is not one "
                                                    "`videoctl serve` printed (a link never carries the token)")
        return self._session(request, here)

    async def _log_in(self, request: Request, receive: Any) -> Response:
        """The 401 page's form: the right token, and the page it was opened for."""
        form = dict(parse_qsl((await _body(receive)).decode("utf-8", "replace"), keep_blank_values=True))
        back = same_origin_path(form.get("next") or "/")
        if not _same(form.get("token", "").strip(), self.token):
            return self.unauthorized(request, back, "that is not the token")
        return self._session(request, back)

    def _session(self, request: Request, target: str) -> Response:
        response = RedirectResponse(same_origin_path(target), status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, session_value(self.token, int(self.clock()) + COOKIE_MAX_AGE),
                            max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        return response

    def _forget_expired(self) -> None:
        now = self.clock()
        for digest in [d for d, expires in self._links.items() if expires <= now]:
            del self._links[digest]


def _here(request: Request) -> str:
    """The path and query the request asked for, without a ``token`` (as sent: not decoded)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
    return same_origin_path(raw.decode("latin-1")) + (f"?{urlencode(rest)}" if rest else "")


async def _body(receive: Any) -> bytes:
    """A request's body, up to MAX_FORM_BYTES (what a form sends; the rest is not read)."""
    body = b""
    while len(body) <= MAX_FORM_BYTES:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return body[:MAX_FORM_BYTES]


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), f"videoctl serve {message}".encode(), hashlib.sha256).hexdigest()


def _digest(code: str) -> str:
    """What a one-time code is kept as: looking it up does not compare the secret itself."""
    return hashlib.sha256(code.encode()).hexdigest()


def _same(offered: str, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(offered.encode(), expected.encode())
