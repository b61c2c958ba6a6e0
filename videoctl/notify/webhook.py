"""POST one event to the app's webhook, signed (docs/events.md, "Verifying a webhook").

The body is the event's canonical JSON; ``X-Videoctl-Signature: t=TIMESTAMP,v1=HEX`` is an
HMAC-SHA256 over ``TIMESTAMP.BODY`` with the shared secret, the timestamp being the moment of
this send, so a receiver can refuse a request replayed later. Any 2xx is an acknowledgement.
A 408, 429 or 5xx, a timeout or a connection that fails is transient (the drain tries again
with backoff); any other answer is not. Redirects are not followed: a signed body is for the
URL it was meant for, and a POST that turns into a GET elsewhere would be lost.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from videoctl import __version__
from videoctl.domain.errors import DeliveryError
from videoctl.domain.events import SIGNATURE_HEADER, Delivery, sign

TIMEOUT_S = 5.0
_TRANSIENT_STATUS = frozenset({408, 425, 429})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's own signature
        return None  # urllib then raises the 3xx as an HTTPError


class WebhookSender:
    def __init__(self, url: str, secret: str, *, timeout_s: float = TIMEOUT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self._secret = secret
        self.timeout_s = timeout_s
        self.clock = clock
        self._opener = urllib.request.build_opener(_NoRedirect())

    @property
    def target(self) -> str:
        # Scheme, host and path: a query string may carry what its owner thinks of as a token.
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"WebhookSender({self.target!r})"

    def __call__(self, outgoing: Delivery) -> str:
        request = urllib.request.Request(self.url, data=outgoing.body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"videoctl/{__version__}",
            "X-Videoctl-Event-Id": outgoing.event_id,
            "X-Videoctl-Event-Type": outgoing.type,
            SIGNATURE_HEADER: sign(self._secret, int(self.clock()), outgoing.body),
        })
        what = f"POST {self.target} (event {outgoing.event_id})"
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
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
