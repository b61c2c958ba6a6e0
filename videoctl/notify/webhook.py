"""POST one event to the app's webhook, signed (docs/events.md, "Verifying a webhook").

The body is the event's canonical JSON; ``X-Videoctl-Signature: t=TIMESTAMP,v1=HEX`` is an
HMAC-SHA256 over ``TIMESTAMP.BODY`` with the shared secret, the timestamp being the moment of
this send, so a receiver can refuse a request replayed later. Any 2xx is an acknowledgement.
A 408, 429 or 5xx, a timeout or a connection that fails is transient (the drain tries again
with backoff); any other answer is not. Redirects are not followed: a signed body is for the
URL it was meant for, and a POST that turns into a GET elsewhere would be lost.

A send has one total deadline (``VIDEOCTL_DELIVERY_TIMEOUT_SECONDS``), whatever the receiver
does: a socket timeout alone applies to each read, so a receiver that drips a byte a second
would hold the sender for as long as it likes. A watchdog shuts the request's sockets when
the deadline passes, in connect, send or any read, and the send fails as a timeout. A
receiver on this machine (a loopback address) is reached directly, never through an
``http_proxy`` from the environment, which would see (and could hold) what is meant for it.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from videoctl import __version__
from videoctl.domain.errors import DeliveryError
from videoctl.domain.events import SIGNATURE_HEADER, Delivery, loopback_host, sign

#: The default total deadline of one send (Settings.delivery_timeout_s is what the CLI uses).
TIMEOUT_S = 10.0
_TRANSIENT_STATUS = frozenset({408, 425, 429})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's own signature
        return None  # urllib then raises the 3xx as an HTTPError


class _Deadline:
    """Shuts every socket of one request once *seconds* have passed; ``expired`` says it did.

    Both the TCP socket (as soon as it is connected) and the socket the request ends up
    using (TLS wraps the first into a new object) are watched, so a drip during the TLS
    handshake, the tunnel through a proxy or any read is cut alike.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def connection_class(self, base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        deadline = self

        class Watched(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._create_connection = lambda *a, **k: deadline.watch(socket.create_connection(*a, **k))

            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        return Watched

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Ends whatever the socket is blocked in (the plain socket's shutdown, also under TLS)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # not connected yet, or already closed
        pass


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class, req, **kwargs):  # noqa: ANN001, ANN003, ANN201 - urllib's own signature
        return super().do_open(self._deadline.connection_class(http_class), req, **kwargs)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class, req, **kwargs):  # noqa: ANN001, ANN003, ANN201 - urllib's own signature
        return super().do_open(self._deadline.connection_class(http_class), req, **kwargs)


class WebhookSender:
    def __init__(self, url: str, secret: str, *, timeout_s: float = TIMEOUT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self._secret = secret
        self.timeout_s = timeout_s
        self.clock = clock
        #: A receiver on this machine: no proxy from the environment stands in between.
        self.direct = loopback_host(urlsplit(url).hostname or "")

    def _opener(self, deadline: _Deadline) -> urllib.request.OpenerDirector:
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect(), _WatchedHTTP(deadline), _WatchedHTTPS(deadline)]
        if self.direct:
            handlers.append(urllib.request.ProxyHandler({}))
        return urllib.request.build_opener(*handlers)

    @property
    def target(self) -> str:
        # Scheme, host and path: a query string may carry what its owner thinks of as a token.
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"WebhookSender({self.target!r})"

    def __call__(self, outgoing: Delivery, *, timeout_s: float | None = None) -> str:
        """POST *outgoing*; it ends within *timeout_s* (default: the sender's) whatever the receiver does."""
        deadline = _Deadline(self.timeout_s if timeout_s is None else timeout_s)
        request = urllib.request.Request(self.url, data=outgoing.body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"videoctl/{__version__}",
            "X-Videoctl-Event-Id": outgoing.event_id,
            "X-Videoctl-Event-Type": outgoing.type,
            SIGNATURE_HEADER: sign(self._secret, int(self.clock()), outgoing.body),
        })
        what = f"POST {self.target} (event {outgoing.event_id})"
        try:
            with deadline:
                return self._post(request, what, deadline)
        except DeliveryError:
            if not deadline.expired:
                raise
            # Whatever the cut socket made urllib raise (a reset, a short read, a bad status line).
            raise DeliveryError(f"{what} failed: timed out, no complete answer within its {deadline.seconds:g}s deadline",
                                hint="the receiver must answer within VIDEOCTL_DELIVERY_TIMEOUT_SECONDS; "
                                     "acknowledge first, then process",
                                outcome_unknown=True) from None

    def _post(self, request: urllib.request.Request, what: str, deadline: _Deadline) -> str:
        try:
            with self._opener(deadline).open(request, timeout=deadline.seconds) as response:
                response.read(65_536)  # drain a little, so the connection closes cleanly
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            status = exc.code
            transient = status >= 500 or status in _TRANSIENT_STATUS
            hint = None
            if 300 <= status < 400:
                hint = "redirects are not followed: set VIDEOCTL_EVENTS_TARGET to the final URL"
            elif status in (401, 403):
                hint = "the receiver refused the signature: check VIDEOCTL_EVENTS_WEBHOOK_SECRET on both sides"
            raise DeliveryError(f"{what} answered HTTP {status} {exc.reason}", hint=hint, transient=transient) from None
        except (http.client.HTTPException, OSError) as exc:  # URLError and timeouts are OSErrors
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            # The request may have arrived: the drain's retry resends the same event id, which
            # the receiver deduplicates.
            raise DeliveryError(f"{what} failed: {reason}", outcome_unknown=True) from None
