"""``/t/{token}/{key}``: a ladder's objects for a viewer's player, behind a signed playback token,
answered as the edge Worker answers them (worker/edge/src/index.js), so that `videoctl playback`
URLs work against `videoctl serve` on the embedded default:

    GET|HEAD /t/{token}/videos/{id}/hls/{job}-{n}/{file}

- The token is the credential, checked by :func:`videoctl.domain.playback.verify`, the rules the
  Worker's verify is held to (the shared vectors): a bad, expired or too long-lived token, or a
  path outside the ladder it opens, is 403 with ``{"error": "forbidden", "reason": …}``; a
  missing object is 404; nothing is ever listed.
- GET and HEAD, one byte range (206, 416), ETags (304), the types players expect, the Worker's
  cache lives (playlists and the MPD 60 s, the rest a year, immutable: a new encode writes a new
  prefix), CORS for VIDEOCTL_PLAYBACK_ORIGINS; OPTIONS answers a preflight; anything else 405.
- Objects are served by the same code as the pages' media (web/files.py): a link in a ladder,
  symbolic or hard, is refused (404, logged); from R2, playlists and WebVTT are relayed and the
  rest is a redirect to a presigned GET.
- VIDEOCTL_SERVE_TOKEN is not asked for: the playback token is the viewer's credential. On
  loopback without a serve token, the Host check against DNS rebinding applies as to every page.
- The viewer is logged once per playback (the master or the MPD), never the token.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from videoctl.domain import playback
from videoctl.domain.errors import NotFound, StorageError
from videoctl.web.files import store_object
from videoctl.web.pool import Busy, ClientPool

log = logging.getLogger("videoctl.web.playback")

PREFIX = f"/{playback.TOKEN_SEGMENT}/"
#: The Worker's cache lives (worker/edge/src/index.js).
SHORT = "public, max-age=60"
IMMUTABLE = "public, max-age=31536000, immutable"
EXPOSED = "Content-Length, Content-Range, Accept-Ranges, ETag"
_MANIFESTS = (".m3u8", ".mpd")
_PREFLIGHT_HEADERS = ("range", "if-none-match", "if-range")
_NON_ASCII = re.compile(rb"[\x80-\xff]")


class PlaybackRoute:
    """ASGI app for every request whose path starts with ``/t/``."""

    def __init__(self, pool: ClientPool, keys: playback.Keyring, *, origins: str | None, max_lifetime_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self.keys = keys
        self.origins = {o.strip() for o in (origins or "").split(",") if o.strip()}
        self.max_lifetime_s = max_lifetime_s
        self.clock = clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        origin = self._allowed_origin(request)
        response = await self._answer(request, origin)
        # What a browser keeps of a response depends on the Origin it sent: said on every answer.
        response.headers.append("Vary", "Origin")
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
        await response(scope, receive, send)

    async def _answer(self, request: Request, origin: str | None) -> Response:
        if request.method == "OPTIONS":
            return _preflight(request, origin)
        if request.method not in ("GET", "HEAD"):
            return _plain(405, "only GET and HEAD", Allow="GET, HEAD, OPTIONS")
        path = _sent_path(request)
        try:
            token, rest = playback.split_request(path)
            grant = playback.verify(token, rest, self.keys, self.clock(), max_lifetime_s=self.max_lifetime_s)
        except playback.Refused as refused:
            return _forbidden(refused.reason)
        if grant.key.endswith(_MANIFESTS) and grant.key.count("/") == grant.prefix.count("/"):
            # The master or the MPD: once per playback, the line that traces a leaked link to its viewer.
            log.info("playback of %s by viewer %s (key %s)", grant.prefix, json.dumps(grant.viewer), grant.kid)
        return await run_in_threadpool(self._object, request, grant.key)

    def _object(self, request: Request, key: str) -> Response:
        cache_control = SHORT if key.endswith(_MANIFESTS) else IMMUTABLE
        try:
            with self.pool.client() as client:
                return store_object(client, key, request, cache_control=cache_control)
        except NotFound:
            return _plain(404, "not found")
        except StorageError as exc:
            if exc.transient:
                log.warning("/t/…/%s: the store is unavailable: %s", key, exc.message)
                return _plain(503, "the store is unavailable; try again", **{"Retry-After": "5"})
            log.warning("/t/…/%s: refused: %s", key, exc.message)  # a link planted in a ladder
            return _plain(404, "not found")
        except Busy:
            return _plain(503, "busy; try again", **{"Retry-After": "5"})
        except Exception as exc:
            log.error("/t/…/%s: unexpected %s", key, type(exc).__name__, exc_info=exc)
            return _plain(500, "the playback route failed; see the server's log")

    def _allowed_origin(self, request: Request) -> str | None:
        """The request's Origin if VIDEOCTL_PLAYBACK_ORIGINS lets it play (``*``: any), else None."""
        origin = request.headers.get("origin")
        if origin and ("*" in self.origins or origin in self.origins):
            return origin
        return None


def _sent_path(request: Request) -> str:
    """The path as the client sent it, still percent-encoded (what verify reads): uvicorn's
    ``raw_path``, with any byte beyond ASCII escaped, as a URL parser would."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], raw).decode("ascii")


def _preflight(request: Request, origin: str | None) -> Response:
    if origin is None:
        return _plain(403, "origin not allowed")
    asked = request.headers.get("access-control-request-headers", "").lower()
    allowed = [h.strip() for h in asked.split(",") if h.strip() in _PREFLIGHT_HEADERS]
    return Response(status_code=204, headers={"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                                              "Access-Control-Allow-Headers": ", ".join(allowed) or "Range",
                                              "Access-Control-Max-Age": "86400"})


def _forbidden(reason: str) -> Response:
    body = json.dumps({"error": "forbidden", "reason": reason}, separators=(",", ":")) + "\n"
    return Response(body, status_code=403, media_type="application/json", headers={"Cache-Control": "no-store"})


def _plain(status: int, text: str, **headers: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-store", **headers})
