"""A real webhook receiver for the tests, written the way docs/events.md tells an app to write one.

A threading HTTP server on 127.0.0.1: each POST's signature is checked with the verification
snippet of docs/events.md (as printed there), a stale timestamp is refused as a replay, and an
event is stored once by its id, however often it arrives. The tests can script answers (a 503
twice, a redirect), hold a request at a chosen point (to kill the sender there), drip every
answer a byte at a time, and move the receiver's clock.

    with Receiver(SECRET) as receiver:
        monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url)
        ...
        assert list(receiver.processed) == [event.event_id]
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.unit.test_events import documented_verify


@dataclass
class Arrival:
    """One request as it arrived: its headers, its raw body, and what it was answered."""

    headers: dict[str, str]
    body: bytes
    status: int | None = None


@dataclass
class Hold:
    """Keep the next request waiting at *point* until released: ``before_read`` (headers in, body
    unread, nothing stored) or ``after_store`` (the event stored, no answer sent yet)."""

    point: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class Receiver:
    def __init__(self, secret: str, *, now: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.now = now
        self.verify = documented_verify()
        self.arrivals: list[Arrival] = []
        #: event id → the envelope, stored once.
        self.processed: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        #: Statuses to answer the next requests with, before any checking (then normal service).
        self.script: list[int] = []
        #: Set: every answer is written one byte every this many seconds (a receiver that drips).
        self.drip_every_s: float | None = None
        self.hold: Hold | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/videoctl"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver._post(self)

        return Handler

    def _take_hold(self, point: str) -> Hold | None:
        with self._lock:
            if self.hold is not None and self.hold.point == point and not self.hold.reached.is_set():
                self.hold.reached.set()
                return self.hold
            return None

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        held = self._take_hold("before_read")
        if held is not None:
            held.released.wait(60)
            request.close_connection = True  # the body is never read, nothing is stored
            return
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        arrival = Arrival(dict(request.headers.items()), body)
        if self.drip_every_s is not None:
            with self._lock:
                self.arrivals.append(arrival)
            return self._drip(request, arrival, self.drip_every_s)
        with self._lock:
            self.arrivals.append(arrival)
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None:
            extra = {"Location": self.url + "/moved"} if 300 <= scripted < 400 else {}
            return self._answer(request, arrival, scripted, extra)
        if not self.verify(self.secret, request.headers.get("X-Videoctl-Signature", ""), body, self.now()):
            return self._answer(request, arrival, 401)
        envelope = json.loads(body)
        with self._lock:
            if envelope["id"] in self.processed:
                self.duplicates += 1
            else:
                self.processed[envelope["id"]] = envelope
        held = self._take_hold("after_store")
        if held is not None:
            held.released.wait(60)
        self._answer(request, arrival, 204)

    @staticmethod
    def _drip(request: BaseHTTPRequestHandler, arrival: Arrival, every_s: float) -> None:
        """A 204 written a byte at a time: each read gets something, the answer takes ~45 intervals."""
        arrival.status = 204
        request.close_connection = True
        for byte in b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n":
            try:
                request.wfile.write(bytes([byte]))
                request.wfile.flush()
            except OSError:  # the sender gave up and closed
                return
            time.sleep(every_s)

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, arrival: Arrival, status: int,
                headers: dict[str, str] | None = None) -> None:
        arrival.status = status
        try:
            request.send_response(status)
            for name, value in (headers or {}).items():
                request.send_header(name, value)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:  # the sender is gone (killed while we held its request)
            pass
