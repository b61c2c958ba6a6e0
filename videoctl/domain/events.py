"""Events for the app: what each transition tells, the versioned envelope, the targets, the signature. Pure.

docs/events.md is the contract written out for people; this module is it for code. Each
builder turns the row a transition returned into the event recorded beside it, in the same
transaction (the repositories call them). What goes over the wire is :func:`body`: the
envelope in one canonical JSON spelling, so every resend of an event is byte for byte the
same, with the same ``id`` for the receiver to deduplicate on.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from videoctl.domain.models import Event, Job, Video

#: The envelope's "version": raised only for a change a receiver must know of (a field
#: removed or changing meaning); new fields may appear within a version.
SCHEMA_VERSION = 1
#: The envelope's "source", EventBridge's Source.
SOURCE = "videoctl"


class EventType(StrEnum):
    #: The video has a new ladder: first encode or a re-encode (READY → READY).
    VIDEO_READY = "video.ready"
    #: The video has no ladder coming (its job is DEAD, or the upload was abandoned).
    VIDEO_FAILED = "video.failed"
    #: An attempt failed; scan-stuck decides next whether it is retried.
    JOB_FAILED = "job.failed"
    #: No more attempts: a permanent error, or attempts used up.
    JOB_DEAD = "job.dead"
    #: An operator cancelled the job (or deleted its video).
    JOB_CANCELLED = "job.cancelled"


@dataclass(frozen=True)
class NewEvent:
    """An event about to be recorded: its type, whom it is about, and its data."""

    type: EventType
    video_id: int | None
    job_id: int | None
    data: dict[str, Any]


# ---------------------------------------------------------------- what each transition tells


def video_ready(video: Video, *, job_id: int | None, attempt: int | None, reencode: bool,
                replaced_hls_path: str | None) -> NewEvent:
    """The video READY with the outputs of one attempt (keys in the store, as the video row has them)."""
    return NewEvent(EventType.VIDEO_READY, video.id, job_id, {
        "attempt": attempt,
        "reencode": reencode,
        "hls_path": video.hls_path,
        "mpd_path": video.mpd_path,
        "poster_path": video.poster_path,
        "poster_small_path": video.poster_small_path,
        "storyboard_path": video.storyboard_path,
        "download_path": video.download_path,
        "caption_languages": list(video.caption_languages),
        "duration_s": video.duration_s,
        "width": video.width,
        "height": video.height,
        "has_audio": video.has_audio,
        "replaced_hls_path": replaced_hls_path,
    })


def video_failed(video_id: int, *, error_code: str, error_message: str | None,
                 job_id: int | None = None) -> NewEvent:
    return NewEvent(EventType.VIDEO_FAILED, video_id, job_id,
                    {"error_code": error_code, "error_message": error_message})


def _job_data(job: Job) -> dict[str, Any]:
    return {"attempt": job.attempt, "max_attempts": job.max_attempts, "reencode": job.reencode,
            "error_code": job.error_code, "error_message": job.error_message}


def job_failed(job: Job) -> NewEvent:
    return NewEvent(EventType.JOB_FAILED, job.video_id, job.id, _job_data(job))


def job_dead(job: Job) -> NewEvent:
    return NewEvent(EventType.JOB_DEAD, job.video_id, job.id, _job_data(job))


def job_cancelled(job: Job) -> NewEvent:
    # cancel_job stores error_code 'cancelled' and the reason as the message.
    return NewEvent(EventType.JOB_CANCELLED, job.video_id, job.id,
                    {"attempt": job.attempt, "max_attempts": job.max_attempts, "reencode": job.reencode,
                     "reason": job.error_message})


# ---------------------------------------------------------------- the envelope


def envelope(event: Event) -> dict[str, Any]:
    """The versioned document a receiver gets (docs/events.md)."""
    return {
        "version": SCHEMA_VERSION,
        "id": event.event_id,
        "sequence": event.id,
        "type": event.type,
        "occurred_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "source": SOURCE,
        "video_id": event.video_id,
        "job_id": event.job_id,
        "data": event.data,
    }


def body(event: Event) -> bytes:
    """The envelope as sent: keys sorted, no spaces, UTF-8. The same bytes on every resend."""
    return json.dumps(envelope(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Delivery:
    """One event as a target sends it."""

    event_id: str
    type: str
    video_id: int | None
    occurred_at: datetime
    body: bytes


def delivery(event: Event) -> Delivery:
    return Delivery(event.event_id, event.type, event.video_id, event.created_at, body(event))


# ---------------------------------------------------------------- targets

TargetKind = Literal["eventbridge", "sns", "webhook"]


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    #: The bus name or ARN, the topic ARN, or the webhook URL.
    value: str

    @property
    def fifo(self) -> bool:
        return self.kind == "sns" and self.value.endswith(".fifo")

    @property
    def name(self) -> str:
        """The bus's or topic's own name (the last part of an ARN); the URL for a webhook."""
        if self.kind == "webhook":
            return self.value
        return self.value.rsplit("/", 1)[-1] if self.kind == "eventbridge" else self.value.rsplit(":", 1)[-1]

    @property
    def arn_region_account(self) -> tuple[str, str] | None:
        """(region, account) an ARN names, None for a bus given by name or a webhook."""
        if not self.value.startswith("arn:"):
            return None
        parts = self.value.split(":")
        return parts[3], parts[4]

    def __str__(self) -> str:
        return self.value if self.kind == "webhook" else f"{self.kind}:{self.value}"


_BUS_NAME = re.compile(r"[/.\-_A-Za-z0-9]{1,256}")
_BUS_ARN = re.compile(r"arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/.\-_A-Za-z0-9]{1,256}")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
_LOOPBACK = frozenset({"localhost"})
#: One label of a host name (letters, digits, hyphens inside; underscores, as container networks name hosts).
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def parse_target(raw: str) -> Target:
    """``eventbridge:BUS`` (a name or an ARN), ``sns:TOPIC_ARN`` or ``https://URL``; ValueError says why not.

    A webhook must be https, except on a loopback address (a receiver on this machine);
    credentials belong in VIDEOCTL_EVENTS_WEBHOOK_SECRET, so a URL carrying a user or a
    password is refused.
    """
    value = raw.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("contains a control character")
    kind, sep, rest = value.partition(":")
    if kind == "eventbridge" and sep:
        if not (_BUS_NAME.fullmatch(rest) or _BUS_ARN.fullmatch(rest)):
            raise ValueError(f"names no EventBridge bus: {rest!r} is neither a bus name nor an event-bus ARN")
        return Target("eventbridge", rest)
    if kind == "sns" and sep:
        if not _TOPIC_ARN.fullmatch(rest):
            raise ValueError(f"needs an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got {rest!r}")
        return Target("sns", rest)
    if kind in ("https", "http"):
        return Target("webhook", _webhook_url(value))
    raise ValueError("must be eventbridge:BUS, sns:TOPIC_ARN or an https:// webhook URL")


def _webhook_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - urllib checks the port when it is read
    except ValueError:
        raise ValueError("is not a valid URL (check the host and port)") from None
    host = parts.hostname
    if not host:
        raise ValueError("has no host")
    if any(c.isspace() for c in value):
        # urllib splits such a URL without complaint; the request fails at every send.
        raise ValueError("contains a space (percent-encode it in the path as %20; a host has none)")
    if not _valid_host(host):
        raise ValueError("has an invalid host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user or password: the webhook is authenticated by its signature "
                         "(VIDEOCTL_EVENTS_WEBHOOK_SECRET)")
    if parts.scheme == "http" and not loopback_host(host):
        raise ValueError("must be https:// (plain http only to a loopback address such as 127.0.0.1)")
    return value


def _valid_host(host: str) -> bool:
    """An IP address or a host name DNS can hold (an internationalised one as its IDNA form)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def shown_target(value: str) -> str:
    """A target as operators are shown it: a webhook's query string masked (it may carry what its
    owner thinks of as a token), scheme, host and path kept so they can see where it points."""
    if not value.startswith(("https://", "http://")):
        return value
    parts = urlsplit(value)
    masked = "?****" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{masked}"


def loopback_host(host: str) -> bool:
    """localhost or a loopback address: a receiver on this machine."""
    if host in _LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- the webhook's signature

SIGNATURE_HEADER = "X-Videoctl-Signature"
#: A receiver refuses a signature whose timestamp is further than this from its clock.
REPLAY_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    """The signature header's value: ``t=TIMESTAMP,v1=HEX(HMAC-SHA256(secret, "TIMESTAMP." + body))``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, payload: bytes, *, now: float,
           tolerance_s: float = REPLAY_TOLERANCE_S) -> bool:
    """What a receiver checks: a v1 signature of this body with this secret, timestamped within
    *tolerance_s* of *now* (an old request replayed fails). Constant-time comparison."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, payload).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
