"""Videos that arrive without a copy: direct uploads, keys already in the bucket, auto-submit.

The flow of a browser upload (docs/api.md):

1. ``create_upload``: a PENDING video, its key chosen from its id, and what the client
   needs to send the file: one presigned PUT below 100 MiB, a multipart upload with a
   presigned URL per part above, or (locally) a path to write to.
2. The client sends the file; videoctl is not involved.
3. ``complete_upload``: the parts are held to the upload's plan and joined, the object
   is checked (there, not empty, the size declared) and the video becomes UPLOADED with
   the object's size and ETag: run-job encodes that object or none, so a file sent to a
   URL still valid after the completion is never encoded.

``register_video`` takes an object already in the bucket as a video's source. Either
way, with VIDEOCTL_AUTO_SUBMIT on, the video is submitted as soon as it is UPLOADED;
the row says it waits for that job until the job exists, so a scan pass submits what
a failed submit left behind (``submit_waiting``). A scan pass also gives up uploads
never completed (``expire_uploads``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from videoctl.domain import keys, uploads
from videoctl.domain.errors import InvalidInput, InvalidState, NotFound, VideoctlError
from videoctl.domain.executor import Executor
from videoctl.domain.models import Job, Video
from videoctl.domain.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain.states import VideoStatus
from videoctl.domain.text import check_title, title_from_filename
from videoctl.services.captions import read_sidecars, store_sidecars
from videoctl.services.submit import create_job_and_submit, plan_submit
from videoctl.settings import Settings
from videoctl.storage import ObjectStore
from videoctl.storage.base import LocalUploads, PresignedUploads

log = logging.getLogger(__name__)

Method = Literal["put", "multipart", "file"]


@dataclass(frozen=True)
class UploadPart:
    """One part of a multipart upload: PUT exactly ``size`` bytes to ``url``, keep the ETag."""

    number: int
    size: int
    url: str


@dataclass(frozen=True)
class Upload:
    """What the client needs to send the file of a new PENDING video (`upload create`)."""

    video: Video
    #: ``put``: one PUT of the whole file to ``url``; ``multipart``: each part to its URL;
    #: ``file``: (local storage) write the file to ``path``.
    method: Method
    key: str
    content_type: str
    #: Headers every PUT must carry (the URLs are signed with them).
    headers: dict[str, str]
    #: When the URLs stop working (None for a local path).
    urls_expire_at: datetime | None
    #: When a scan pass gives the upload up if it is not completed.
    upload_expires_at: datetime | None
    url: str | None = None
    upload_id: str | None = None
    part_size: int | None = None
    parts: list[UploadPart] = field(default_factory=list)
    path: str | None = None
    #: What to run once the file is sent.
    complete: str = ""


@dataclass(frozen=True)
class Uploaded:
    """A video that is UPLOADED now, and the job auto-submit gave it (if it is on)."""

    video: Video
    #: The job VIDEOCTL_AUTO_SUBMIT created, if it did.
    job: Job | None
    #: Why the auto-submit failed; the next scan-stuck pass submits the video then.
    submit_error: str | None = None
    #: True when the upload had been completed before (a retried call): nothing changed.
    already_completed: bool = False


# ---------------------------------------------------------------- creating an upload


def create_upload(*, videos: VideoRepository, store: ObjectStore, settings: Settings, title: str | None = None,
                  size: int | None = None, content_type: str = "video/mp4", now: datetime) -> Upload:
    """A PENDING video and the URLs (or path) its file goes to; nothing is sent yet."""
    content_type = uploads.check_content_type(content_type)
    size = uploads.check_size(size)
    title = check_title(title) if title is not None else None
    video_id = videos.next_id()
    key = uploads.upload_key(settings.videos_root, video_id, content_type)
    expiry_s = settings.upload_expiry_hours * 3600
    complete = f"videoctl upload complete {video_id}"
    if isinstance(store, PresignedUploads) and uploads.uses_multipart(size):
        assert size is not None  # uses_multipart needs it
        plan = uploads.plan_parts(size)
        upload_id = store.start_multipart(key, content_type=content_type)
        try:
            video = videos.add(video_id, title=title or f"upload {video_id}", source_key=key, size_bytes=size,
                               status=VideoStatus.PENDING, content_type=content_type, upload_id=upload_id,
                               upload_expires_in_s=expiry_s, upload_part_size=plan.part_size)
        except BaseException:
            store.abort_multipart(key, upload_id)  # no row answers for it: leave no parts behind
            raise
        parts = [UploadPart(n, plan.part_length(n), store.presign_part(key, upload_id, n,
                                                                       expires_s=settings.upload_url_expiry_s))
                 for n in range(1, plan.count + 1)]
        # One --parts value, comma-separated, as the option takes it (a multipart upload has
        # at least 7 parts, so the list is always shortened).
        return Upload(video, "multipart", key, content_type, {}, _urls_expire(now, settings),
                      video.upload_expires_at, upload_id=upload_id, part_size=plan.part_size, parts=parts,
                      complete=f"{complete} --parts ETAG_1,ETAG_2,…,ETAG_{plan.count}")
    video = videos.add(video_id, title=title or f"upload {video_id}", source_key=key, size_bytes=size,
                       status=VideoStatus.PENDING, content_type=content_type, upload_expires_in_s=expiry_s)
    if isinstance(store, PresignedUploads):
        url = store.presign_put(key, content_type=content_type, expires_s=settings.upload_url_expiry_s)
        return Upload(video, "put", key, content_type, {"Content-Type": content_type},
                      _urls_expire(now, settings), video.upload_expires_at, url=url, complete=complete)
    if isinstance(store, LocalUploads):
        path = store.upload_path(key)
        return Upload(video, "file", key, content_type, {}, None, video.upload_expires_at, path=str(path),
                      complete=complete)
    raise InvalidState(f"the store {store.location} takes no direct uploads")


def _urls_expire(now: datetime, settings: Settings) -> datetime:
    return now + timedelta(seconds=settings.upload_url_expiry_s)


# ---------------------------------------------------------------- completing it


def complete_upload(video_id: int, etags: Sequence[str] | None = None, *, videos: VideoRepository,
                    store: ObjectStore, settings: Settings) -> tuple[Video, bool]:
    """Join the parts (if multipart), check the object, and make the video UPLOADED with its
    size and ETag; returns the video and whether it was UPLOADED (or further) before this call.

    Safe to call again: a video completed before is returned as it is. A check that
    fails (a part missing or not as planned, nothing there yet, empty, not the size
    declared) leaves the video PENDING, so the client can send the file (or the part)
    again until the upload expires.
    """
    video = videos.get(video_id)
    if video.status in (VideoStatus.UPLOADED, VideoStatus.PROCESSING, VideoStatus.READY):
        return video, True
    if video.status is not VideoStatus.PENDING:
        why = f" ({video.error_code}: {video.error_message})" if video.error_code else ""
        raise InvalidState(f"video {video.id} is {video.status}{why}: its upload cannot be completed",
                           hint="create a new upload with `videoctl upload create`")
    if etags is not None and not video.upload_id:
        raise InvalidInput(f"video {video.id}'s upload is a single PUT: it has no parts to join",
                           hint=f"run `videoctl upload complete {video.id}` without --parts")
    if video.upload_id and isinstance(store, PresignedUploads):
        try:
            _join_parts(video, etags, store)
        except NotFound:
            # Joined by an earlier call whose completion was not recorded: the object tells.
            if store.size(video.source_key) is None:
                raise
    found = store.head(video.source_key)
    if found is None:
        raise NotFound(f"nothing has been uploaded to {video.source_key!r} for video {video.id} yet",
                       hint="send the file to the upload's URL (or path) first")
    if found.size == 0:
        raise InvalidInput(f"the upload of video {video.id} ({video.source_key!r}) is empty (0 bytes)",
                           hint="send the file again, then complete the upload")
    if video.size_bytes is not None and found.size != video.size_bytes:
        raise InvalidInput(f"the upload of video {video.id} is {found.size} bytes, but {video.size_bytes} were "
                           "declared", hint="send the whole file again, then complete the upload")
    return videos.mark_uploaded(video.id, size_bytes=found.size, source_etag=found.etag,
                                auto_submit=settings.auto_submit), False


def _join_parts(video: Video, etags: Sequence[str] | None, store: PresignedUploads) -> None:
    """Join the multipart upload, only from exactly the parts its plan names.

    S3 joins any list it is given (a subset too) and the upload is then gone, its part
    URLs dead: so the list is held to the plan first, and a wrong one leaves the upload
    open to be completed right.
    """
    assert video.upload_id is not None and video.size_bytes is not None  # a multipart upload has both
    plan = uploads.recorded_plan(video.size_bytes, video.upload_part_size)
    given = uploads.check_etags(etags, plan) if etags is not None else None
    held = store.list_parts(video.source_key, video.upload_id)
    store.complete_multipart(video.source_key, video.upload_id, uploads.parts_to_join(plan, held, given))


def finish_upload(video_id: int, etags: Sequence[str] | None = None, *, videos: VideoRepository,
                  jobs: JobRepository, executor: Executor, store: ObjectStore, settings: Settings) -> Uploaded:
    """`upload complete`: the video UPLOADED, then submitted if VIDEOCTL_AUTO_SUBMIT is on."""
    video, before = complete_upload(video_id, etags, videos=videos, store=store, settings=settings)
    if before:
        return Uploaded(video, jobs.active_for_video(video_id), already_completed=True)
    job, error = submit_if_waiting(video, videos=videos, jobs=jobs, executor=executor, settings=settings)
    return Uploaded(videos.get(video.id), job, error)


# ---------------------------------------------------------------- registering a key


def register_video(key: str, *, title: str | None = None, captions: Mapping[str, Path] | None = None,
                   videos: VideoRepository, store: ObjectStore, settings: Settings) -> Video:
    """A video UPLOADED from an object already in the bucket, copying nothing.

    The key must be ``{root}/{id}/source/NAME``: the id in it becomes the video's,
    so everything under ``{root}/{id}/`` stays that video's alone. Caption files are
    checked first and stored with the row, as `video add` does.
    """
    video_id = uploads.registered_video_id(key, settings.videos_root)
    title = check_title(title) if title is not None else title_from_filename(Path(key).stem)
    sidecars = read_sidecars(captions or {})
    try:
        existing = videos.get(video_id)
    except NotFound:
        existing = None
    if existing is not None:
        raise InvalidState(f"{keys.video_prefix(settings.videos_root, video_id)} belongs to video {video_id} "
                           f"({existing.status}) already", hint=f"see it with `videoctl video show {video_id}`")
    found = store.head(key)  # its size and ETag: what run-job must find there
    if found is None:
        raise NotFound(f"no object {key!r} in {store.location}", hint="upload it first, or check the key")
    if found.size == 0:
        raise InvalidInput(f"the object {key!r} is empty (0 bytes): there is nothing to encode")
    stored: list[str] = []
    try:
        with videos.transaction():
            video = videos.add(video_id, title=title, source_key=key, size_bytes=found.size,
                               source_etag=found.etag, auto_submit=settings.auto_submit)
            stored += store_sidecars(store, settings.videos_root, video_id, sidecars)
    except BaseException:
        if stored:  # the row was not committed: its captions go too (never the source: it is the app's)
            with suppress(VideoctlError):
                store.delete_keys(stored)
        raise
    return video


# ---------------------------------------------------------------- auto-submit


def submit_if_waiting(video: Video, *, videos: VideoRepository, jobs: JobRepository, executor: Executor,
                      settings: Settings) -> tuple[Job | None, str | None]:
    """Submit a video that waits for its auto-submit; (job, None), or (None, why) if it failed.

    A failure is not raised: the video is UPLOADED either way, and it keeps waiting,
    so the next scan pass submits it.
    """
    if video.auto_submit_at is None:
        return None, None
    try:
        plan = plan_submit(video.id, videos=videos, jobs=jobs, max_attempts=settings.max_attempts)
        return create_job_and_submit(plan, jobs=jobs, executor=executor), None
    except VideoctlError as exc:
        log.warning("auto-submit of video %s failed; the next scan pass submits it: %s: %s",
                    video.id, exc.code, exc.message)
        # The job may exist (its first attempt failed to send): scan-stuck sends it then.
        return jobs.active_for_video(video.id), f"{exc.code}: {exc.message}"


@dataclass(slots=True)
class UploadItem:
    """What a scan pass did (or, dry, would do) about one video's upload or auto-submit."""

    video_id: int
    action: Literal["expire", "submit"]
    reason: str
    outcome: str = "planned"  # planned | done | skipped | error
    job_id: int | None = None
    error: str | None = None


def submit_waiting(*, videos: VideoRepository, jobs: JobRepository, executor: Executor, settings: Settings,
                   dry_run: bool, limit: int) -> list[UploadItem]:
    """Submit the videos whose auto-submit has not happened (VIDEOCTL_AUTO_SUBMIT on).

    Only those waiting longer than VIDEOCTL_QUEUED_AFTER_SECONDS, so a submit still on
    its way after its commit is not raced.
    """
    if not settings.auto_submit:
        return []
    items = []
    for video in videos.auto_submit_due(older_than_s=settings.queued_after_s, limit=limit):
        item = UploadItem(video.id, "submit", "UPLOADED and still waiting for its auto-submit")
        items.append(item)
        if dry_run:
            continue
        try:
            plan = plan_submit(video.id, videos=videos, jobs=jobs, max_attempts=settings.max_attempts)
        except InvalidState as exc:  # it has a job already, say: nothing left to wait for
            videos.clear_auto_submit(video.id)
            item.outcome, item.reason = "skipped", f"{item.reason}; {exc.message}"
            continue
        except VideoctlError as exc:
            item.outcome, item.error = "error", f"{exc.code}: {exc.message}"
            continue
        try:
            item.job_id = create_job_and_submit(plan, jobs=jobs, executor=executor).id
            item.outcome = "done"
        except VideoctlError as exc:
            active = jobs.active_for_video(video.id)
            item.job_id = active.id if active else None
            item.outcome, item.error = "error", f"{exc.code}: {exc.message}"
    return items


# ---------------------------------------------------------------- expiry


def expire_uploads(*, videos: VideoRepository, delete_requests: DeleteRequestRepository, store: ObjectStore,
                   settings: Settings, dry_run: bool, limit: int) -> list[UploadItem]:
    """Give up PENDING uploads past VIDEOCTL_UPLOAD_EXPIRY_HOURS.

    For each: the multipart upload is aborted (its parts are billed until then), then,
    in one transaction, the video goes FAILED (``upload_expired``) and the deletion of
    its prefix is recorded, for the delete-r2 path to remove whatever did arrive. An
    abort that fails leaves the video PENDING for the next pass, upload id and all.
    """
    items: list[UploadItem] = []
    if dry_run:
        for video in videos.expired_uploads(limit):
            items.append(UploadItem(video.id, "expire", _expiry_reason(video)))
        return items
    for video in videos.expired_uploads(limit):
        item = UploadItem(video.id, "expire", _expiry_reason(video))
        items.append(item)
        try:
            _abort(store, video)
            with videos.transaction():
                failed = videos.expire_upload(video.id, error_code=uploads.UPLOAD_EXPIRED,
                                              error_message=item.reason)
                if failed is None:  # completed meanwhile
                    item.outcome = "skipped"
                    continue
                delete_requests.add(keys.video_prefix(settings.videos_root, video.id),
                                    f"upload of video {video.id} expired", video.id)
            item.outcome = "done"
        except VideoctlError as exc:
            item.outcome, item.error = "error", f"{exc.code}: {exc.message}"
    return items


def _expiry_reason(video: Video) -> str:
    expired = video.upload_expires_at.isoformat(timespec="seconds") if video.upload_expires_at else "?"
    return f"the upload was not completed before it expired at {expired}"


def _abort(store: ObjectStore, video: Video) -> None:
    if video.upload_id and isinstance(store, PresignedUploads):
        store.abort_multipart(video.source_key, video.upload_id)
