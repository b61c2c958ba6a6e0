"""Deleting object prefixes: enqueue, preview, and drain the r2_delete_request table.

Two modes, one rule: **R2 configured (settings.uses_r2) ⇒ SQS mode**, the
message goes to the delete-r2 queue and the Lambda deletes; **no R2 bucket ⇒
local mode**, the same consumer code (:func:`~videoctl.domain.prefixes.process_message`)
runs synchronously against the local store. R2 objects are thus only ever
deleted by the Lambda, and local and Lambda behaviour cannot diverge.

Everything a deletion needs is handed in (settings, a :data:`Sender`, a video
lookup), so tests can use a moto queue, a local store or a fake sender.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from videoctl.domain import prefixes
from videoctl.domain.errors import InvalidState, NotFound, VideoctlError
from videoctl.domain.models import DeleteRequest, Job, Video
from videoctl.domain.prefixes import DeleteMessage
from videoctl.domain.repositories import DeleteRequestRepository
from videoctl.domain.text import check_reason
from videoctl.settings import Settings

if TYPE_CHECKING:
    from videoctl.storage import ObjectStore

log = logging.getLogger(__name__)

Mode = Literal["sqs", "local"]


class VideoLookup(Protocol):
    def get(self, video_id: int) -> Video: ...


class JobLookup(Protocol):
    def active_for_video(self, video_id: int) -> Job | None: ...


@dataclass(frozen=True)
class Sent:
    """What a sender did with one message."""

    mode: Mode
    message_id: str | None = None  # SQS mode
    deleted: int | None = None  # local mode: keys deleted synchronously


#: Hands one checked message to the consumer: SQS, or process_message in-process.
Sender = Callable[[DeleteMessage], Sent]


class EnqueuedDocument(TypedDict):
    mode: Mode
    message_id: str | None
    deleted: int | None
    message: DeleteMessage


@dataclass(frozen=True)
class Enqueued:
    message: DeleteMessage
    sent: Sent

    def to_dict(self) -> EnqueuedDocument:
        return {"mode": self.sent.mode, "message_id": self.sent.message_id, "deleted": self.sent.deleted,
                "message": self.message}


# ---------------------------------------------------------------- mode and senders


def delete_mode(settings: Settings) -> Mode:
    return "sqs" if settings.uses_r2 else "local"


def message_bucket(settings: Settings) -> str:
    return settings.r2_bucket or prefixes.LOCAL_BUCKET


def sqs_sender(queue: Any) -> Sender:
    """Send to the delete-r2 queue (a :class:`videoctl.aws.sqs.SqsQueue`)."""

    def send(message: DeleteMessage) -> Sent:
        # Group id per request: deletes need no ordering, only the FIFO dedup.
        message_id = queue.send(message.to_json(), deduplication_id=message.idempotency_key,
                                group_id=message.idempotency_key)
        return Sent("sqs", message_id=message_id)

    return send


def local_sender(store: ObjectStore, *, bucket: str, videos_root: str) -> Sender:
    """Run the consumer now, against *store*, on the serialised message (as the Lambda would)."""

    def send(message: DeleteMessage) -> Sent:
        result = prefixes.process_message(message.to_json(), store, bucket=bucket, videos_root=videos_root)
        return Sent("local", deleted=result.deleted)

    return send


def sender_for(settings: Settings, *, store: Callable[[], ObjectStore], sqs_client: Callable[[], Any]) -> Sender:
    """The sender for this configuration; builds only the collaborator its mode needs."""
    if delete_mode(settings) == "sqs":
        from videoctl.aws.sqs import SqsQueue

        return sqs_sender(SqsQueue(sqs_client(), settings.delete_queue_name, timeout_s=settings.delivery_timeout_s))
    return local_sender(store(), bucket=message_bucket(settings), videos_root=settings.videos_root)


# ---------------------------------------------------------------- enqueue


def enqueue_delete_r2(prefix: str, reason: str, video_id: int | None = None, *, settings: Settings,
                      send: Sender, videos: VideoLookup | None, jobs: JobLookup | None = None,
                      confirm_source: bool = False, requested_at: datetime | None = None,
                      request_id: int | None = None) -> Enqueued:
    """Check *prefix* and hand a versioned delete message to *send*.

    Refused before anything is sent: an unsafe prefix (InvalidInput); a prefix
    touching what a video that is not DELETED uses, its source, its live ladder
    or its active job's prefixes (InvalidState, whatever is confirmed: that is
    `video delete`'s job); and, unless *confirm_source*, a source folder no
    video row answers for (InvalidState). *videos* is None only for callers with
    no database, which then skip the checks that need rows; *jobs* None skips
    the active job's. *request_id* is the r2_delete_request row being flushed,
    if any (it feeds the idempotency key).
    """
    check_reason(reason)
    prefix, owner, unclaimed = _check_target(prefix, video_id, settings=settings, videos=videos, jobs=jobs)
    if unclaimed and not confirm_source:
        raise InvalidState(
            f"deleting {prefix!r} would remove {unclaimed!r}, where video {owner}'s source would be, and no "
            f"video {owner} exists to answer for it: it may be the only copy of an upload",
            hint="pass --yes if it is to go")
    message = prefixes.build_message(
        prefix, reason, bucket=message_bucket(settings), videos_root=settings.videos_root, video_id=owner,
        requested_at=requested_at or datetime.now(UTC), request_id=request_id,
    )
    return Enqueued(message, send(message))


def _check_target(prefix: str, video_id: int | None, *, settings: Settings, videos: VideoLookup | None,
                  jobs: JobLookup | None) -> tuple[str, int | None, str | None]:
    """The checked prefix, the video owning it, and the unclaimed source folder it covers (needs --yes).

    The owner is *video_id* when given (NotFound if it does not exist), else
    the ``{root}/{id}/`` the prefix lies in (a missing row then means orphaned
    objects, with nothing in use to protect).
    """
    prefix = prefixes.check_delete_prefix(prefix, settings.videos_root, video_id=video_id)
    owner = video_id if video_id is not None else prefixes.owner_video_id(prefix, settings.videos_root)
    if videos is None or owner is None:
        return prefix, owner, None
    try:
        video = videos.get(owner)
    except NotFound:
        if video_id is not None:
            raise
        video = None
    active = jobs.active_for_video(owner) if jobs is not None and video is not None else None
    prefixes.check_not_in_use(prefix, video, active, videos_root=settings.videos_root)
    return prefix, owner, prefixes.unclaimed_source(prefix, owner, video, videos_root=settings.videos_root)


# ---------------------------------------------------------------- preview


class KeySize(TypedDict):
    key: str
    size: int


class PreviewDocument(TypedDict):
    """`r2 delete --dry-run`: the checked prefix and the first keys that would go."""

    mode: Mode
    dry_run: Literal[True]
    prefix: str
    location: str
    count: int
    total_bytes: int
    keys: list[KeySize]
    truncated: bool
    unclaimed_source: str | None
    needs_yes: bool


@dataclass(frozen=True)
class Preview:
    mode: Mode
    prefix: str
    location: str
    count: int
    total_bytes: int
    keys: list[KeySize]  # the first few
    unclaimed_source: str | None  # set when the delete would need --yes

    def to_dict(self) -> PreviewDocument:
        return {"mode": self.mode, "dry_run": True, "prefix": self.prefix, "location": self.location, "count": self.count,
                "total_bytes": self.total_bytes, "keys": self.keys, "truncated": self.count > len(self.keys),
                "unclaimed_source": self.unclaimed_source, "needs_yes": self.unclaimed_source is not None}


def preview_delete(prefix: str, video_id: int | None = None, *, settings: Settings, store: ObjectStore,
                   videos: VideoLookup | None, jobs: JobLookup | None = None, show: int = 20) -> Preview:
    """What ``r2 delete`` would remove, checked by the same rules (refused the same way), deleting nothing."""
    prefix, _, unclaimed = _check_target(prefix, video_id, settings=settings, videos=videos, jobs=jobs)
    count = total = 0
    first: list[KeySize] = []
    for info in store.list_prefix(prefix):
        count += 1
        total += info.size
        if len(first) < show:
            first.append({"key": info.key, "size": info.size})
    return Preview(delete_mode(settings), prefix, store.location, count, total, first, unclaimed)


# ---------------------------------------------------------------- the request table


class FailureDocument(TypedDict):
    request_id: int
    prefix: str
    code: str
    message: str
    hint: str | None


@dataclass(frozen=True)
class Failure:
    request_id: int
    prefix: str
    error: VideoctlError

    def to_dict(self) -> FailureDocument:
        return {"request_id": self.request_id, "prefix": self.prefix, **self.error.to_dict()}


def flush_delete_requests(repo: DeleteRequestRepository, send: Sender, limit: int = 100, *,
                          settings: Settings, videos: VideoLookup | None, jobs: JobLookup | None = None,
                          on_failure: Callable[[Failure], None] | None = None) -> int:
    """Send up to *limit* pending r2_delete_request rows; returns how many were sent.

    The rows stay locked (FOR UPDATE SKIP LOCKED) in one transaction while
    they are sent, so two drains never send the same row. Each row is sent
    and marked in its own savepoint: a send that fails leaves that row
    pending for the next flush and is passed to *on_failure* (and logged),
    the others still go. A crash between send and commit re-sends the row
    next time with the same idempotency key; the delete is idempotent.
    """
    sent = 0
    with repo.transaction():
        for request in repo.pending(limit):
            try:
                with repo.transaction():
                    enqueue_delete_r2(request.prefix, request.reason, request.video_id, settings=settings,
                                      send=send, videos=videos, jobs=jobs, requested_at=request.requested_at,
                                      request_id=request.id)
                    repo.mark_sent(request.id)
                sent += 1
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
                error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
                failure = Failure(request.id, request.prefix, error)
                log.warning("delete request %s (%s) stays pending: %s: %s", request.id, request.prefix,
                            error.code, error.message)
                if on_failure is not None:
                    on_failure(failure)
    return sent


class DrainDocument(TypedDict):
    mode: Mode
    sent: int
    failed: int
    failures: list[FailureDocument]


@dataclass
class DrainResult:
    mode: Mode
    sent: int = 0
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> DrainDocument:
        return {"mode": self.mode, "sent": self.sent, "failed": len(self.failures),
                "failures": [f.to_dict() for f in self.failures]}


def drain_pending(requests: DeleteRequestRepository, send: Sender, *, settings: Settings,
                  videos: VideoLookup | None, jobs: JobLookup | None = None, limit: int = 100) -> DrainResult:
    """Flush pending delete requests with the sender of this configuration.

    What run-job calls after it committed a job (best effort: failures stay
    pending for ``videoctl r2 drain``), what every scan pass runs, and what
    ``r2 drain`` runs.
    """
    result = DrainResult(delete_mode(settings))
    result.sent = flush_delete_requests(requests, send, limit, settings=settings, videos=videos, jobs=jobs,
                                        on_failure=result.failures.append)
    return result


@dataclass(frozen=True)
class PendingRequests:
    """A page of the pending delete requests, oldest first, and how many are pending in all."""

    total: int
    requests: list[DeleteRequest]


def list_pending(repo: DeleteRequestRepository, *, limit: int = 50) -> PendingRequests:
    requests, total = repo.list_pending(limit)
    return PendingRequests(total, requests)


def discard_request(repo: DeleteRequestRepository, request_id: int, reason: str) -> DeleteRequest:
    """Stop trying a request that can never succeed; its objects stay where they are."""
    return repo.discard(request_id, check_reason(reason))
