"""Holding a run-job at a chosen phase from outside, so a fault lands there every time.

Each gate is something the kernel or PostgreSQL does anyway, observed from outside;
nothing in videoctl knows about them:

- :class:`FileLease`: a write lease (``fcntl F_SETLEASE``) on a file. The next
  process to open it blocks in ``open()`` until the lease is released, and the lease
  holder sees that it tried (the lease turns to "breaking"). On the stored source it
  holds run-job in its download; on a segment it holds run-job in its upload.
- :class:`RowLock`: ``SELECT … FOR UPDATE`` on the job's row. run-job's completion
  waits for it, visible in ``pg_stat_activity``: held in "before complete".
- ``SIGSTOP`` of the encoding ffmpeg holds run-job in its encode.
"""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import psycopg

# fcntl(2) lease commands (Linux; Python names them only from 3.13 on).
F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
F_GETLEASE = getattr(fcntl, "F_GETLEASE", 1025)


class FileLease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._sigio = None

    def __enter__(self) -> FileLease:
        # The kernel tells a lease holder about an opener with SIGIO, whose default is to exit.
        self._sigio = signal.signal(signal.SIGIO, signal.SIG_IGN)
        self._fd = os.open(self.path, os.O_RDONLY)
        fcntl.fcntl(self._fd, F_SETLEASE, fcntl.F_WRLCK)  # EAGAIN while anyone else has it open
        return self

    @property
    def opener_waiting(self) -> bool:
        return fcntl.fcntl(self._fd, F_GETLEASE) != fcntl.F_WRLCK

    def __exit__(self, *exc: object) -> None:
        fcntl.fcntl(self._fd, F_SETLEASE, fcntl.F_UNLCK)
        os.close(self._fd)
        signal.signal(signal.SIGIO, self._sigio)


class RowLock:
    """The job's row locked by another transaction: run-job's writes to it wait."""

    def __init__(self, db_url: str, job_id: int) -> None:
        self.conn = psycopg.connect(db_url)
        self.conn.execute("SELECT id FROM video_transcode_job WHERE id = %s FOR UPDATE", (job_id,))
        # Activity is read outside the lock's transaction, whose view of it would stay as first read.
        self.watch = psycopg.connect(db_url, autocommit=True)

    def completion_waiting(self) -> bool:
        row = self.watch.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s", ("%SET state = 'SUCCEEDED'%",)).fetchone()
        return row[0] > 0

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()
        self.watch.close()
