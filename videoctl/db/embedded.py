"""The embedded default database: a pgserver PostgreSQL under the videoctl home.

The server is left running when videoctl exits (cleanup_mode=None), so the
next command, and every local run-job process, reattaches in milliseconds.
pgserver serialises init and start with an inter-process lock, so two
videoctl processes starting at once share one server; creating our database
tolerates losing that race too.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

from videoctl.domain.errors import DbError

DATABASE = "videoctl"


def ensure_server(pgdata: Path) -> str:
    """Start (or reattach to) the embedded server and return our database's URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, cron).
        warnings.simplefilter("ignore")
        import pgserver

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        try:
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # pgserver raises bare exceptions with the log path
            raise DbError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}",
                hint=f"see {pgdata / 'log'}, or set VIDEOCTL_DATABASE_URL to use another server",
            ) from exc
    _create_database(server.get_uri())
    return server.get_uri(DATABASE)


def _create_database(admin_uri: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # another videoctl process created it a moment ago


def stop_server(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; True if it was running."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    import os

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs it as this user under root
    try:
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except Exception as exc:  # pg_ctl's CalledProcessError: not running, or not ours
        raise DbError(f"could not stop the embedded PostgreSQL in {pgdata}: {exc}") from exc
    return True
