"""The composition root: the one place that builds collaborators from Settings.

Connections, repositories, the object store, the AWS clients, the executor, the
delete-request sender and the event sender are built here, lazily and once per process, and
handed to services as arguments; services never build their own. The CLI (through
:mod:`videoctl.api`) and tests build one of these; tests may build it around a
test database and moto-backed clients.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from videoctl.domain.executor import Executor
from videoctl.domain.repositories import (
    ChunkRepository,
    DeleteRequestRepository,
    EventRepository,
    JobRepository,
    QualityRepository,
    StatsRepository,
    UsageRepository,
    VideoRepository,
)
from videoctl.services.r2_delete import DrainResult, Sender, drain_pending, sender_for
from videoctl.settings import Settings

# Only for annotations: these modules (the AWS SDK, the database driver, PyAV, tenacity, the
# store) cost start-up time that `videoctl --help` and a command not using them should not pay.
if TYPE_CHECKING:
    from videoctl.aws.clients import AwsClients
    from videoctl.db.reconnect import ReconnectingConnection
    from videoctl.services.events import EventDrainResult, EventSender
    from videoctl.services.run_job import RunJobDeps
    from videoctl.storage import ObjectStore


class AppContext:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    @cached_property
    def conn(self) -> ReconnectingConnection:
        from videoctl.db.connection import connect

        return connect(self.settings)

    def db_ready(self) -> None:
        """Open the connection again if the server dropped it (a restart, a failover): what a
        long-running process (scan-stuck --loop) does before each piece of work. A DbError,
        transient, while the server is still away."""
        if "conn" in self.__dict__ and self.conn.lost:
            self.conn.reconnect()

    def cancel_statement(self) -> None:
        """Cancel the statement in flight on the connection, from another thread (a watchdog)."""
        if "conn" in self.__dict__ and not self.conn.lost:
            self.conn.cancel_safe(timeout=5)

    @cached_property
    def videos(self) -> VideoRepository:
        from videoctl.db import repositories

        return repositories.VideoRepository(self.conn)

    @cached_property
    def jobs(self) -> JobRepository:
        from videoctl.db import repositories

        return repositories.JobRepository(self.conn)

    @cached_property
    def stats(self) -> StatsRepository:
        from videoctl.db import repositories

        return repositories.StatsRepository(self.conn)

    @cached_property
    def chunks(self) -> ChunkRepository:
        from videoctl.db.repositories import ChunkRepository

        return ChunkRepository(self.conn)

    @cached_property
    def usage(self) -> UsageRepository:
        from videoctl.db import repositories

        return repositories.UsageRepository(self.conn)

    @cached_property
    def quality(self) -> QualityRepository:
        from videoctl.db import repositories

        return repositories.QualityRepository(self.conn)

    @cached_property
    def delete_requests(self) -> DeleteRequestRepository:
        from videoctl.db import repositories

        return repositories.DeleteRequestRepository(self.conn)

    @cached_property
    def store(self) -> ObjectStore:
        from videoctl.storage import open_store

        return open_store(self.settings)

    @cached_property
    def aws(self) -> AwsClients:
        from videoctl.aws.clients import AwsClients

        return AwsClients(self.settings)

    @cached_property
    def executor(self) -> Executor:
        from videoctl.executor import open_executor

        return open_executor(self.settings, lambda: self.aws)

    @cached_property
    def local_executor(self) -> Executor:
        """A local process, whatever executor is configured (what `demo` runs on)."""
        from videoctl.executor.local import LocalExecutor

        return LocalExecutor(self.settings.home / "logs")

    @cached_property
    def delete_sender(self) -> Sender:
        """Hands a prefix deletion to its consumer: the delete-r2 queue, or the local store now."""
        return sender_for(self.settings, store=lambda: self.store, sqs_client=lambda: self.aws.delivery("sqs"))

    def drain_deletions(self, limit: int = 100) -> DrainResult:
        """Send pending prefix deletions with this configuration's sender."""
        return drain_pending(self.delete_requests, self.delete_sender, settings=self.settings,
                             videos=self.videos, jobs=self.jobs, limit=limit)

    @cached_property
    def events(self) -> EventRepository:
        from videoctl.db import repositories

        return repositories.EventRepository(self.conn)

    @cached_property
    def event_sender(self) -> EventSender | None:
        """Sends one event to VIDEOCTL_EVENTS_TARGET; None when no target is configured."""
        target = self.settings.events
        if target is None:
            return None
        if target.kind == "eventbridge":
            from videoctl.aws.events import EventBridgeSender

            return EventBridgeSender(self.aws.delivery("events"), target.value)
        if target.kind == "sns":
            from videoctl.aws.events import SnsSender

            return SnsSender(self.aws.delivery("sns"), target.value)
        from videoctl.notify.webhook import WebhookSender

        return WebhookSender(target.value, self.settings.events_webhook_secret or "",
                             timeout_s=self.settings.delivery_timeout_s)

    def drain_events(self, limit: int = 100) -> EventDrainResult:
        """Deliver pending events with this configuration's sender (with none, only count them)."""
        from videoctl.services.events import drain_events

        return drain_events(self.events, self.event_sender, limit=limit, deadline_s=self.settings.delivery_timeout_s)

    def send_events(self) -> None:
        """After a transition committed: deliver its event now if a target is configured; what
        cannot go now stays pending for the next scan pass (never an error of the command)."""
        if self.settings.events is None:
            return
        from videoctl.services.events import send_after_commit

        send_after_commit(self.drain_events)

    def run_job_deps(self) -> RunJobDeps:
        """Everything run-job needs, built from this context."""
        from videoctl.db import repositories
        from videoctl.db.connection import connect
        from videoctl.db.reconnect import DbSteps
        from videoctl.media.binary import find_ffmpeg
        from videoctl.services.run_job import RunJobDeps

        mirror = None
        if self.settings.redis_url:
            from videoctl.db.progress_mirror import RedisProgressMirror

            mirror = RedisProgressMirror(self.settings.redis_url)
        return RunJobDeps(
            jobs=self.jobs,
            videos=self.videos,
            delete_requests=self.delete_requests,
            store=self.store,
            settings=self.settings,
            ffmpeg=find_ffmpeg(self.settings.ffmpeg),
            open_jobs=lambda: repositories.JobRepository(connect(self.settings, require_schema=False)),
            db_steps=DbSteps(self.conn, self.settings.db_retry_s),
            mirror=mirror,
            after_complete=self.drain_deletions,
            usage=self.usage,
            send_events=self.send_events,
            quality=self.quality,
            chunks=self.chunks,
            chunk_executor=lambda on_batch: self.executor if on_batch else self.local_executor,
            chunks_on=lambda jobs: repositories.ChunkRepository(jobs.conn),
        )

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
