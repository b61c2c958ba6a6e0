"""reconcile: compare the database, the executor and the store; report drift, repair it with --fix.

Four kinds (README, Reconcile):

(a) broken ladder: a READY video whose master, or a playlist or segment the master names,
    is not in the store. --fix resubmits it as a re-encode (its ladder stays live meanwhile).
(b) orphan prefix: a folder under the videos root that nothing owns (domain.reconcile says
    what a folder is and who owns one). --fix sends it to delete-r2 once its newest object is
    older than the grace period; one a pending delete request covers is left to it.
(c) unowned executor job: a container of our queue (RUNNABLE, STARTING, RUNNING) whose name
    is not the current attempt of an active job. --fix terminates it.
(d) stuck video: PROCESSING with no active job. --fix sets it back to UPLOADED.

Memory stays bounded whatever the sizes. The store is listed page by page in key order and
the videos are read in the same order (keyset pages, domain.reconcile.in_key_order); the two
are merged folder by folder, holding one video's ladder keys at a time, plus those of the few
ladders whose playlists are being read in parallel (a GET to R2 takes tens of milliseconds,
so one at a time would take hours over 100 000 videos). The executor's queue and the stuck
videos are read page by page too. A report counts everything and keeps the first items.
"""

from __future__ import annotations

import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Generic, TypedDict, TypeVar

from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput, NotFound, StorageError, VerifyFailed, VideoctlError
from videoctl.domain.executor import Executor
from videoctl.domain.prefixes import batched
from videoctl.domain.ranges import check_duration_s
from videoctl.domain.reconcile import (
    DEFAULT_GRACE_S,
    Outcome,
    VideoRow,
    group_of,
    in_key_order,
    owner_of,
    parse_attempt_job_name,
    resolve,
    unit_of,
    video_of_group,
    why_unowned,
)
from videoctl.domain.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain.states import VideoStatus
from videoctl.media.m3u8 import parse_attributes, parse_master_playlist, parse_media_playlist
from videoctl.services.r2_delete import Sender, enqueue_delete_r2
from videoctl.services.submit import RateLimiter, create_job_and_submit, plan_submit
from videoctl.settings import Settings
from videoctl.storage import ObjectInfo, ObjectStore

#: Ladders whose playlists are read at once.
READERS = 8
#: Rows a page: videos in key order, containers in the queue, stuck videos.
PAGE = 1000
#: A playlist of ours is a few kB; anything this big is not one, and is not read.
MAX_PLAYLIST_BYTES = 4 << 20
#: Why --fix deletes an orphan prefix: travels with the request into delete-r2's logs.
ORPHAN_REASON = "reconcile: no video, ladder or active job owns it"
CANCEL_REASON = "reconcile: not the current attempt of an active job"


# ---------------------------------------------------------------- what a run reports


@dataclass(slots=True)
class BrokenLadder:
    video_id: int
    hls_path: str
    #: Files the master and its playlists name that the store does not hold (the master itself included).
    missing: int
    first_missing: str | None
    reason: str
    outcome: Outcome
    #: The re-encode that repairs it: submitted by --fix, or already active.
    job_id: int | None = None
    error: str | None = None


@dataclass(slots=True)
class OrphanPrefix:
    #: The folder (a loose object: the first of the video's folder's loose objects).
    prefix: str
    #: The video whose folder it lies in, if it lies in one (its row may be gone).
    video_id: int | None
    objects: int
    bytes: int
    #: The newest object's last-modified time: the grace period runs from it.
    newest: datetime | None
    reason: str
    outcome: Outcome
    #: The pending delete request that covers it already.
    request_id: int | None = None
    error: str | None = None


@dataclass(slots=True)
class UnownedJob:
    executor_job_id: str
    name: str
    status: str
    #: The job its name is an attempt of, when it is one of ours.
    job_id: int | None
    reason: str
    outcome: Outcome
    error: str | None = None


@dataclass(slots=True)
class StuckVideo:
    video_id: int
    title: str
    updated_at: datetime
    outcome: Outcome
    error: str | None = None


class Counts(TypedDict):
    found: int
    #: Drift still there after this run: reported, failed and manual.
    remaining: int
    reported: int
    fixed: int
    failed: int
    in_hand: int
    grace: int
    manual: int


T = TypeVar("T", BrokenLadder, OrphanPrefix, UnownedJob, StuckVideo)


@dataclass
class Findings(Generic[T]):
    """One kind's findings: every one counted, the first *show* kept."""

    show: int
    items: list[T] = field(default_factory=list)
    outcomes: Counter[Outcome] = field(default_factory=Counter)

    def add(self, item: T) -> None:
        self.outcomes[item.outcome] += 1
        if len(self.items) < self.show:
            self.items.append(item)

    @property
    def remaining(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome.remains)

    def counts(self) -> Counts:
        return {"found": sum(self.outcomes.values()), "remaining": self.remaining,  # type: ignore[typeddict-item]
                **{outcome.value: self.outcomes[outcome] for outcome in Outcome}}


class BrokenLadders(TypedDict):
    counts: Counts
    items: list[BrokenLadder]


class OrphanPrefixes(TypedDict):
    counts: Counts
    items: list[OrphanPrefix]


class UnownedJobs(TypedDict):
    counts: Counts
    items: list[UnownedJob]


class StuckVideos(TypedDict):
    counts: Counts
    items: list[StuckVideo]


class Scanned(TypedDict):
    videos: int
    objects: int
    bytes: int
    playlists_read: int
    #: Containers listed in the executor's queue; None when it has no queue to list.
    executor_jobs: int | None


class ReconcileDocument(TypedDict):
    """What `reconcile --json` prints (inside the `drift` error when drift remains)."""

    fix: bool
    in_sync: bool
    older_than_s: float
    scanned: Scanned
    #: Why a kind was not compared (the local executor has no queue to list).
    notes: list[str]
    broken_ladders: BrokenLadders
    orphan_prefixes: OrphanPrefixes
    unowned_jobs: UnownedJobs
    stuck_videos: StuckVideos


@dataclass
class ReconcileReport:
    fix: bool
    older_than_s: float
    show: int
    broken: Findings[BrokenLadder] = field(init=False)
    orphans: Findings[OrphanPrefix] = field(init=False)
    unowned: Findings[UnownedJob] = field(init=False)
    stuck: Findings[StuckVideo] = field(init=False)
    scanned: Scanned = field(default_factory=lambda: Scanned(videos=0, objects=0, bytes=0, playlists_read=0,
                                                             executor_jobs=None))
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.broken, self.orphans, self.unowned, self.stuck = (Findings(self.show) for _ in range(4))

    @property
    def remaining(self) -> int:
        return sum(kind.remaining for kind in (self.broken, self.orphans, self.unowned, self.stuck))

    @property
    def in_sync(self) -> bool:
        return self.remaining == 0

    def to_dict(self) -> ReconcileDocument:
        return {"fix": self.fix, "in_sync": self.in_sync, "older_than_s": self.older_than_s,
                "scanned": self.scanned, "notes": self.notes,
                "broken_ladders": {"counts": self.broken.counts(), "items": self.broken.items},
                "orphan_prefixes": {"counts": self.orphans.counts(), "items": self.orphans.items},
                "unowned_jobs": {"counts": self.unowned.counts(), "items": self.unowned.items},
                "stuck_videos": {"counts": self.stuck.counts(), "items": self.stuck.items}}


Progress = Callable[[Scanned], None]


def reconcile(*, videos: VideoRepository, jobs: JobRepository, delete_requests: DeleteRequestRepository,
              store: ObjectStore, executor: Executor, send: Sender, settings: Settings, fix: bool = False,
              older_than_s: float = DEFAULT_GRACE_S, show: int = 20, readers: int = READERS,
              limiter: RateLimiter | None = None, progress: Progress | None = None) -> ReconcileReport:
    """One comparison of the database, the executor and the store; with *fix*, each finding repaired."""
    check_duration_s(older_than_s, "older_than_s")
    report = ReconcileReport(fix=fix, older_than_s=older_than_s, show=show)
    run = _Run(report, videos=videos, jobs=jobs, delete_requests=delete_requests, store=store,
               executor=executor, send=send, settings=settings,
               cutoff=datetime.now(UTC) - timedelta(seconds=older_than_s),
               limiter=limiter or RateLimiter(settings.submit_rate), progress=progress)
    run.store_against_videos(readers)
    run.executor_queue()
    run.stuck_videos()
    return report


# ---------------------------------------------------------------- (a) reading a ladder back


@dataclass(frozen=True)
class LadderCheck:
    """What reading a ladder's playlists found; intact when nothing is missing and no reason is given."""

    missing: int = 0
    first_missing: str | None = None
    named: int = 0
    read: int = 0
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.missing == 0 and self.reason is None


def check_ladder(store: ObjectStore, hls_path: str, listed: dict[str, int] | None, workdir: Path) -> LadderCheck:
    """Read the master and every playlist it names; check each file they name against *listed*
    (key → size under the ladder's prefix; None: list it now). No HEAD per segment."""
    prefix = keys.prefix_of_master(hls_path)
    if listed is None:
        listed = {info.key: info.size for info in store.list_prefix(prefix)}
    reader = _PlaylistReader(store, listed, prefix, workdir)
    if not reader.present(hls_path):
        return LadderCheck(missing=1, first_missing=hls_path, named=1, reason="the master playlist is missing")
    try:
        master = parse_master_playlist(reader.text(hls_path), f"master playlist {hls_path}")
        playlists = [resolve(hls_path, v.uri) for v in master.variants]
        playlists += [resolve(hls_path, m["URI"]) for m in master.media if m.get("URI")]
        playlists += _tag_uris(reader.last_text, hls_path, "#EXT-X-I-FRAME-STREAM-INF:")
        for playlist in dict.fromkeys(p for p in playlists if p):
            if not reader.present(playlist):
                reader.missing(playlist)
                continue
            media = parse_media_playlist(reader.text(playlist), f"media playlist {playlist}")
            named = [resolve(playlist, segment.uri) for segment in media.segments]
            named += _tag_uris(reader.last_text, playlist, "#EXT-X-MAP:")  # CMAF's init segment
            for key in named:
                if key and not reader.present(key):
                    reader.missing(key)
    except VerifyFailed as exc:
        return reader.result(reason=f"a playlist cannot be read: {exc.message}")
    return reader.result()


def _tag_uris(text: str, playlist: str, tag: str) -> list[str]:
    """The URI= of every *tag* line, resolved against *playlist*."""
    found = (resolve(playlist, parse_attributes(line[len(tag):]).get("URI", ""))
             for line in text.splitlines() if line.startswith(tag))
    return [key for key in found if key]


class _PlaylistReader:
    """Reads playlists of one ladder and keeps the tally of what they name."""

    def __init__(self, store: ObjectStore, listed: dict[str, int], prefix: str, workdir: Path) -> None:
        self.store, self.listed, self.prefix, self.workdir = store, listed, prefix, workdir
        self.named = self.read = self.absent = 0
        self.first_absent: str | None = None
        self.last_text = ""

    def present(self, key: str) -> bool:
        self.named += 1
        if key.startswith(self.prefix):
            return key in self.listed
        try:
            return self.store.exists(key)  # named outside the ladder's folder: not in the listing
        except InvalidInput:
            return False  # a name no object can have ('../..' above the root, say)

    def missing(self, key: str) -> None:
        self.absent += 1
        self.first_absent = self.first_absent or key

    def text(self, key: str) -> str:
        if self.listed.get(key, 0) > MAX_PLAYLIST_BYTES:
            raise VerifyFailed(f"{key} is {self.listed[key]} bytes, too big to be a playlist")
        # One file per reading thread, overwritten by each download: creating and unlinking a
        # file per playlist costs more than reading it.
        path = self.workdir / f"playlist-{threading.get_ident()}.m3u8"
        try:
            self.store.download_file(key, path)
        except NotFound:
            raise VerifyFailed(f"{key} is gone") from None  # deleted since it was listed
        self.read += 1
        self.last_text = path.read_text(encoding="utf-8", errors="replace")
        return self.last_text

    def result(self, reason: str | None = None) -> LadderCheck:
        if reason is None and self.absent:
            reason = f"{self.absent} of the {self.named} files its playlists name are missing"
        return LadderCheck(self.absent, self.first_absent, self.named, self.read, reason)


# ---------------------------------------------------------------- the run


@dataclass
class _Unit:
    """Tally of one folder's objects."""

    objects: int = 0
    bytes: int = 0
    newest: datetime | None = None
    first: str | None = None

    def add(self, info: ObjectInfo) -> None:
        self.objects += 1
        self.bytes += info.size
        self.first = self.first or info.key
        if info.modified is not None and (self.newest is None or info.modified > self.newest):
            self.newest = info.modified


class _Group:
    """The keys of one folder right below the root, as they stream past: tallies per unit, and
    the listing of the ladder to check when it lies here."""

    def __init__(self, prefix: str, video_id: int | None, row: VideoRow | None) -> None:
        self.prefix, self.video_id, self.row = prefix, video_id, row
        self.units: dict[str, _Unit] = {}
        self.loose = _Unit()
        self.ladder: str | None = None  # the prefix of the ladder to check: a READY video's
        self.ladder_keys: dict[str, int] | None = None
        if row is not None and row.status == VideoStatus.READY and row.hls_path:
            self.ladder = keys.prefix_of_master(row.hls_path)
            # A ladder outside the video's own folder is listed on its own when it is checked.
            self.ladder_keys = {} if self.ladder.startswith(prefix) else None

    def add(self, info: ObjectInfo) -> None:
        if self.row is None:  # nothing here has an owner: the whole folder is one unit
            self.units.setdefault(self.prefix, _Unit()).add(info)
            return
        unit = unit_of(info.key, self.prefix)
        if unit is None:
            self.loose.add(info)
        else:
            self.units.setdefault(unit, _Unit()).add(info)
        if self.ladder_keys is not None and info.key.startswith(self.ladder):
            self.ladder_keys[info.key] = info.size


class _InOrder:
    """Calls run on a pool; their results handed to *done* in the order they were submitted,
    with at most *window* in flight (and so, in memory)."""

    def __init__(self, pool: ThreadPoolExecutor, window: int, done: Callable[..., None]) -> None:
        self.pool, self.window, self.done = pool, window, done
        self.pending: deque[tuple[Future, tuple]] = deque()

    def submit(self, call: Callable[[], object], *context: object) -> None:
        self.pending.append((self.pool.submit(call), context))
        while len(self.pending) > self.window:
            self._hand_over()

    def drain(self) -> None:
        while self.pending:
            self._hand_over()

    def _hand_over(self) -> None:
        future, context = self.pending.popleft()
        self.done(*context, future.result())


class _VideosInKeyOrder:
    """The videos, handed out as the store's listing reaches their folders."""

    def __init__(self, rows: Iterator[VideoRow], root: str) -> None:
        self.rows, self.root = rows, root
        self.next = next(rows, None)
        self.last_folder = ""

    def folder(self, row: VideoRow) -> str:
        return f"{self.root}{row.id}/"

    def passed(self, folder: str | None) -> Iterator[VideoRow]:
        """The videos whose folders come before *folder* (None: all that are left): the listing
        went past them, so nothing of theirs is stored."""
        if folder is not None:
            if folder < self.last_folder:
                raise StorageError(f"the store listed {folder!r} after {self.last_folder!r}: its keys are not in "
                                   "byte order, so they cannot be matched with the videos")
            self.last_folder = folder
        while self.next is not None and (folder is None or self.folder(self.next) < folder):
            yield self.next
            self.next = next(self.rows, None)

    def take(self, folder: str) -> VideoRow | None:
        """The video whose folder this is, if it has a row."""
        if self.next is None or self.folder(self.next) != folder:
            return None
        row, self.next = self.next, next(self.rows, None)
        return row


class _Run:
    def __init__(self, report: ReconcileReport, *, videos: VideoRepository, jobs: JobRepository,
                 delete_requests: DeleteRequestRepository, store: ObjectStore, executor: Executor, send: Sender,
                 settings: Settings, cutoff: datetime, limiter: RateLimiter, progress: Progress | None) -> None:
        self.report, self.videos, self.jobs, self.delete_requests = report, videos, jobs, delete_requests
        self.store, self.executor, self.send, self.settings = store, executor, send, settings
        self.cutoff, self.limiter, self.progress = cutoff, limiter, progress
        self.root = settings.videos_root.rstrip("/") + "/"

    # ------------------------------------------------------------ (a) and (b): the store

    def store_against_videos(self, readers: int) -> None:
        """Merge the store's listing with the videos, folder by folder, both in byte order."""
        videos = _VideosInKeyOrder(in_key_order(self.videos.for_reconcile, PAGE), self.root)
        group: _Group | None = None
        scanned = self.report.scanned
        if self.settings.scratch_dir is not None:
            self.settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        # Playlists are read through copies in the scratch directory (VIDEOCTL_SCRATCH_DIR).
        with tempfile.TemporaryDirectory(prefix="videoctl-reconcile-", dir=self.settings.scratch_dir) as tmp, \
                ThreadPoolExecutor(readers, thread_name_prefix="reconcile") as pool:
            ladders = _InOrder(pool, 2 * readers, self._ladder_checked)
            finish = partial(self._finish, ladders=ladders, workdir=Path(tmp))
            for info in self.store.list_prefix(self.root):
                scanned["objects"] += 1
                scanned["bytes"] += info.size
                if self.progress and scanned["objects"] % 10_000 == 0:
                    self.progress(scanned)
                if group is not None and info.key.startswith(group.prefix):
                    group.add(info)
                    continue
                if group is not None:
                    finish(group)
                    group = None
                prefix = group_of(info.key, self.root)
                if prefix is None:  # an object right in the root
                    loose = _Unit()
                    loose.add(info)
                    self._orphan(info.key, loose, None, "a loose object in the videos root", folder=False)
                    continue
                video_id, row = video_of_group(prefix, self.root), None
                if video_id is not None:
                    for keyless in videos.passed(prefix):
                        finish(_Group(videos.folder(keyless), keyless.id, keyless))
                    row = videos.take(prefix)
                group = _Group(prefix, video_id, row)
                group.add(info)
            if group is not None:
                finish(group)
            for keyless in videos.passed(None):
                finish(_Group(videos.folder(keyless), keyless.id, keyless))
            ladders.drain()

    def _finish(self, group: _Group, ladders: _InOrder, workdir: Path) -> None:
        """Everything in *group* has been listed: report what nothing owns, and check its ladder."""
        row = group.row
        if row is None:
            reason = "no video has this id" if group.video_id is not None else "not a video's folder"
            self._orphan(group.prefix, group.units[group.prefix], group.video_id, reason)
            return
        self.report.scanned["videos"] += 1
        for unit, tally in group.units.items():
            if owner_of(unit, row, group.prefix) is None:
                self._orphan(unit, tally, row.id, "not the video's ladder or source, nor an attempt of its active job")
        if group.loose.objects:
            self._orphan(group.loose.first or group.prefix, group.loose, row.id,
                         f"{group.loose.objects} loose object(s) in the video's folder, outside any folder "
                         "videoctl writes", folder=False)
        if group.ladder is not None and row.hls_path:
            hls_path, listed = row.hls_path, group.ladder_keys
            ladders.submit(lambda: check_ladder(self.store, hls_path, listed, workdir), row)

    def _ladder_checked(self, row: VideoRow, check: LadderCheck) -> None:
        self.report.scanned["playlists_read"] += check.read
        if check.intact:
            return
        item = BrokenLadder(row.id, row.hls_path or "", check.missing, check.first_missing,
                            check.reason or "broken", Outcome.REPORTED)
        if row.job_id is not None and row.job_reencode:
            item.outcome, item.job_id = Outcome.IN_HAND, row.job_id  # its completion replaces the ladder
        elif self.report.fix and not self._reencode(item):
            return  # its ladder was replaced since it was read: this finding is out of date
        self.report.broken.add(item)

    def _reencode(self, item: BrokenLadder) -> bool:
        self.limiter.wait()
        try:
            plan = plan_submit(item.video_id, videos=self.videos, jobs=self.jobs,
                               max_attempts=self.settings.max_attempts, force=True)
            if plan.video.hls_path != item.hls_path:
                return False
            job = create_job_and_submit(plan, jobs=self.jobs, executor=self.executor)
        except VideoctlError as exc:
            item.outcome, item.error = Outcome.FAILED, f"{exc.code}: {exc.message}"
            return True
        item.outcome, item.job_id = Outcome.FIXED, job.id
        return True

    def _orphan(self, prefix: str, tally: _Unit, video_id: int | None, reason: str, *, folder: bool = True) -> None:
        item = OrphanPrefix(prefix, video_id, tally.objects, tally.bytes, tally.newest, reason, Outcome.REPORTED)
        if not folder:
            item.outcome = Outcome.MANUAL  # delete-r2 deletes prefixes, never one key
        elif tally.newest is None or tally.newest > self.cutoff:
            item.outcome = Outcome.GRACE  # maybe an upload in progress (a store without times: never deleted)
        elif (pending := self.delete_requests.pending_covering(prefix)) is not None:
            item.outcome, item.request_id = Outcome.IN_HAND, pending.id
        elif self.report.fix:
            self._delete(item)
        self.report.orphans.add(item)

    def _delete(self, item: OrphanPrefix) -> None:
        user = self.videos.using_prefix(item.prefix)
        if user is not None:  # written outside its own folder: a shape videoctl never writes
            item.outcome, item.error = Outcome.FAILED, f"video {user}'s source or ladder lies under it; not deleted"
            return
        try:
            # Refuses a live ladder, read afresh. A source folder no video answers for is what
            # an orphan is here, found so and past its grace period: that is the confirmation.
            enqueue_delete_r2(item.prefix, ORPHAN_REASON, None, settings=self.settings, send=self.send,
                              videos=self.videos, confirm_source=True)
        except VideoctlError as exc:
            item.outcome, item.error = Outcome.FAILED, f"{exc.code}: {exc.message}"
            return
        item.outcome = Outcome.FIXED

    # ------------------------------------------------------------ (c) the executor's queue

    def executor_queue(self) -> None:
        listed = self.executor.list_unended()
        if listed is None:
            self.report.notes.append(f"the {self.executor.kind} executor has no queue to list: its containers "
                                     "were not compared (scan-stuck watches each job's own process)")
            return
        self.report.scanned["executor_jobs"] = 0
        seen: set[str] = set()  # a container that moved on (RUNNABLE → RUNNING) while listed is listed twice
        for page in batched(listed, PAGE):
            names = {queued.executor_job_id: parse_attempt_job_name(queued.name) for queued in page}
            attempts = self.jobs.attempts(sorted({name[1] for name in names.values() if name}))
            for queued in page:
                self.report.scanned["executor_jobs"] += 1
                name = names[queued.executor_job_id]
                reason = why_unowned(name, attempts.get(name[1]) if name else None)
                if reason is None or queued.executor_job_id in seen:
                    continue
                seen.add(queued.executor_job_id)
                item = UnownedJob(queued.executor_job_id, queued.name, queued.status, name[1] if name else None,
                                  reason, Outcome.REPORTED)
                if self.report.fix:
                    self._terminate(item)
                self.report.unowned.add(item)

    def _terminate(self, item: UnownedJob) -> None:
        try:
            self.executor.cancel(item.executor_job_id, CANCEL_REASON)
        except VideoctlError as exc:
            item.outcome, item.error = Outcome.FAILED, f"{exc.code}: {exc.message}"
            return
        item.outcome = Outcome.FIXED

    # ------------------------------------------------------------ (d) stuck videos

    def stuck_videos(self) -> None:
        after = 0
        while page := self.videos.processing_without_job(after_id=after, limit=PAGE):
            for video in page:
                item = StuckVideo(video.id, video.title, video.updated_at, Outcome.REPORTED)
                if self.report.fix:
                    if self.videos.set_status(video.id, VideoStatus.UPLOADED) is not None:
                        item.outcome = Outcome.FIXED
                    else:
                        item.outcome, item.error = Outcome.FAILED, "it is no longer PROCESSING"
                self.report.stuck.add(item)
            after = page[-1].id

