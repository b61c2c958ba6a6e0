"""The embedded default database: a pgserver PostgreSQL under the videoctl home.

The server is left running when videoctl exits (cleanup_mode=None), so the
next command, and every local run-job process, reattaches in milliseconds.
pgserver serialises init and start with an inter-process lock, so two
videoctl processes starting at once share one server; creating our database
tolerates losing that race too.

As root, pgserver runs PostgreSQL as a `pgserver` user and, so that user can
reach its files, adds read/execute for group and others to every parent folder
of the data directory and of its own install, at every start. videoctl never
lets it widen a folder that way: a home (or an install) under a folder others
may not enter is refused before pgserver is called.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg import sql

from videoctl.db.reconnect import db_error
from videoctl.domain.errors import ConfigError, DbError

DATABASE = "videoctl"

#: What pgserver adds to every parent folder as root: g+rx,o+rx.
_OPENED = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
#: The longest Unix socket path; a longer one sends pgserver's socket to its runtime folder.
_MAX_SOCKET_PATH = 107


def ensure_server(pgdata: Path) -> str:
    """Start (or reattach to) the embedded server and return our database's URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, cron).
        warnings.simplefilter("ignore")
        import pgserver

        if os.geteuid() == 0:
            refuse_widening(pgdata, install=Path(pgserver.__file__).parent / "pginstall" / "bin",
                            runtime=pgserver.PostgresServer.runtime_path)
        pgdata.parent.mkdir(parents=True, exist_ok=True)

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


def refuse_widening(pgdata: Path, *, install: Path, runtime: Path) -> None:
    """ConfigError if pgserver, as root, would open a folder to other users.

    It would chmod g+rx,o+rx every existing parent of *pgdata* (the folders
    videoctl is about to create are its own), of its *install* folder, and, when
    the data directory's path is too long for a socket, of its *runtime* folder.
    Checked only, never changed: which folders are private is the user's business.
    """
    pgdata = pgdata.expanduser().resolve()  # pgserver resolves it too: the real parents count
    checks = [(pgdata, f"VIDEOCTL_HOME {pgdata.parent}",
               "set VIDEOCTL_HOME to a folder outside private ones (as root the default is /var/lib/videoctl)")]
    checks.append((install, f"videoctl's installation {install}",
                   "install videoctl outside private folders (a virtualenv under /opt, say)"))
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) > _MAX_SOCKET_PATH:
        checks.append((runtime / "socket", f"pgserver's runtime folder {runtime}",
                       "use a shorter VIDEOCTL_HOME, so that the socket stays in the data directory"))
    for path, what, remedy in checks:
        for folder in _existing_parents(path):
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & _OPENED != _OPENED:
                raise ConfigError(
                    f"{what} is inside {folder} (mode {mode:04o}), which the embedded PostgreSQL would open "
                    "to every user: as root, pgserver adds read and execute for group and others to every "
                    "folder above its data directory and its installation",
                    hint=f"{remedy}; or set VIDEOCTL_DATABASE_URL to use another PostgreSQL server",
                )


def _existing_parents(path: Path) -> Iterable[Path]:
    for folder in path.parents:
        if folder.exists():
            yield folder


def _create_database(admin_uri: str) -> None:
    try:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if exists:
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another videoctl process created it a moment ago
    except psycopg.Error as exc:
        # pgserver hands a process the server it started or found before, stopped since or
        # not: a server that went away is a DbError like any other (transient while it is
        # away), never a bare psycopg error that no caller classes.
        raise db_error("connecting to the embedded PostgreSQL", exc) from exc


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
