"""videoctl as a Python library: the same use cases as the CLI, for an app to call.

    from videoctl.api import Client

    with Client() as videoctl:                 # Settings from the environment, like the CLI
        video = videoctl.add_video(Path("lecture.mp4"), title="Lecture 1")
        job = videoctl.submit(video.id)
        print(videoctl.get_video(video.id).status)

Every command of the CLI is a thin layer over one method here. Methods return
declared types (the domain's :class:`~videoctl.domain.models.Video` and
:class:`~videoctl.domain.models.Job`, or a service's result dataclass) and raise
the domain's errors (:mod:`videoctl.domain.errors`), each with a stable ``code``.
A client holds one database connection: use one per thread.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from videoctl.context import AppContext
from videoctl.domain import keys
from videoctl.domain.chunk_progress import ChunkProgress, ChunkView
from videoctl.domain.errors import (
    AwsError,
    ConfigError,
    DbError,
    InvalidInput,
    InvalidState,
    NotFound,
    StorageError,
    VideoctlError,
)
from videoctl.domain.models import DeleteRequest, Event, Job, Video
from videoctl.domain.quality import DEFAULT_SAMPLES, RungQuality
from videoctl.domain.selection import JobFilter
from videoctl.domain.states import JobState, VideoStatus
from videoctl.infra.errors import InfraDrift  # noqa: F401 - for the infra commands; pure, cheap
from videoctl.infra.model import DiffDocument, PlanItem  # noqa: F401 - for the infra commands
from videoctl.infra.model import Status as InfraStatus  # noqa: F401 - for the infra commands
from videoctl.services.jobs import JobView, job_views
from videoctl.services.r2_delete import (
    DrainResult,
    Enqueued,
    PendingRequests,
    Preview,
    discard_request,
    enqueue_delete_r2,
    list_pending,
    preview_delete,
)
from videoctl.settings import Settings

# Only for annotations and in the methods that use them: these modules load the database driver,
# the AWS SDK, PyAV or tenacity, which `videoctl --help` and the commands not using them should not
# wait for (tests/unit/test_cli_startup.py).
if TYPE_CHECKING:
    from videoctl.db.migrate import Migration, MigrationStatus
    from videoctl.domain.playback import Keyring
    from videoctl.infra.service import Outcome as InfraOutcome
    from videoctl.services.demo import DemoResult
    from videoctl.services.events import EventDrainResult, EventPage
    from videoctl.services.playback import CaptionUrls, Playback  # noqa: F401 - named in __all__
    from videoctl.services.reconcile import Findings, ReconcileReport, Scanned  # noqa: F401 - see _LAZY
    from videoctl.services.reconcile import Progress as ReconcileProgress
    from videoctl.services.retention import PruneResult
    from videoctl.services.run_job import Progress, RunResult
    from videoctl.services.scan import LoopSummary, ScanReport
    from videoctl.services.stats import Stats
    from videoctl.services.submit import BulkResult, SubmitPlan
    from videoctl.services.uploads import Upload, Uploaded, UploadPart  # noqa: F401 - named in __all__
    from videoctl.services.videos import Rendition, VideoDeletion, VideoDetail

#: The public surface (docs/api.md): the client, the records it returns and the errors it raises.
__all__ = [
    "AwsError", "CaptionUrls", "ChunkProgress", "ChunkView", "Client", "ConfigError", "DbError", "InvalidInput",
    "InvalidState", "Job", "JobState", "JobView", "NotFound", "Playback", "RungQuality", "Settings", "StorageError",
    "Upload", "UploadPart", "Uploaded", "Video", "VideoStatus",
    "VideoctlError",
]

#: Result types whose modules are costly to import (PyAV, tenacity, the AWS SDK), by the name this
#: module gives them: loaded when first named, so that importing this module (as the CLI does at
#: start-up) stays cheap.
_LAZY = {"Upload": ("videoctl.services.uploads", "Upload"),
         "UploadPart": ("videoctl.services.uploads", "UploadPart"),
         "Uploaded": ("videoctl.services.uploads", "Uploaded"),
         "VideoDetail": ("videoctl.services.videos", "VideoDetail"),
         "ScanReport": ("videoctl.services.scan", "ScanReport"),
         "ReconcileReport": ("videoctl.services.reconcile", "ReconcileReport"),
         "Findings": ("videoctl.services.reconcile", "Findings"),
         "Scanned": ("videoctl.services.reconcile", "Scanned"),
         "InfraOutcome": ("videoctl.infra.service", "Outcome"),
         "Playback": ("videoctl.services.playback", "Playback"),
         "CaptionUrls": ("videoctl.services.playback", "CaptionUrls")}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: What an infra call acts on: everything, the job definition alone, or the delete-r2 Lambda and its queue.
InfraScope = Literal["all", "job_definition", "lambda"]


class Client:
    """One videoctl, configured from *settings* (default: the environment)."""

    def __init__(self, settings: Settings | None = None, *, context: AppContext | None = None) -> None:
        self._ctx = context or AppContext(settings)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._ctx.close()

    @property
    def settings(self) -> Settings:
        return self._ctx.settings

    # ------------------------------------------------------------ videos

    def add_video(self, path: Path, *, title: str | None = None, captions: Mapping[str, Path] | None = None) -> Video:
        """Copy a local file into the store and create the video UPLOADED (submitted at once
        with VIDEOCTL_AUTO_SUBMIT on).

        *captions* maps a language tag (``ko``, ``pt-BR``) to an SRT or WebVTT file, in the order
        players should offer them (the first is the default); every file is checked before
        anything is stored.
        """
        from videoctl.services.videos import add_video

        ctx = self._ctx
        video = add_video(ctx.videos, ctx.store, videos_root=ctx.settings.videos_root, path=path, title=title,
                          captions=captions, auto_submit=ctx.settings.auto_submit)
        return self._submitted_if_waiting(video)

    def register_video(self, key: str, *, title: str | None = None,
                       captions: Mapping[str, Path] | None = None) -> Video:
        """Make an object already in the bucket a video's source, copying nothing: UPLOADED
        (submitted at once with VIDEOCTL_AUTO_SUBMIT on).

        *key* is ``{videos_root}/{id}/source/NAME``; the id in it becomes the video's id.
        NotFound if there is no such object, InvalidInput if it is empty or laid out otherwise;
        *captions* as for :meth:`add_video`.
        """
        from videoctl.services.uploads import register_video

        ctx = self._ctx
        video = register_video(key, title=title, captions=captions, videos=ctx.videos, store=ctx.store,
                               settings=ctx.settings)
        return self._submitted_if_waiting(video)

    def create_upload(self, *, title: str | None = None, size: int | None = None,
                      content_type: str = "video/mp4") -> Upload:
        """A PENDING video and where its file goes: one presigned PUT URL below 100 MiB (or
        when *size* is not given), a multipart upload with a presigned URL per part above, or
        a local path when there is no R2. Send the file, then call :meth:`mark_uploaded`."""
        from videoctl.services.uploads import create_upload

        ctx = self._ctx
        return create_upload(videos=ctx.videos, store=ctx.store, settings=ctx.settings, title=title, size=size,
                             content_type=content_type, now=datetime.now(UTC))

    def mark_uploaded(self, video_id: int, *, etags: Sequence[str] | None = None) -> Uploaded:
        """Complete a direct upload: join the parts (*etags* in part order, or None to take
        the parts the bucket holds), check the object and make the video UPLOADED, then submit
        it with VIDEOCTL_AUTO_SUBMIT on. Calling it again returns the video as it is."""
        from videoctl.services.uploads import finish_upload

        ctx = self._ctx
        return finish_upload(video_id, etags, videos=ctx.videos, jobs=ctx.jobs, executor=ctx.executor,
                             store=ctx.store, settings=ctx.settings)

    def _submitted_if_waiting(self, video: Video) -> Video:
        """Submit a video that waits for its auto-submit; a failure is left to the next scan pass."""
        from videoctl.services.uploads import submit_if_waiting

        ctx = self._ctx
        submit_if_waiting(video, videos=ctx.videos, jobs=ctx.jobs, executor=ctx.executor, settings=ctx.settings)
        return ctx.videos.get(video.id)

    def get_video(self, video_id: int) -> Video:
        return self._ctx.videos.get(video_id)

    def video_detail(self, video_id: int, *, jobs: int = 20) -> VideoDetail:
        """The video with its newest jobs and the quality of its live ladder, as last measured."""
        from videoctl.services.videos import video_detail

        return video_detail(video_id, videos=self._ctx.videos, jobs=self._ctx.jobs, quality=self._ctx.quality,
                            limit=jobs)

    def quality(self, video_id: int, *, sample: int = DEFAULT_SAMPLES, full: bool = False) -> list[RungQuality]:
        """Measure each rung of a READY video's live ladder against its source (VMAF, PSNR-Y), on
        *sample* segments spread over the video or, with *full*, every frame; the results replace
        the ladder's earlier ones and are returned highest rung first. InvalidState if the video
        has no live ladder."""
        from videoctl.media.binary import find_ffmpeg
        from videoctl.services.quality import measure_live_ladder

        ctx = self._ctx
        return measure_live_ladder(video_id, samples=sample, full=full, videos=ctx.videos, quality=ctx.quality,
                                   store=ctx.store, settings=ctx.settings, ffmpeg=find_ffmpeg(ctx.settings.ffmpeg))

    def list_videos(self, *, status: VideoStatus | None = None, limit: int = 50) -> list[Video]:
        """Newest first; DELETED videos only when *status* asks for them."""
        return self._ctx.videos.list(status=status, limit=limit)

    def delete_video(self, video_id: int, *, confirm: bool = False,
                     reason: str = "deleted by operator") -> VideoDeletion:
        """Retire a video: its active job cancelled, DELETED with no ladder, its whole prefix deleted.

        The source is the only copy of the upload: without *confirm* this is refused, saying what would go.
        """
        from videoctl.services.videos import delete_video

        ctx = self._ctx
        deletion = delete_video(video_id, reason, confirm=confirm, videos=ctx.videos, jobs=ctx.jobs,
                                delete_requests=ctx.delete_requests, executor=ctx.executor,
                                videos_root=ctx.settings.videos_root, drain=ctx.drain_deletions)
        if deletion.cancelled_job is not None:
            ctx.send_events()  # job.cancelled
        return deletion

    def playback(self, video_id: int, *, expires_s: float, viewer: str | None = None,
                 base_url: str | None = None) -> Playback:
        """Signed URLs of a READY video's outputs (master, MPD, posters, storyboard, captions, MP4) for
        the app's viewer, good for *expires_s* seconds (at most VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS).

        One token in the path opens this ladder and nothing else; *viewer* (the app's user id) is
        carried in it to trace a leaked link. The URLs are at VIDEOCTL_PLAYBACK_BASE_URL (the edge
        Worker), or *base_url*. InvalidState for a video that is not READY (or is DELETED),
        ConfigError without VIDEOCTL_PLAYBACK_KEYS or a base URL.
        """
        from videoctl.services.playback import playback_urls

        ctx = self._ctx
        return playback_urls(video_id, videos=ctx.videos, settings=ctx.settings, expires_s=expires_s, viewer=viewer,
                             base_url=base_url)

    def playback_keyring(self) -> Keyring:
        """The keys `videoctl serve` verifies playback tokens with under ``/t/``: VIDEOCTL_PLAYBACK_KEYS,
        else the key the embedded default keeps under VIDEOCTL_HOME (made on first use, mode 0600),
        the one :meth:`playback` signs this machine's URLs with. It remembers the tokens it opened:
        keep one for as long as the server runs."""
        from videoctl.services.playback import serve_keyring

        return serve_keyring(self.settings)

    @contextmanager
    def serving(self, url: str) -> Iterator[None]:
        """While the block runs, :meth:`playback` without a base URL (and with a local store) signs
        for *url*: this machine's `videoctl serve`, an ``http://`` loopback address."""
        from videoctl.storage.playback_home import forget_serving, record_serving

        home = self.settings.home
        record_serving(home, url)
        try:
            yield
        finally:
            forget_serving(home, url)

    def url_for(self, key: str) -> str:
        """Where an object of the store can be read (a file path, or an R2 URL)."""
        return self._ctx.store.url_for(key)

    # ------------------------------------------------------------ submitting

    def plan_submit(self, video_id: int, *, force: bool = False, priority: int | None = None) -> SubmitPlan:
        """Check that the video may be submitted; changes nothing (``submit --dry-run``)."""
        from videoctl.services.submit import plan_submit

        ctx = self._ctx
        return plan_submit(video_id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=ctx.settings.max_attempts,
                           force=force, priority=priority)

    def submit(self, video_id: int, *, force: bool = False, priority: int | None = None) -> Job:
        """Create the video's job and start its first attempt on the configured executor."""
        from videoctl.services.submit import create_job_and_submit

        plan = self.plan_submit(video_id, force=force, priority=priority)
        return create_job_and_submit(plan, jobs=self._ctx.jobs, executor=self._ctx.executor)

    def videos_without_job(self, status: VideoStatus, *, limit: int = 1000) -> list[Video]:
        """What :meth:`submit_all` would take."""
        return self._ctx.videos.without_job(status, limit)

    def submit_all(self, status: VideoStatus, *, limit: int = 1000,
                   on_each: Callable[[int, int], None] | None = None) -> BulkResult:
        """Every video in *status* (UPLOADED, or READY to re-encode) without an active job, at the
        configured rate."""
        from videoctl.services.submit import submit_all

        ctx = self._ctx
        return submit_all(status, videos=ctx.videos, jobs=ctx.jobs, executor=ctx.executor,
                          max_attempts=ctx.settings.max_attempts, rate=ctx.settings.submit_rate, limit=limit,
                          on_each=on_each)

    def follow(self, job_id: int, *, on_update: Callable[[Job], None] | None = None,
               poll_s: float = 1.0) -> Job:
        """Wait until the job settles (SUCCEEDED, FAILED, DEAD or CANCELLED) and return it;
        *on_update* sees it at each poll with its ETA or place in line."""
        from videoctl.services.submit import follow_job

        seen = (lambda job: on_update(self._views([job])[0])) if on_update else None
        return follow_job(job_id, jobs=self._ctx.jobs, executor=self._ctx.executor, on_update=seen,
                          poll_s=poll_s)

    # ------------------------------------------------------------ jobs

    def get_job(self, job_id: int) -> JobView:
        """The job, with its ETA when running and its place in line when waiting."""
        return self._views([self._ctx.jobs.get(job_id)])[0]

    def list_jobs(self, *, state: JobState | None = None, video_id: int | None = None,
                  limit: int = 50) -> list[JobView]:
        """Newest first, each with its ETA or place in line."""
        return self._views(self._ctx.jobs.list(state=state, video_id=video_id, limit=limit))

    def _views(self, chosen: list[Job]) -> list[JobView]:
        ctx = self._ctx
        return job_views(chosen, jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor, usage=ctx.usage,
                         prices=ctx.settings.prices, chunks=ctx.chunks)

    def cancel(self, job_id: int, reason: str = "cancelled by operator") -> Job:
        """CANCELLED at once, then the container is stopped."""
        from videoctl.services.submit import cancel_job

        ctx = self._ctx
        try:
            return cancel_job(job_id, reason, jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor)
        finally:
            ctx.send_events()  # job.cancelled, committed before the container is stopped

    def retry(self, job_id: int) -> Job:
        """A DEAD or CANCELLED job gets a new attempt now."""
        from videoctl.services.submit import retry_job

        return retry_job(job_id, jobs=self._ctx.jobs, executor=self._ctx.executor)

    def select_jobs(self, selection: JobFilter, action: Literal["retry", "cancel"], *,
                    limit: int = 1000) -> list[Job]:
        """The jobs a bulk retry or cancel with *selection* would act on; changes nothing."""
        from videoctl.services.submit import CANCELLABLE, RETRYABLE, select_jobs

        allowed = RETRYABLE if action == "retry" else CANCELLABLE
        return select_jobs(selection, allowed, action, jobs=self._ctx.jobs, limit=limit)

    def retry_jobs(self, selection: JobFilter, *, limit: int = 1000,
                   on_each: Callable[[int, int], None] | None = None) -> BulkResult:
        """A new attempt for every DEAD or CANCELLED job *selection* names, at the bulk submit rate."""
        from videoctl.services.submit import retry_jobs

        ctx = self._ctx
        return retry_jobs(selection, jobs=ctx.jobs, executor=ctx.executor, rate=ctx.settings.submit_rate,
                          limit=limit, on_each=on_each)

    def cancel_jobs(self, selection: JobFilter, reason: str = "cancelled by operator", *, limit: int = 1000,
                    on_each: Callable[[int, int], None] | None = None) -> BulkResult:
        """Cancel every active job *selection* names."""
        from videoctl.services.submit import cancel_jobs

        ctx = self._ctx
        try:
            return cancel_jobs(selection, reason, jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor,
                               limit=limit, on_each=on_each)
        finally:
            ctx.send_events()

    def run_job(self, job_id: int, *, progress: Progress | None = None) -> RunResult:
        """What the container runs: the job to its end, here in this process."""
        from videoctl.services.run_job import Runner, run_job

        return run_job(job_id, self._ctx.run_job_deps(), Runner.from_environment(), progress=progress)

    # ------------------------------------------------------------ recovery and numbers

    def scan(self, *, limit: int = 1000, dry_run: bool = False,
             prune: Callable[[], int] | None = None) -> ScanReport:
        """One scan-stuck pass: every maintenance task (stuck jobs, expired uploads and late
        auto-submits, Batch usage, pending prefix deletions, events, and *prune* if given), each
        on its own: one that fails is in the report's ``tasks`` with its error, and the others run."""
        from videoctl.services.scan import scan_and_maintain

        self._ctx.settings  # noqa: B018 - a configuration mistake stops the command before any task
        return scan_and_maintain(self._ctx, limit=limit, dry_run=dry_run, prune=prune)

    def scan_loop(self, interval_s: float, *, limit: int = 1000, dry_run: bool = False,
                  on_pass: Callable[[int, ScanReport], None]) -> LoopSummary:
        """Passes every *interval_s* until SIGTERM or SIGINT, outliving any outage (a failed pass is
        reported and the next comes sooner); with VIDEOCTL_RETENTION_DAYS set, a prune of finished
        jobs older than that is a task of one pass a day."""
        from videoctl.services.retention import DailyPrune
        from videoctl.services.scan import scan_loop

        days = self.settings.retention_days
        daily = DailyPrune(lambda: self.prune_jobs(older_than_s=days * 86_400), clock=time.monotonic) \
            if days and not dry_run else None

        def prune() -> int:
            pruned = daily() if daily else None
            return pruned.jobs if pruned else 0

        return scan_loop(lambda: self.scan(limit=limit, dry_run=dry_run, prune=prune if daily else None),
                         interval_s, on_pass)

    def prune_jobs(self, *, older_than_s: float, dry_run: bool = False) -> PruneResult:
        """Delete finished jobs older than *older_than_s* (keeping each video's last SUCCEEDED one), and
        delivered or discarded events as old."""
        from videoctl.services.retention import prune_jobs

        return prune_jobs(self._ctx.jobs, older_than_s=older_than_s, dry_run=dry_run, events=self._ctx.events)

    def reconcile(self, *, fix: bool = False, older_than_s: float = 86_400, show: int = 20,
                  progress: ReconcileProgress | None = None) -> ReconcileReport:
        """Compare the database, the executor and the store: broken ladders, orphan prefixes (those
        whose newest object is older than *older_than_s* are drift), unowned executor jobs and stuck
        videos, the first *show* of each kind listed; with *fix*, each repaired."""
        from videoctl.services.reconcile import reconcile

        ctx = self._ctx
        return reconcile(videos=ctx.videos, jobs=ctx.jobs, delete_requests=ctx.delete_requests, store=ctx.store,
                         executor=ctx.executor, send=lambda message: ctx.delete_sender(message),
                         settings=ctx.settings, fix=fix, older_than_s=older_than_s, show=show, progress=progress)

    def stats(self, *, hours: int = 24) -> Stats:
        from videoctl.services.stats import collect_stats

        return collect_stats(self._ctx.stats, self._ctx.usage, self._ctx.quality, self.settings.prices, hours=hours)

    def demo(self, file: Path | None = None, *, seconds: float = 4, note: Callable[[str], None] = lambda _: None,
             on_update: Callable[[Job], None] | None = None, serve_port: int = 8080) -> DemoResult:
        """Encode a generated clip (or *file*) end to end in a local process; its signed playback URLs
        point at `videoctl serve` on this machine's *serve_port*."""
        from videoctl.services.demo import run_demo

        ctx = self._ctx
        return run_demo(file, seconds=seconds, settings=ctx.settings, videos=ctx.videos, jobs=ctx.jobs,
                        store=ctx.store, executor=ctx.local_executor, note=note, on_update=on_update,
                        serve_port=serve_port)

    # ------------------------------------------------------------ prefix deletions

    def preview_delete(self, prefix: str, video_id: int | None = None, *, show: int = 20) -> Preview:
        ctx = self._ctx
        return preview_delete(prefix, video_id, settings=ctx.settings, store=ctx.store, videos=ctx.videos,
                              jobs=ctx.jobs, show=show)

    def delete_prefix(self, prefix: str, reason: str, video_id: int | None = None, *,
                      confirm_source: bool = False) -> Enqueued:
        """Delete everything under *prefix*; never what a video that is not DELETED uses (see
        :meth:`delete_video`). A source folder no video row answers for needs *confirm_source*."""
        ctx = self._ctx
        return enqueue_delete_r2(prefix, reason, video_id, settings=ctx.settings, send=ctx.delete_sender,
                                 videos=ctx.videos, jobs=ctx.jobs, confirm_source=confirm_source)

    def video_prefix(self, video_id: int) -> str:
        return keys.video_prefix(self.settings.videos_root, video_id)

    def drain_deletions(self, *, limit: int = 100) -> DrainResult:
        return self._ctx.drain_deletions(limit)

    def pending_deletions(self, *, limit: int = 50) -> PendingRequests:
        return list_pending(self._ctx.delete_requests, limit=limit)

    def discard_deletion(self, request_id: int, reason: str) -> DeleteRequest:
        return discard_request(self._ctx.delete_requests, request_id, reason)

    # ------------------------------------------------------------ events (docs/events.md)

    def list_events(self, *, pending_only: bool = False, video_id: int | None = None, type: str | None = None,
                    limit: int = 50) -> EventPage:
        """Recorded events, newest first, with their delivery: what the app was told, and what waits."""
        from videoctl.services.events import list_events

        return list_events(self._ctx.events, pending_only=pending_only, video_id=video_id, type=type, limit=limit)

    def get_event(self, ref: int | str) -> Event:
        """One event by its number or its UUID."""
        return self._ctx.events.get(ref)

    def drain_events(self, *, limit: int = 500) -> EventDrainResult:
        """Deliver pending events to VIDEOCTL_EVENTS_TARGET, oldest first; ConfigError when none is set
        (the events stay pending)."""
        from videoctl.services.events import no_target_error

        result = self._ctx.drain_events(limit)
        if result.target is None:
            raise no_target_error(result.pending)
        return result

    def discard_event(self, ref: int | str, reason: str) -> Event:
        """Stop trying a pending event no target will ever take; the row stays, with *reason*."""
        from videoctl.services.events import discard_event

        return discard_event(self._ctx.events, ref, reason)

    # ------------------------------------------------------------ infra

    def infra_plan(self, scope: InfraScope = "all") -> InfraOutcome:
        """Compare live AWS with infra/json (documents validated first); changes nothing."""
        from videoctl.infra import service

        return service.Outcome(service.make_plan(self.settings, self._ctx.aws, service.SCOPES[scope]))

    def infra_setup(self, scope: InfraScope = "all", *,
                    waiting: Callable[[str], AbstractContextManager[object]] | None = None) -> InfraOutcome:
        """Make AWS match infra/json: the plan, then its calls; *waiting* wraps each wait for a resource."""
        from videoctl.infra import service

        return service.setup(self.settings, self._ctx.aws, service.SCOPES[scope],
                             **({"waiting": waiting} if waiting else {}))

    # ------------------------------------------------------------ schema

    def migrate(self) -> list[Migration]:
        from videoctl.services.schema import migrate_schema

        return migrate_schema(self.settings)

    def schema_status(self) -> list[MigrationStatus]:
        from videoctl.services.schema import schema_status

        return schema_status(self.settings)

    def stop_embedded_db(self) -> bool:
        from videoctl.services.schema import stop_embedded

        return stop_embedded(self.settings)

    # ------------------------------------------------------------ the web page (videoctl serve)

    def live_jobs(self, *, limit: int = 100) -> list[JobView]:
        """The jobs not finished: RUNNING first, then those waiting in line, then FAILED ones
        scan-stuck has yet to decide; each with its ETA or place in line."""
        order = (JobState.RUNNING, JobState.SUBMITTED, JobState.QUEUED, JobState.RETRY_WAIT, JobState.FAILED)
        chosen = [job for state in order for job in self._ctx.jobs.list(state=state, limit=limit)]
        return self._views(chosen[:limit])

    def describe_ladder(self, video: Video) -> list[Rendition]:
        """The renditions the video's master playlist offers, read back from the store ([] without one)."""
        from videoctl.services.videos import describe_ladder

        return describe_ladder(self._ctx.store, video)

    def open_object(self, key: str) -> BinaryIO:
        """An object of the store opened for reading (close it); NotFound if it does not exist. In a
        local store it is reached without following a link."""
        return self._ctx.store.open_read(key)

    def presigned_url(self, key: str, *, expires_s: int = 300, download_name: str | None = None) -> str | None:
        """A URL a browser may GET *key* at for *expires_s* seconds (R2), or None for a local store,
        whose objects the caller serves from :meth:`open_object`."""
        return self._ctx.store.presign_get(key, expires_s=expires_s, download_name=download_name)
