"""Prefix safety and the delete-r2 message: the rules both ends of the queue enforce.

The producer (``videoctl r2 delete`` / ``r2 drain``) and the consumer (the
Lambda in ``worker/delete_r2_handler.py``, or the same code run synchronously
against the local store) call the same functions here, so a prefix refused
on one side is refused on the other, and local and Lambda behaviour cannot
diverge.

Everything is pure except :func:`process_message`, which performs the delete
through the store it is handed (it imports no IO module). It lives here, not
in a service, because the Lambda may import only ``videoctl.domain``,
``videoctl.storage`` and ``videoctl.settings`` (no psycopg, typer, rich).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput, InvalidState, StorageError
from videoctl.domain.models import Job, Video
from videoctl.domain.states import VideoStatus

#: Bump when the message shape changes; a consumer refuses versions it does not know.
MESSAGE_VERSION = 1
#: The ``bucket`` of messages for the local store (no R2 bucket configured).
LOCAL_BUCKET = "local"
#: S3 DeleteObjects takes at most this many keys; enforced here whatever the store does.
DELETE_BATCH = 1000
#: S3 keys are at most 1 024 bytes; a longer prefix cannot name anything.
MAX_PREFIX_BYTES = 1024
MAX_REASON_CHARS = 500
#: How many skipped keys a delete reports by name (all are counted).
SKIPPED_SHOWN = 20

_FIELDS = ("version", "prefix", "bucket", "reason", "video_id", "requested_at", "idempotency_key")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


# ---------------------------------------------------------------- prefix rules


def check_delete_prefix(prefix: str, videos_root: str, *, video_id: int | None = None) -> str:
    """*prefix* if it is safe to delete everything under it, else InvalidInput saying why.

    Safe means: a relative key prefix strictly below the videos root, ending
    in '/' (so ``videos/12/`` never matches ``videos/123/``), with no empty,
    '.' or '..' segment, and, when *video_id* is given, inside that video's
    own prefix.
    """
    root = videos_root.rstrip("/") + "/"
    if not isinstance(prefix, str) or not prefix:
        raise InvalidInput("the prefix must not be empty (that would be the whole bucket)")
    if prefix.startswith("/"):
        raise InvalidInput(f"prefix {prefix!r} must not start with '/'")
    if _CONTROL.search(prefix):
        raise InvalidInput(f"prefix {prefix!r} contains a control character or a backslash")
    if len(prefix.encode()) > MAX_PREFIX_BYTES:
        raise InvalidInput(f"prefix is longer than {MAX_PREFIX_BYTES} bytes")
    # '..' first: a trailing-slash hint must never suggest a prefix that climbs out.
    segments = prefix.removesuffix("/").split("/")
    if ".." in segments:
        raise InvalidInput(f"prefix {prefix!r} must not contain '..'")
    if not prefix.endswith("/"):
        raise InvalidInput(
            f"prefix {prefix!r} must end with '/' so it cannot match a neighbour",
            hint=f"did you mean {prefix + '/'!r}?",
        )
    if any(s in ("", ".") for s in segments):
        raise InvalidInput(f"prefix {prefix!r} has an empty or '.' segment")
    if prefix == root:
        raise InvalidInput(f"prefix {prefix!r} is the videos root itself; refusing to delete every video")
    if not prefix.startswith(root):
        raise InvalidInput(f"prefix {prefix!r} is outside the videos root {root!r}")
    if video_id is not None:
        own = keys.video_prefix(videos_root.rstrip("/"), video_id)
        if not prefix.startswith(own):
            raise InvalidInput(f"prefix {prefix!r} is not inside video {video_id}'s prefix {own!r}")
    return prefix


def owner_video_id(prefix: str, videos_root: str) -> int | None:
    """The video whose prefix ``{root}/{id}/`` contains *prefix*, if it names one."""
    root = videos_root.rstrip("/") + "/"
    if not prefix.startswith(root):
        return None
    head = prefix[len(root):].split("/", 1)
    # Only the canonical spelling keys.video_prefix writes: "012" is not video 12's folder.
    if len(head) < 2 or not head[0].isascii() or not head[0].isdigit() or head[0] != str(int(head[0])):
        return None
    return int(head[0])


def overlaps(prefix: str, other: str) -> bool:
    """Whether deleting *prefix* touches anything under *other*: one contains the other."""
    return other.startswith(prefix) or prefix.startswith(other)


def live_ladder_overlap(prefix: str, hls_path: str | None) -> str | None:
    """The live ladder's prefix if deleting *prefix* would touch it, else None.

    Overlap both ways: ``videos/12/`` contains the ladder, and
    ``videos/12/hls/3-1/v0/`` lies inside it; either breaks playback.
    """
    if not hls_path:
        return None
    ladder = keys.prefix_of_master(hls_path)
    return ladder if overlaps(prefix, ladder) else None


def check_not_in_use(prefix: str, video: Video | None, active_job: Job | None, *, videos_root: str) -> None:
    """InvalidState if deleting *prefix* would leave the database pointing at nothing.

    Until a video is DELETED its source (the only copy of the upload), its live
    ladder and the prefixes its active job writes are in use: a delete that
    touches any of them is refused whatever the operator confirms. Retiring a
    video is `videoctl video delete`, which cancels its job and marks it DELETED
    in the transaction that records the deletion.
    """
    if video is None or video.status is VideoStatus.DELETED:
        return
    job = f" and its job {active_job.id} is {active_job.state}" if active_job else ""
    retire = f"delete the video with `videoctl video delete {video.id} --yes`"
    # An expired upload's source is whatever part of it arrived: leftovers, never an upload to keep.
    if video.source_key.startswith(prefix) and not video.upload_abandoned:
        raise InvalidState(
            f"deleting {prefix!r} would remove {video.source_key!r}, the only copy of video {video.id}'s source, "
            f"while the video is {video.status}{job}",
            hint=f"{retire}: it cancels any job, then deletes everything under its prefix")
    ladder = live_ladder_overlap(prefix, video.hls_path)
    if ladder:
        raise InvalidState(
            f"video {video.id} ({video.status}) serves its ladder from {ladder!r}; deleting {prefix!r} "
            "would break its playback",
            hint=f"`videoctl submit {video.id} --force` replaces the ladder (the old one goes once the new one "
                 f"is live), or {retire}")
    writes = keys.job_prefixes(videos_root.rstrip("/"), video.id, active_job.id) if active_job else None
    if writes and overlaps(prefix, writes):
        raise InvalidState(
            f"job {active_job.id} ({active_job.state}) of video {video.id} writes under {writes!r}; deleting "
            f"{prefix!r} would pull objects from under it",
            hint=f"wait for it, or cancel it with `videoctl jobs cancel {active_job.id}`")


def unclaimed_source(prefix: str, owner: int | None, video: Video | None, *, videos_root: str) -> str | None:
    """The source folder *prefix* would delete with no video row to answer for it, else None.

    Such objects may be the only copy of an upload whose row was lost, so the
    delete needs the operator's --yes. A DELETED video's source needs none: it
    was confirmed by `video delete --yes`.
    """
    if video is not None or owner is None:
        return None
    source = keys.source_prefix(videos_root.rstrip("/"), owner)
    return source if overlaps(prefix, source) else None


def check_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a delete request needs a reason")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return text


# ---------------------------------------------------------------- the message


def idempotency_key(*, bucket: str, prefix: str, reason: str, video_id: int | None,
                    request_id: int | None = None) -> str:
    """Deterministic: the same logical request always carries the same key.

    Deleting a prefix is idempotent, so duplicates are harmless; what the key
    buys is recognising them. A flush that sent a row but failed to mark it
    sent re-sends it with the same key (the row id is part of it), SQS
    redeliveries share it, and a FIFO queue can use it as its deduplication
    id. A random uuid would make each of those look like a new request.
    The consumer never drops a message because of its key: objects written
    under the prefix since the first delete must still go.
    """
    canonical = json.dumps([MESSAGE_VERSION, bucket, prefix, reason, video_id, request_id])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DeleteMessage:
    version: int
    prefix: str
    bucket: str
    reason: str
    video_id: int | None
    requested_at: str  # ISO 8601, UTC
    idempotency_key: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def build_message(prefix: str, reason: str, *, bucket: str, videos_root: str, video_id: int | None = None,
                  requested_at: datetime, request_id: int | None = None) -> DeleteMessage:
    """A checked message; the consumer re-checks it with :func:`parse_message`."""
    prefix = check_delete_prefix(prefix, videos_root, video_id=video_id)
    reason = check_reason(reason)
    if requested_at.tzinfo is None:
        raise ValueError("requested_at must be timezone-aware")
    return DeleteMessage(
        version=MESSAGE_VERSION,
        prefix=prefix,
        bucket=bucket,
        reason=reason,
        video_id=video_id,
        requested_at=requested_at.astimezone(UTC).isoformat(),
        idempotency_key=idempotency_key(bucket=bucket, prefix=prefix, reason=reason, video_id=video_id,
                                        request_id=request_id),
    )


def parse_message(body: str, *, bucket: str, videos_root: str) -> DeleteMessage:
    """Parse and re-check a message; InvalidInput (and nothing deleted) if anything is off.

    The shape is exact: a field added without a version bump is refused, so a
    producer newer than this consumer cannot slip something past it.
    """
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"message body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("message body is not a JSON object")
    version = data.get("version")
    if type(version) is not int or version != MESSAGE_VERSION:  # not True, not 1.0
        raise InvalidInput(f"unsupported message version {version!r}; this consumer reads {MESSAGE_VERSION}")
    if set(data) != set(_FIELDS):
        missing, extra = sorted(set(_FIELDS) - set(data)), sorted(set(data) - set(_FIELDS))
        raise InvalidInput(
            f"message fields differ from version {MESSAGE_VERSION}: missing {missing}, unexpected {extra}")
    for name in ("prefix", "bucket", "reason", "requested_at", "idempotency_key"):
        if not isinstance(data[name], str):
            raise InvalidInput(f"message field {name!r} must be a string")
    video_id = data["video_id"]
    if video_id is not None and (not isinstance(video_id, int) or isinstance(video_id, bool) or video_id < 1):
        raise InvalidInput("message field 'video_id' must be a positive integer or null")
    if data["bucket"] != bucket:
        raise InvalidInput(f"message is for bucket {data['bucket']!r}, this consumer deletes from {bucket!r}")
    try:
        at = datetime.fromisoformat(data["requested_at"])
    except ValueError:
        raise InvalidInput("message field 'requested_at' is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidInput("message field 'requested_at' has no time zone")
    if not 1 <= len(data["idempotency_key"]) <= 128:
        raise InvalidInput("message field 'idempotency_key' must be 1 to 128 characters")
    check_delete_prefix(data["prefix"], videos_root, video_id=video_id)
    check_reason(data["reason"])
    return DeleteMessage(**{name: data[name] for name in _FIELDS})


# ---------------------------------------------------------------- the delete


class ObjectInfoLike(Protocol):
    key: str


class DeleteTarget(Protocol):
    """The part of an ObjectStore the delete needs (LocalStore and S3Store both fit)."""

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfoLike]: ...

    def delete_keys(self, keys: Iterable[str]) -> int: ...


@dataclass(frozen=True)
class DeleteResult:
    message: DeleteMessage
    deleted: int
    batches: int
    #: Listed keys no store may delete (keys.key_problem, e.g. a crafted '..'): left in place.
    skipped: int = 0
    #: The first :data:`SKIPPED_SHOWN` of them, for the report.
    skipped_keys: tuple[str, ...] = ()


def process_message(body: str, store: DeleteTarget, *, bucket: str, videos_root: str) -> DeleteResult:
    """Delete everything under the message's prefix; the one consumer for Lambda and local mode.

    Keys are deleted as they are listed, in batches of at most
    :data:`DELETE_BATCH`, so memory stays flat and a timeout keeps the
    progress made (the retry lists what is left). A listed key outside the
    prefix means the store is broken: the delete stops before touching it.
    A listed key that is unsafe to name (a crafted ``videos/5/../10/…``) is
    skipped and reported, and the rest is deleted: one bad key must not make
    the whole message fail on every delivery. Absent keys count as done, so a
    redelivered message succeeds.
    """
    message = parse_message(body, bucket=bucket, videos_root=videos_root)
    skipped: list[str] = []
    deleted = batches = 0
    for batch in batched(_keys_under(store, message.prefix, skipped)):
        deleted += store.delete_keys(batch)
        batches += 1
    return DeleteResult(message=message, deleted=deleted, batches=batches, skipped=len(skipped),
                        skipped_keys=tuple(skipped[:SKIPPED_SHOWN]))


def _keys_under(store: DeleteTarget, prefix: str, skipped: list[str]) -> Iterator[str]:
    for info in store.list_prefix(prefix):
        if not info.key.startswith(prefix):
            raise StorageError(f"listing {prefix!r} returned {info.key!r}, which is outside it; nothing more deleted")
        if keys.key_problem(info.key) is not None:
            skipped.append(info.key)
            continue
        yield info.key


def batched(items: Iterable[str], size: int = DELETE_BATCH) -> Iterator[list[str]]:
    """Consecutive lists of at most *size* items; the stores delete in these too."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
