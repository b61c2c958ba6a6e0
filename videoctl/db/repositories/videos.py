"""The video table."""

from __future__ import annotations

from dataclasses import asdict

from psycopg import errors as pg_errors

from videoctl.db.repositories._base import _all, _known_id, _one, _Repository
from videoctl.db.repositories.events import record_event
from videoctl.domain import events
from videoctl.domain.errors import InvalidState, NotFound
from videoctl.domain.keys import job_of_ladder
from videoctl.domain.models import Job, Video
from videoctl.domain.outputs import Outputs
from videoctl.domain.reconcile import VideoRow
from videoctl.domain.states import VideoStatus, video_already_deleted, video_sources_of


class VideoRepository(_Repository):

    def next_id(self) -> int:
        """The id of a new video: the sequence's next one that no video has (a registered key
        takes its id without moving the sequence; see sql/videos.sql, next_video_id)."""
        return _one(self.conn, "next_video_id", {})["id"]

    def add(self, video_id: int, *, title: str, source_key: str, size_bytes: int | None,
            status: VideoStatus = VideoStatus.UPLOADED, auto_submit: bool = False,
            content_type: str | None = None, upload_id: str | None = None,
            upload_expires_in_s: float | None = None, upload_part_size: int | None = None,
            source_etag: str | None = None) -> Video:
        """A new video; *auto_submit* marks an UPLOADED one as waiting for its job."""
        try:
            row = _one(self.conn, "insert_video", {
                "id": video_id, "title": title, "source_key": source_key, "status": status,
                "size_bytes": size_bytes, "auto_submit": auto_submit, "content_type": content_type,
                "upload_id": upload_id, "expires_in_s": upload_expires_in_s, "upload_part_size": upload_part_size,
                "source_etag": source_etag})
        except pg_errors.UniqueViolation:
            raise InvalidState(f"video {video_id} exists already",
                               hint=f"see it with `videoctl video show {video_id}`") from None
        return Video.from_row(row)

    def mark_uploaded(self, video_id: int, *, size_bytes: int, source_etag: str | None, auto_submit: bool) -> Video:
        """PENDING → UPLOADED with the size and ETag found; InvalidState naming the status otherwise."""
        row = _one(self.conn, "mark_uploaded", {"id": video_id, "size_bytes": size_bytes,
                                                "source_etag": source_etag, "auto_submit": auto_submit})
        if row is None:
            current = self.get(video_id)
            raise InvalidState(f"video {video_id} is {current.status}, not PENDING: its upload is not open",
                               hint="create a new upload with `videoctl upload create`")
        return Video.from_row(row)

    def expired_uploads(self, limit: int) -> list[Video]:
        """PENDING videos past their upload expiry, oldest first."""
        return [Video.from_row(r) for r in _all(self.conn, "expired_uploads", {"limit": limit})]

    def expire_upload(self, video_id: int, *, error_code: str, error_message: str) -> Video | None:
        """PENDING → FAILED with why, and its video.failed event in the same transaction;
        None if it is PENDING no more."""
        with self._atomically():
            row = _one(self.conn, "expire_upload", {"id": video_id, "error_code": error_code,
                                                    "error_message": error_message})
            if row is None:
                return None
            record_event(self.conn, events.video_failed(video_id, error_code=error_code,
                                                         error_message=error_message, job_id=None))
        return Video.from_row(row)

    def auto_submit_due(self, *, older_than_s: float, limit: int) -> list[Video]:
        """UPLOADED videos that have waited longer than *older_than_s* for their auto-submit."""
        return [Video.from_row(r) for r in _all(self.conn, "auto_submit_due",
                                                  {"older_than_s": older_than_s, "limit": limit})]

    def clear_auto_submit(self, video_id: int) -> None:
        _one(self.conn, "clear_auto_submit", {"id": video_id})

    def get(self, video_id: int) -> Video:
        row = _one(self.conn, "get_video", {"id": video_id}) if _known_id(video_id) else None
        if row is None:
            raise NotFound(f"video {video_id} not found", hint="list videos with `videoctl video list`")
        return Video.from_row(row)

    def list(self, *, status: VideoStatus | None = None, limit: int = 50) -> list[Video]:
        rows = _all(self.conn, "list_videos", {"status": status, "limit": limit})
        return [Video.from_row(r) for r in rows]

    def without_job(self, status: VideoStatus, limit: int) -> list[Video]:
        """Videos in *status* with no active job, oldest first: what bulk submit takes."""
        return [Video.from_row(r) for r in _all(self.conn, "videos_without_job", {"status": status, "limit": limit})]

    def set_status(self, video_id: int, target: VideoStatus) -> Video | None:
        """Move the video to *target* if allowed from where it is; None if not.

        READY and FAILED are not for this: :meth:`set_ready` and :meth:`mark_failed`
        record the event the app waits for with them."""
        if target in (VideoStatus.READY, VideoStatus.FAILED):
            raise AssertionError(f"a video becomes {target} through set_ready or mark_failed (they record its event)")
        row = _one(self.conn, "set_video_status",
                   {"id": video_id, "to": target, "from": video_sources_of(target)})
        return Video.from_row(row) if row else None

    def set_media_info(self, video_id: int, *, duration_s: float, width: int, height: int,
                       has_audio: bool, fps: float | None = None) -> Video:
        row = _one(self.conn, "set_video_media_info", {
            "id": video_id, "duration_s": duration_s, "width": width, "height": height,
            "has_audio": has_audio, "fps": fps})
        if row is None:
            raise NotFound(f"video {video_id} not found")
        return Video.from_row(row)

    def mark_deleted(self, video_id: int) -> tuple[Video, VideoStatus]:
        """DELETED with no ladder; returns the video and the status it had. Locks the row."""
        row = _one(self.conn, "mark_video_deleted", {
            "id": video_id, "from": video_sources_of(VideoStatus.DELETED)})
        if row is None:
            self.get(video_id)  # NotFound for an unknown id
            raise video_already_deleted(video_id)
        return Video.from_row(row), VideoStatus(row["previous_status"])

    def set_ready(self, video_id: int, hls_path: str, outputs: Outputs = Outputs(), *,
                  job: Job | None = None) -> tuple[Video, str | None]:
        """READY with the new ladder and its outputs, and its video.ready event; returns the ladder it
        replaced, if any. *job* is the job whose attempt made the ladder (else read from its key)."""
        with self._atomically():
            row = _one(self.conn, "set_video_ready", {
                "id": video_id, "hls_path": hls_path, **asdict(outputs),
                "caption_languages": list(outputs.caption_languages), "from": video_sources_of(VideoStatus.READY)})
            if row is None:
                current = self.get(video_id)
                raise InvalidState(f"video {video_id} is {current.status} and cannot become READY")
            previous = row["previous_hls_path"]
            replaced = previous if previous != hls_path else None
            video = Video.from_row(row)
            record_event(self.conn, events.video_ready(
                video, job_id=job.id if job else job_of_ladder(hls_path), attempt=job.attempt if job else None,
                reencode=job.reencode if job else previous is not None, replaced_hls_path=replaced))
        return video, replaced

    def mark_failed(self, video_id: int, *, error_code: str, error_message: str | None,
                    job_id: int | None = None) -> Video | None:
        """FAILED, if allowed from where the video is, with its video.failed event in the same
        transaction; None if not allowed (a READY video keeps the ladder it has)."""
        with self._atomically():
            row = _one(self.conn, "set_video_status",
                       {"id": video_id, "to": VideoStatus.FAILED, "from": video_sources_of(VideoStatus.FAILED)})
            if row is None:
                return None
            record_event(self.conn, events.video_failed(video_id, error_code=error_code,
                                                         error_message=error_message, job_id=job_id))
        return Video.from_row(row)

    def for_reconcile(self, after_id: int, last_id: int, limit: int) -> list[VideoRow]:
        """Videos with after_id < id <= last_id in id order, with their active job (reconcile)."""
        return [VideoRow(**r) for r in _all(self.conn, "reconcile_videos",
                                              {"after_id": after_id, "last_id": last_id, "limit": limit})]

    def processing_without_job(self, *, after_id: int, limit: int) -> list[Video]:
        """Videos left PROCESSING with no active job, in id order after *after_id*."""
        return [Video.from_row(r) for r in _all(self.conn, "processing_without_job",
                                                  {"after_id": after_id, "limit": limit})]

    def using_prefix(self, prefix: str) -> int | None:
        """The id of a video whose source or ladder lies under *prefix*, if any."""
        row = _one(self.conn, "video_using_prefix", {"prefix": prefix})
        return row["id"] if row else None
