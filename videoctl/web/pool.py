"""api.Clients shared by the server's worker threads, each used by one request at a time.

A Client holds one psycopg connection, which must not be used by two threads at once, and
Starlette runs each page in a thread of its pool. So a request borrows a Client and gives it
back; at most ``size`` exist, and a request that finds none free within ``wait_s`` is
answered 503 (busy) rather than queued without bound. A Client whose request failed on the
database is closed instead of given back: its connection may be broken, and the next request
builds a fresh one, so the pages come back by themselves when the database does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from videoctl.api import Client
from videoctl.domain.errors import DbError, VideoctlError


class Busy(Exception):
    """Every Client was in use for the whole wait."""


class ClientPool:
    def __init__(self, make: Callable[[], Client], *, size: int = 8, wait_s: float = 10.0) -> None:
        self._make = make
        self._idle: list[Client] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._wait_s = wait_s
        self.size = size

    @contextmanager
    def client(self) -> Iterator[Client]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise Busy(f"all {self.size} database sessions stayed busy for {self._wait_s:g} s")
        try:
            with self._lock:
                borrowed = self._idle.pop() if self._idle else None
            borrowed = borrowed or self._make()
            try:
                yield borrowed
            except BaseException as exc:
                # A domain answer (not found, say) leaves the connection as it was; a database
                # error or a failure midway (a transaction left open?) may not.
                if isinstance(exc, VideoctlError) and not isinstance(exc, DbError):
                    self._give_back(borrowed)
                else:
                    _close(borrowed)
                raise
            else:
                self._give_back(borrowed)
        finally:
            self._slots.release()

    def _give_back(self, client: Client) -> None:
        with self._lock:
            self._idle.append(client)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            _close(client)


def _close(client: Client) -> None:
    with suppress(Exception):
        client.close()
