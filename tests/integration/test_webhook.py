"""The webhook against a real HTTP server on 127.0.0.1: signed, replay-proof, retried with backoff.

The receiver (tests/events_receiver.py) checks each request with the verification code of
docs/events.md, refuses a stale timestamp, and stores an event once by its id.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.events_receiver import Hold, Receiver
from tests.integration.test_events import pending_events
from videoctl.db.repositories import EventRepository
from videoctl.domain.errors import DeliveryError
from videoctl.domain.events import delivery, envelope, sign
from videoctl.notify.webhook import WebhookSender
from videoctl.services.events import drain_events

SECRET = "whsec-webhook-tests-0123456789"


@pytest.fixture
def receiver():
    with Receiver(SECRET) as running:
        yield running


def one_event(conn):
    pending_events(conn, 1)
    return EventRepository(conn).list()[0][0]


def test_the_request_is_signed_and_carries_the_envelope(conn, receiver):
    event = one_event(conn)
    assert WebhookSender(receiver.url, SECRET)(delivery(event)) == "HTTP 204"
    [arrival] = receiver.arrivals
    assert arrival.status == 204  # the documented verification accepted it
    assert json.loads(arrival.body) == json.loads(json.dumps(envelope(event)))
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.headers["X-Videoctl-Event-Id"] == event.event_id
    assert arrival.headers["X-Videoctl-Event-Type"] == "job.cancelled"
    assert arrival.headers["User-Agent"].startswith("videoctl/")
    assert SECRET not in json.dumps(arrival.headers) and SECRET.encode() not in arrival.body


def test_a_captured_request_replayed_later_is_refused(conn, receiver):
    event = one_event(conn)
    WebhookSender(receiver.url, SECRET)(delivery(event))
    [arrival] = receiver.arrivals
    receiver.processed.clear()  # as if the receiver had lost it: only the signature stands in the way

    def replay() -> int:
        request = urllib.request.Request(receiver.url, data=arrival.body, method="POST",
                                         headers={"X-Videoctl-Signature": arrival.headers["X-Videoctl-Signature"]})
        try:
            return urllib.request.urlopen(request, timeout=5).status
        except urllib.error.HTTPError as exc:
            return exc.code

    signed_at = int(arrival.headers["X-Videoctl-Signature"].split(",")[0].removeprefix("t="))
    receiver.now = lambda: signed_at + 60
    assert replay() == 204  # within five minutes: genuine (and deduplicated by id)
    receiver.now = lambda: signed_at + 301
    assert replay() == 401  # the same bytes six minutes later: a replay
    assert receiver.duplicates == 0 and len(receiver.processed) == 1


def test_a_changed_body_or_another_secret_is_refused(conn, receiver):
    event = one_event(conn)
    with pytest.raises(DeliveryError, match="HTTP 401") as refused:
        WebhookSender(receiver.url, "whsec-not-the-receivers-secret")(delivery(event))
    assert not refused.value.transient and "VIDEOCTL_EVENTS_WEBHOOK_SECRET" in refused.value.hint
    # A genuine signature of the body as sent, on a body changed on the way.
    body = delivery(event).body
    request = urllib.request.Request(receiver.url, data=body.replace(b"job.cancelled", b"video.ready"),
                                     method="POST", headers={"X-Videoctl-Signature": sign(SECRET, int(time.time()), body)})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 401 and receiver.processed == {}


def test_a_5xx_is_retried_with_backoff_until_it_goes_through(conn, receiver):
    one_event(conn)
    receiver.script = [503, 502]
    sleeps: list[float] = []
    result = drain_events(EventRepository(conn), WebhookSender(receiver.url, SECRET), sleep=sleeps.append)
    assert (result.sent, result.failures, result.pending) == (1, [], 0)
    assert [a.status for a in receiver.arrivals] == [503, 502, 204]
    assert len(sleeps) == 2 and all(0 <= s <= 8 for s in sleeps)
    # Each try is signed for its own moment: a resend is never a replay of an old request.
    assert len(receiver.processed) == 1
    assert EventRepository(conn).list()[0][0].attempts == 1  # one drain, one delivery recorded


@pytest.mark.parametrize(("status", "transient"), [(429, True), (408, True), (500, True), (404, False),
                                                    (410, False), (422, False)])
def test_which_answers_are_worth_another_try(conn, receiver, status, transient):
    event = one_event(conn)
    receiver.script = [status]
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as failed:
        WebhookSender(receiver.url, SECRET)(delivery(event))
    assert failed.value.transient is transient


def test_a_redirect_is_not_followed(conn, receiver):
    event = one_event(conn)
    receiver.script = [307]
    with pytest.raises(DeliveryError, match="HTTP 307") as failed:
        WebhookSender(receiver.url, SECRET)(delivery(event))
    assert "final URL" in failed.value.hint and len(receiver.arrivals) == 1


def test_nobody_listening_or_no_answer_in_time_is_transient(conn, receiver):
    event = one_event(conn)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(DeliveryError, match="refused") as refused:
        WebhookSender(f"http://127.0.0.1:{port}/hook", SECRET)(delivery(event))
    assert refused.value.transient and refused.value.outcome_unknown
    receiver.hold = Hold("after_store")  # stored, then no answer within the timeout
    with pytest.raises(DeliveryError, match="timed out") as slow:
        WebhookSender(receiver.url, SECRET, timeout_s=0.5)(delivery(event))
    receiver.hold.released.set()
    assert slow.value.transient
    # The resend the drain makes is the same event: stored once.
    assert WebhookSender(receiver.url, SECRET)(delivery(event)) == "HTTP 204"
    assert len(receiver.processed) == 1 and receiver.duplicates == 1


def test_the_target_recorded_leaves_a_query_string_out():
    sender = WebhookSender("https://app.example.com/hooks/videoctl?token=abc", SECRET)
    assert sender.target == "https://app.example.com/hooks/videoctl"
    assert SECRET not in repr(sender) and "abc" not in repr(sender)


class ProxyRecorder:
    """A loopback port standing in for an HTTP proxy: records each connection, answers 502."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with client:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def __enter__(self) -> ProxyRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


def test_a_loopback_receiver_is_never_reached_through_a_proxy_from_the_environment(conn, receiver, monkeypatch):
    event = one_event(conn)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with ProxyRecorder() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert WebhookSender(receiver.url, SECRET)(delivery(event)) == "HTTP 204"
    assert proxy.connections == 0 and list(receiver.processed) == [event.event_id]
    assert WebhookSender(receiver.url, SECRET).direct
    assert not WebhookSender("https://app.example.com/hooks/videoctl", SECRET).direct  # its proxy, if any, stays


def test_a_dripping_receiver_is_cut_at_the_total_deadline(conn, receiver):
    """Each read gets a byte within a second, so a per-read timeout never fires; the total
    deadline does, and the drain's retries fit within the same deadline (no second try)."""
    one_event(conn)
    receiver.drip_every_s = 1.0
    started = time.monotonic()
    result = drain_events(EventRepository(conn), WebhookSender(receiver.url, SECRET), deadline_s=1.5)
    assert time.monotonic() - started < 1.5 + 3  # a bound, far below the ~45 s the drip takes
    assert (result.sent, result.pending, result.stopped_early) == (0, 1, True)
    [failure] = result.failures
    assert "timed out" in failure.error.message and failure.error.transient and failure.error.outcome_unknown
    assert len(receiver.arrivals) == 1


def test_a_send_fails_fast_retries_within_the_deadline(conn):
    """Nobody listening: each try fails at once, and the tries with their waits end within the deadline."""
    one_event(conn)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    waits: list[float] = []
    result = drain_events(EventRepository(conn), WebhookSender(f"http://127.0.0.1:{port}/hook", SECRET),
                          sleep=waits.append, deadline_s=30)
    assert len(waits) == 2 and "refused" in result.failures[0].error.message  # every try, as before
