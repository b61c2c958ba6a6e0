"""The background heartbeat of a running job: liveness, progress, and the fence.

It writes on its own connection (a psycopg connection is not for two
threads at once), and opens a fresh one at the next beat when the server
dropped it (a failover, a restart): beats resume as soon as the database
is back, and the encode never waits for them. If a write is fenced, the
attempt was taken away from this runner (cancelled, or failed as stale and
resubmitted): the main thread sees it at its next progress report and
stops encoding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from videoctl.domain.errors import DbError, Fenced, InvalidState
from videoctl.domain.eta import eta_s
from videoctl.domain.models import Job
from videoctl.domain.repositories import JobRepository

log = logging.getLogger(__name__)


class ProgressMirror(Protocol):
    """Where progress is mirrored for a web app to read (Redis); optional, and it never raises."""

    def publish(self, *, video_id: int, job_id: int, attempt: int, state: str, progress: int,
                eta_s: float | None = None) -> bool: ...


#: One beat's write: the repository on the heartbeat's own connection, and the progress.
Beat = Callable[[JobRepository, int], object]


class Heartbeat:
    def __init__(self, job: Job, open_jobs: Callable[[], JobRepository], *, interval_s: float,
                 mirror: ProgressMirror | None = None, beat: Beat | None = None) -> None:
        """``beat`` writes something else than the job's own heartbeat (a chunk's), fenced the same way."""
        self.job = job
        self.open_jobs = open_jobs
        self.interval_s = interval_s
        self.mirror = mirror
        self._beat = beat or (lambda jobs, progress: jobs.heartbeat(self.job, progress))
        self.progress = 0
        #: Whether this attempt's own progress rate says when it ends: not for a chunked
        #: attempt's lead once it sent its chunks (they publish the ETA as each succeeds).
        self.eta_from_own_rate = True
        self.fenced: Fenced | None = None
        self._outage = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{job.id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def update(self, percent: float) -> None:
        """Record progress (cheap; written at the next beat) and stop if fenced."""
        self.progress = max(self.progress, min(100, int(percent)))
        self.check()

    def check(self) -> None:
        if self.fenced is not None:
            raise self.fenced

    def _run(self) -> None:
        jobs = self._open()
        try:
            while not self._stop.wait(self.interval_s):
                if jobs is None and (jobs := self._open()) is None:
                    continue
                if not self.beat(jobs):
                    _close(jobs)  # the server dropped the link: a fresh one at the next beat
                    jobs = None
        finally:
            if jobs is not None:
                _close(jobs)

    def _open(self) -> JobRepository | None:
        try:
            jobs = self.open_jobs()
        except DbError as exc:
            # No heartbeat for now: the encode goes on, the next beat tries again, and if
            # the database stays away for long, scan-stuck sees the silence.
            self._failing(f"heartbeat has no database connection: {exc.message}")
            return None
        return jobs

    def beat(self, jobs: JobRepository) -> bool:
        """One heartbeat; False when the connection is lost and must be replaced."""
        try:
            self._beat(jobs, self.progress)
        except InvalidState as exc:  # Fenced, or the job was cancelled under us
            self.fenced = exc if isinstance(exc, Fenced) else Fenced(str(exc))
            self._stop.set()
            return True
        except DbError as exc:
            # A database blip must not kill the encode; if it lasts, scan-stuck
            # sees the stale heartbeat and decides.
            self._failing(exc.message)  # "heartbeat failed: …"
            return not exc.transient
        if self._outage:
            log.info("heartbeat is back")
            self._outage = False
        self.publish("RUNNING")
        return True

    def _failing(self, message: str) -> None:
        """Said once per outage, not at every beat of it."""
        if not self._outage:
            log.warning(message)
            self._outage = True

    def publish(self, state: str) -> None:
        """Mirror progress and the ETA to Redis (the web app's view); never raises."""
        if self.mirror is not None:
            self.mirror.publish(video_id=self.job.video_id, job_id=self.job.id, attempt=self.job.attempt,
                                state=state, progress=self.progress, eta_s=self.eta_s(state))

    def eta_s(self, state: str, now: datetime | None = None) -> float | None:
        """Seconds left by this attempt's own progress rate (``jobs show``'s rule); None until it says."""
        if state != "RUNNING" or not self.eta_from_own_rate:
            return None
        eta = eta_s(self.progress, self.job.started_at, now or datetime.now(UTC), duration_s=None,
                    seconds_per_source_second=None)
        return None if eta is None else round(eta, 1)


def _close(jobs: JobRepository) -> None:
    try:
        jobs.close()
    except Exception:  # what is left of a broken connection: nothing to save
        pass
