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

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
