"""Ordered .sql migrations shipped in the package, applied under an advisory lock.

Each file in videoctl/db/migrations is applied once, in name order, in one
transaction together with its schema_migrations row. The transaction-scoped
advisory lock makes a second migrator wait and then find nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files

import psycopg
from psycopg.rows import tuple_row

from videoctl.db.queries import sql

# Any constant unique to videoctl; pg_advisory_xact_lock takes a bigint.
_LOCK_KEY = 0x766964656F63746C  # "videoctl"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationStatus:
    version: str
    name: str
    applied_at: datetime | None


def available() -> list[Migration]:
    found = []
    for entry in files("videoctl.db").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(version, rest, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def _applied(conn: psycopg.Connection) -> dict[str, datetime]:
    cur = conn.cursor(row_factory=tuple_row)
    (exists,) = cur.execute(sql("migrations_table_exists")).fetchone()
    if not exists:
        return {}
    return dict(cur.execute(sql("applied_migrations")).fetchall())


def status(conn: psycopg.Connection) -> list[MigrationStatus]:
    applied = _applied(conn)
    return [MigrationStatus(m.version, m.name, applied.get(m.version)) for m in available()]


def pending(conn: psycopg.Connection) -> list[Migration]:
    applied = _applied(conn)
    return [m for m in available() if m.version not in applied]


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply what is pending; return what this call applied."""
    done: list[Migration] = []
    with conn.transaction():
        conn.execute(sql("migrations_lock"), {"key": _LOCK_KEY})
        conn.execute(sql("create_migrations_table"))
        applied = _applied(conn)
        for migration in available():
            if migration.version in applied:
                continue
            conn.execute(migration.sql)
            conn.execute(sql("record_migration"), {"version": migration.version, "name": migration.name})
            done.append(migration)
    return done

