"""What every repository shares: running a named query, the ids a query may name, a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from videoctl.db.queries import sql
from videoctl.db.reconnect import db_error
from videoctl.domain.ranges import MAX_ID


def _one(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return conn.execute(sql(name), params).fetchone()
    except psycopg.errors.UniqueViolation:
        raise
    except psycopg.Error as exc:
        raise db_error(name, exc) from exc


def _bigint_array_text(ids: list[int]) -> str:
    """A bigint[] parameter in its text form: one string to send instead of a list that
    psycopg dumps element by element (hundreds of ids in a scan pass). Still a bound
    parameter; int() refuses anything but integers."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


#: The id columns are bigint: an id outside this range names no row (and would make
#: PostgreSQL refuse the query instead of answering "none").
_ID_RANGE = range(1, MAX_ID + 1)


def _known_id(value: int | None) -> bool:
    return value is None or value in _ID_RANGE


def _all(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return conn.execute(sql(name), params).fetchall()
    except psycopg.Error as exc:
        raise db_error(name, exc) from exc


class _Repository:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Transaction]:
        """Group several changes; they commit together or not at all.

        A BEGIN, COMMIT or ROLLBACK that fails (the server went away) is a DbError
        like any statement's: transient, and of unknown outcome if the link broke.
        """
        try:
            with self.conn.transaction() as transaction:
                yield transaction
        except psycopg.Error as exc:
            raise db_error("transaction", exc) from exc

    @contextmanager
    def _atomically(self) -> Iterator[None]:
        """One transaction for a transition and its event: the caller's if one is open
        (no savepoint: it commits or rolls back whole anyway), else a new one."""
        if self.conn.info.transaction_status is TransactionStatus.IDLE:
            with self.transaction():
                yield
        else:
            yield
