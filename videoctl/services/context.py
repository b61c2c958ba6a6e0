"""The collaborators a command hands to a service, built lazily once per process.

Services never build their own connections or clients; they receive them.
This object is how the CLI builds them, and tests can build one around a
test database and moto-backed clients instead.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from videoctl.settings import Settings

if TYPE_CHECKING:
    import psycopg

    from videoctl.aws.clients import AwsClients
    from videoctl.db.repositories import DeleteRequestRepository, JobRepository, VideoRepository
    from videoctl.storage import ObjectStore


class AppContext:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    @cached_property
    def conn(self) -> psycopg.Connection:
        from videoctl.db.connection import connect

        return connect(self.settings)

    @cached_property
    def videos(self) -> VideoRepository:
        from videoctl.db.repositories import VideoRepository

        return VideoRepository(self.conn)

    @cached_property
    def jobs(self) -> JobRepository:
        from videoctl.db.repositories import JobRepository

        return JobRepository(self.conn)

    @cached_property
    def stats(self):
        from videoctl.db.repositories import StatsRepository

        return StatsRepository(self.conn)

    @cached_property
    def delete_requests(self) -> DeleteRequestRepository:
        from videoctl.db.repositories import DeleteRequestRepository

        return DeleteRequestRepository(self.conn)

    @cached_property
    def store(self) -> ObjectStore:
        from videoctl.storage import open_store

        return open_store(self.settings)

    @cached_property
    def aws(self) -> AwsClients:
        from videoctl.aws.clients import AwsClients

        return AwsClients(self.settings)

    @cached_property
    def executor(self):
        from videoctl.executor import open_executor

        return open_executor(self.settings, lambda: self.aws)

    def run_job_deps(self):
        """Everything run-job needs, built from this context."""
        from videoctl.db.connection import connect
        from videoctl.db.repositories import JobRepository
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
            open_jobs=lambda: JobRepository(connect(self.settings, require_schema=False)),
            mirror=mirror,
            after_complete=self._drain_deletions,
        )

    def _drain_deletions(self) -> None:
        from videoctl.services.r2_delete import drain_pending

        drain_pending(self)

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
