"""Schema migrations as a use case: the commands' way to the migrate module."""

from __future__ import annotations

from videoctl.db import embedded, migrate
from videoctl.db.connection import open_connection, resolve_url
from videoctl.settings import Settings


def migrate_schema(settings: Settings) -> list[migrate.Migration]:
    # Its own connection: AppContext.conn refuses a schema that is behind.
    with open_connection(resolve_url(settings)) as conn:
        return migrate.migrate(conn)


def schema_status(settings: Settings) -> list[migrate.MigrationStatus]:
    with open_connection(resolve_url(settings)) as conn:
        return migrate.status(conn)


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server (it outlives each command); False if none runs."""
    return embedded.stop_server(settings.pgdata)
