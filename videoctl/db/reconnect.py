"""Surviving a database that goes away for a while: failover, restart, a dropped connection.

An RDS Multi-AZ failover takes one to two minutes; a restarted server a few seconds.
Either breaks every open connection. A long job (run-job: minutes of encoding between
its first and last write) waits for the server instead of failing:

- :func:`db_error` turns a psycopg error into a :class:`DbError` that says whether
  trying again can help (``transient``: the connection was lost, the server is shutting
  down or starting up, a serialization failure) and whether a write may have
  committed without its reply arriving (``outcome_unknown``: the connection was lost
  mid-statement or mid-commit);
- :class:`ReconnectingConnection` is a psycopg connection whose broken link can be
  replaced by a fresh one;
- :class:`DbSteps` runs one database step, and again on a fresh connection with
  jittered exponential backoff while the errors are transient, for up to a window
  (``VIDEOCTL_DB_RETRY_SECONDS``, 3 minutes by default).

What may be retried, and why it is safe. A step is retried whole: a read, one
autocommit statement, or a whole transaction (a transaction whose connection breaks is
rolled back by the server, unless the break came after COMMIT reached it). The only
doubt is a write whose commit outcome is unknown. Every write run-job makes is a
guarded UPDATE fenced on job id + attempt + runner, and the runner id is unique to the
process, so a replay of a write that did commit is refused (it matches no row), and
the row then says whether the first try went through: RUNNING with our runner on our
attempt after a claim, SUCCEEDED after a completion, FAILED with our error code after
a failure. run-job checks exactly that before it believes a refusal (``_replayed`` in
services/run_job.py). The heartbeat's UPDATE is idempotent (a timestamp and the
highest progress). Inserts with a generated id (submit's job row) are not retried
here: their callers are short commands an operator or scan-stuck runs again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from videoctl.domain.errors import DbError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: SQLSTATE classes of a connection that is gone or going: connection exception (08),
#: operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up).
_LOST = ("08", "57P")
#: The server refused, but the same statement may succeed in a moment: transaction
#: rollback (40: serialization failure, deadlock) and insufficient resources (53: too many
#: connections, out of memory or disk).
_BUSY = ("40", "53")


def connection_lost(exc: psycopg.Error) -> bool:
    """The link to the server broke: no answer at all (refused, reset, timed out) or a shutdown."""
    return isinstance(exc, psycopg.OperationalError) and (exc.sqlstate is None or exc.sqlstate.startswith(_LOST))


def is_transient(exc: psycopg.Error) -> bool:
    return connection_lost(exc) or (exc.sqlstate or "").startswith(_BUSY)


def db_error(what: str, exc: psycopg.Error) -> DbError:
    """*what* failed, as a DbError that says whether to try again and whether it may have happened."""
    lost = connection_lost(exc)
    return DbError(f"{what} failed: {exc}", transient=lost or is_transient(exc), outcome_unknown=lost)


class ReconnectingConnection:
    """A psycopg connection (every attribute is the current connection's) that can be replaced.

    Repositories share one of these; after the server dropped the link,
    :meth:`reconnect` gives them all a fresh connection at once.
    """

    def __init__(self, opener: Callable[[], psycopg.Connection], first: psycopg.Connection | None = None) -> None:
        self._open = opener
        self._conn = first if first is not None else opener()

    @property
    def lost(self) -> bool:
        return self._conn.closed or self._conn.broken

    def reconnect(self) -> None:
        """Close what is left of the current connection and open a new one; DbError, always
        transient, while the server is still away.

        This server answered before, so whatever stops a new connection now is the outage
        itself (refused, no socket yet, starting up, the embedded server not back): each is
        worth waiting for within the reconnect window, however the opener classed it.
        """
        try:
            self._conn.close()
        except psycopg.Error:
            pass
        try:
            self._conn = self._open()
        except DbError as exc:
            exc.transient = True
            raise
        except psycopg.Error as exc:
            lost = db_error("reconnecting to the database", exc)
            lost.transient = True
            raise lost from exc

    def __getattr__(self, name: str) -> Any:
        if name == "_conn":  # not set yet: the first connection failed
            raise AttributeError(name)
        return getattr(self._conn, name)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, DbError) and exc.transient


class DbSteps:
    """Runs a long job's database steps; each again, on a fresh connection, while the server is away."""

    def __init__(self, conn: ReconnectingConnection, window_s: float, *,
                 sleep: Callable[[float], None] = time.sleep, max_wait_s: float = 5.0) -> None:
        self.conn = conn
        self.window_s = window_s
        self.sleep = sleep
        self.max_wait_s = max_wait_s

    def __call__(self, what: str, step: Callable[[], T]) -> T:
        """``step()``; a transient DbError is retried (after reconnecting) until the window ends,
        then raised as it came. *what* names the step in the log."""

        def attempt() -> T:
            if self.conn.lost:
                self.conn.reconnect()
            return step()

        def note(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning("database unavailable (%s); retrying %s in %.1fs, for up to %.0fs in all",
                        getattr(error, "message", error), what, state.upcoming_sleep, self.window_s)

        retrying = Retrying(retry=retry_if_exception(_transient), stop=stop_after_delay(self.window_s),
                            wait=wait_random_exponential(multiplier=0.2, max=self.max_wait_s), sleep=self.sleep,
                            before_sleep=note, reraise=True)
        return retrying(attempt)
