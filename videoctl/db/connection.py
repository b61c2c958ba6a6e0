"""Opening a database connection: the configured URL, else the embedded server."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from videoctl.db import embedded, migrate
from videoctl.db.reconnect import ReconnectingConnection, db_error, is_transient
from videoctl.domain.errors import DbError
from videoctl.domain.secrets import Scrubber, mask_url, secret_forms
from videoctl.settings import Settings


def resolve_url(settings: Settings) -> str:
    return settings.database_url or embedded.ensure_server(settings.pgdata)


#: Timestamps come back in UTC whatever the server's zone: the zone of our logs and --json,
#: and psycopg turns a UTC offset into a datetime faster than a named zone (scan-stuck reads
#: thousands of timestamps a pass). Appended to any options the URL already sets.
_SESSION_OPTIONS = "-c TimeZone=UTC"


def open_connection(url: str) -> psycopg.Connection:
    """Connect to *url*; a DbError never holds its password or psycopg's quote of it.

    libpq quotes the pieces of a URL it cannot use (a bad '%' escape, a "port" that
    is the end of a password holding a '/'), so a malformed URL is reported without
    psycopg's text and without its cause, and any other reason is scrubbed of every
    form of the URL's secrets.
    """
    try:
        options = f"{conninfo_to_dict(url).get('options') or ''} {_SESSION_OPTIONS}".strip()
        return psycopg.connect(
            url, autocommit=True, row_factory=dict_row, connect_timeout=10, application_name="videoctl",
            options=options,
        )
    except psycopg.ProgrammingError:
        raise DbError(f"invalid database URL {mask_url(url)}",
                      hint="expected postgresql://user:password@host:port/database, "
                           "with special characters in the password percent-encoded") from None
    except psycopg.OperationalError as exc:
        scrub = Scrubber(secret_forms(url, url=True))
        # libpq's reason ("…failed: Connection refused") and its hint, on one line.
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        raise DbError(
            f"could not connect to {mask_url(url)}: {scrub(reason)}",
            hint="check VIDEOCTL_DATABASE_URL, or unset it to use the embedded server",
            transient=is_transient(exc),  # refused or starting up: a failover or a restart, maybe
        ) from exc


def connect(settings: Settings, *, require_schema: bool = True) -> ReconnectingConnection:
    """A connection in autocommit mode with dict rows, that can reconnect to the same server.

    The embedded database migrates itself; a configured server is migrated by
    the operator (`videoctl db migrate`), and a schema that is behind is
    refused here rather than failing later on a missing column.
    """
    conn = open_connection(resolve_url(settings))
    try:
        if settings.embedded_db:
            migrate.migrate(conn)
        elif require_schema:
            missing = migrate.pending(conn)
            if missing:
                raise DbError(
                    f"the database schema is behind: {len(missing)} migration(s) pending "
                    f"({', '.join(m.version for m in missing)})",
                    hint="run `videoctl db migrate`",
                )
    except psycopg.Error as exc:
        conn.close()
        raise db_error("checking the database schema", exc) from exc
    except BaseException:
        conn.close()
        raise
    # A reconnection resolves the URL again. pgserver hands a process the embedded server it
    # already knows without starting it again: a reconnection waits for it to be back (started
    # by whoever stopped it, or by the next videoctl command).
    return ReconnectingConnection(lambda: open_connection(resolve_url(settings)), first=conn)
