"""Adding, reading and deleting videos."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from videoctl.domain import keys
from videoctl.domain.errors import InvalidState, VideoctlError
from videoctl.domain.executor import Executor
from videoctl.domain.models import DeleteRequest, Job, Video
from videoctl.domain.outputs import SUBTITLES
from videoctl.domain.quality import QualityFailure, RungQuality
from videoctl.domain.repositories import DeleteRequestRepository, JobRepository, QualityRepository, VideoRepository
from videoctl.domain.states import VideoStatus, video_already_deleted
from videoctl.domain.text import check_reason, check_title, title_from_filename
from videoctl.services.captions import read_sidecars, store_sidecars
from videoctl.services.quality import ladder_quality
from videoctl.services.r2_delete import DrainResult
from videoctl.services.submit import cancel_rows, stop_container
from videoctl.storage import ObjectStore
from videoctl.storage.source import SourceFile, open_source

if TYPE_CHECKING:
    from videoctl.media.probe import SourceInfo

log = logging.getLogger(__name__)


def add_video(videos: VideoRepository, store: ObjectStore, *, videos_root: str, path: Path,
              title: str | None = None, captions: Mapping[str, Path] | None = None,
              auto_submit: bool = False) -> Video:
    """Store the file under the video's source prefix and create the video UPLOADED.

    The file must be a regular file of the user's (videoctl.storage.source says
    exactly what that means); what is copied is the descriptor that was checked.
    Insert and upload share one transaction: if the upload fails (a full disk,
    say) or the process dies, the row is never committed, so no video points at
    a source that is not there; an upload the commit did not follow is removed.
    Caption files (language → SRT or WebVTT file) are all checked first and
    stored as WebVTT in the same transaction. *auto_submit* marks the video as waiting
    for its job (services/uploads.py submits it). A file name that cannot name a source
    (keys.source_name_problem) is refused before anything is opened.
    """
    keys.check_source_name(path.name or str(path))  # Path(".").name is ""
    title = check_title(title) if title is not None else title_from_filename(path.stem)
    sidecars = read_sidecars(captions or {})
    with open_source(path) as source:
        info = _probe_checked(source)
        stored: list[str] = []
        try:
            with videos.transaction():
                video_id = videos.next_id()
                key = keys.source_key(videos_root, video_id, path.name)
                video = videos.add(video_id, title=title, source_key=key, size_bytes=source.size,
                                   auto_submit=auto_submit)
                if info is not None:
                    video = videos.set_media_info(video_id, duration_s=info.duration_s, width=info.width,
                                                  height=info.height, has_audio=info.has_audio, fps=info.fps)
                store.upload_fileobj(source.file, key)
                stored.append(key)
                stored += store_sidecars(store, videos_root, video_id, sidecars)
        except BaseException:
            if stored:
                with suppress(VideoctlError):
                    store.delete_keys(stored)
            raise
    return video


def _probe_checked(source: SourceFile) -> SourceInfo | None:
    """The file's probe facts while it is here, so that its first encode's container is sized to
    it (domain/sizing.py); read through the descriptor that was checked (Linux names it
    /proc/self/fd/N), never the path again. None when it cannot be probed: whether the file is a
    video the encode's own probe gate decides, and until then its container keeps the job
    definition's size."""
    from videoctl.media.probe import probe  # PyAV: only `video add` pays for loading it

    try:
        return probe(Path(f"/proc/self/fd/{source.file.fileno()}"))
    except Exception as exc:  # noqa: BLE001 - only the container's size depends on it
        log.info("source not probed at registration: %s", getattr(exc, "message", None) or exc)
        return None


@dataclass(frozen=True)
class VideoDeletion:
    """What `video delete` did."""

    #: The video, now DELETED (no hls_path).
    video: Video
    previous_status: VideoStatus
    #: Its active job, now CANCELLED (its container stopped), if it had one.
    cancelled_job: Job | None
    #: The deletion of the video's whole prefix, recorded in the same transaction.
    request: DeleteRequest
    #: Whether the deletion has gone to delete-r2 already (locally: the objects are gone);
    #: if not, it is pending and the next `r2 drain` or scan-stuck pass sends it.
    sent: bool
    #: Why it is still pending, if it is.
    pending_reason: str | None


def delete_video(video_id: int, reason: str, *, confirm: bool, videos: VideoRepository, jobs: JobRepository,
                 delete_requests: DeleteRequestRepository, executor: Executor, videos_root: str,
                 drain: Callable[[], DrainResult]) -> VideoDeletion:
    """Retire a video: cancel its active job, DELETED with no ladder, and its prefix deleted.

    One transaction marks the video DELETED (its row lock keeps a job from
    being created or requeued meanwhile), cancels its active job and records
    the deletion of ``{root}/{id}/``; after the commit the job's container is
    stopped and the deletion sent, like every recorded deletion. The source is
    the only copy of the upload, so nothing happens without *confirm*.
    """
    check_reason(reason)
    video = videos.get(video_id)
    if video.status is VideoStatus.DELETED:
        raise video_already_deleted(video_id)
    if not confirm:
        active = jobs.active_for_video(video_id)
        serves = f" and the ladder it serves ({keys.prefix_of_master(video.hls_path)})" if video.hls_path else ""
        cancels = f"; its job {active.id} ({active.state}) would be cancelled" if active else ""
        raise InvalidState(f"deleting video {video.id} ({video.status}) removes its source {video.source_key!r}, "
                           f"the only copy of the upload{serves}{cancels}",
                           hint=f"pass --yes: `videoctl video delete {video.id} --yes`")
    prefix = keys.video_prefix(videos_root, video_id)
    with videos.transaction():
        deleted, previous = videos.mark_deleted(video_id)
        active = jobs.active_for_video(video_id)  # read after the row lock: none can appear now
        cancelled = cancel_rows(active.id, f"video {video_id} deleted: {reason}", jobs=jobs,
                                videos=videos) if active else None
        request = delete_requests.add(prefix, reason, video_id)
    if cancelled is not None:
        try:
            stop_container(cancelled, reason, executor, jobs.chunk_executor_ids(cancelled))
        except VideoctlError as exc:
            raise type(exc)(
                f"video {video_id} is DELETED and job {cancelled.id} CANCELLED, but its container "
                f"{cancelled.executor_job_id} could not be stopped: {exc.message}",
                hint="the job is fenced: the container stops at its next progress report; the prefix deletion "
                     "is sent by the next scan-stuck pass or `videoctl r2 drain`") from exc
    failure = next((f for f in drain().failures if f.request_id == request.id), None)
    request = delete_requests.get(request.id)
    pending_reason = None
    if request.sent_at is None:
        pending_reason = (f"{failure.error.code}: {failure.error.message}" if failure
                          else "other deletions were sent first")
    return VideoDeletion(deleted, previous, cancelled, request, request.sent_at is not None, pending_reason)


@dataclass(frozen=True)
class VideoDetail(Video):
    """A video with its newest jobs and the quality of its live ladder (what `video show` prints)."""

    jobs: list[Job] = field(default_factory=list)
    #: Each rung of the live ladder scored against the source, highest first (`videoctl quality`).
    quality: list[RungQuality] = field(default_factory=list)
    #: Why the live ladder's measurement inside run-job failed, if it did.
    quality_error: QualityFailure | None = None


def video_detail(video_id: int, *, videos: VideoRepository, jobs: JobRepository, quality: QualityRepository,
                 limit: int = 20) -> VideoDetail:
    video = videos.get(video_id)
    own = {f.name: getattr(video, f.name) for f in fields(Video)}
    rungs, failure = ladder_quality(quality, video.hls_path)
    return VideoDetail(**own, jobs=jobs.list(video_id=video_id, limit=limit), quality=rungs, quality_error=failure)


class Rendition(TypedDict):
    """One variant of a master playlist, as `demo` shows it."""

    name: str
    resolution: str
    bandwidth: str
    codecs: str
    frame_rate: str
    uri: str


def describe_ladder(store: ObjectStore, video: Video) -> list[Rendition]:
    """The renditions a READY video's master playlist offers, read back from the store."""
    from videoctl.media.m3u8 import parse_master_playlist

    if not video.hls_path:
        return []
    with tempfile.TemporaryDirectory(prefix="videoctl-master-") as tmp:
        local = Path(tmp) / "master.m3u8"
        store.download_file(video.hls_path, local)
        master = parse_master_playlist(local.read_text(encoding="utf-8"))
    return [
        {"name": v.uri.split("/")[0], "resolution": v.attributes.get("RESOLUTION", ""),
         "bandwidth": v.attributes.get("BANDWIDTH", ""), "codecs": v.attributes.get("CODECS", ""),
         "frame_rate": v.attributes.get("FRAME-RATE", ""), "uri": v.uri}
        for v in master.variants
    ]


def output_urls(store: ObjectStore, video: Video) -> dict[str, str]:
    """Where each of a READY video's outputs beside its master can be read, by a short name."""
    found = {"poster": video.poster_path, "poster 320 px": video.poster_small_path,
             "storyboard": video.storyboard_path, "mp4": video.download_path, "mpd": video.mpd_path}
    urls = {name: store.url_for(key) for name, key in found.items() if key}
    if video.hls_path:
        prefix = keys.prefix_of_master(video.hls_path)
        for language in video.caption_languages:
            urls[f"captions ({language})"] = store.url_for(f"{prefix}{SUBTITLES}{language}.m3u8")
    return urls
