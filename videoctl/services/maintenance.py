"""scan-stuck's maintenance tasks, each on its own (after River's maintenance services).

A pass is a list of tasks: stuck jobs, expired uploads, usage, prefix deletions, events,
the daily prune. Each task owns its run, its timeout and its failure: one that fails is
logged with its error and reported, and the next one runs all the same, so a database
restart or a receiver that is down costs that pass's work, never the loop (which tries
again sooner, backing off up to its interval: services/scan.py ``scan_loop``). Only a
configuration mistake (``config_error``) stops the command, as it would at start.

Before each task the connection is made ready (a link the server dropped is opened again),
and while it runs a watchdog waits for its timeout: past it, the statement in flight is
cancelled on the server, so a task stuck on a lock or a hung server ends as a failure
instead of holding every later task and pass. Remote calls end on their own deadline
(``VIDEOCTL_DELIVERY_TIMEOUT_SECONDS`` for deliveries, botocore's timeouts for AWS).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypedDict, TypeVar

from videoctl.domain.errors import ConfigError, VideoctlError

log = logging.getLogger(__name__)

R = TypeVar("R")

TaskStatus = Literal["done", "failed"]


class TaskErrorDocument(TypedDict):
    code: str
    message: str
    hint: str | None


class TaskDocument(TypedDict):
    """One task of a pass, in `scan-stuck --json`'s ``tasks``."""

    name: str
    status: TaskStatus
    seconds: float
    #: Why it failed; null when it was done.
    error: TaskErrorDocument | None


@dataclass(frozen=True)
class TaskOutcome:
    name: str
    status: TaskStatus
    seconds: float
    error: VideoctlError | None = None

    def to_dict(self) -> TaskDocument:
        error: TaskErrorDocument | None = None
        if self.error is not None:
            error = {"code": self.error.code, "message": self.error.message, "hint": self.error.hint}
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3), "error": error}


@dataclass(frozen=True)
class MaintenanceTask(Generic[R]):
    """One piece of a pass: *run* does its work and writes what it did into the pass's report."""

    name: str
    run: Callable[[R], None]
    #: How long its database work may take before the statement in flight is cancelled.
    timeout_s: float


class _Watchdog:
    """Calls *cancel* once *timeout_s* has passed, unless the task ended first. The lock makes
    sure a cancel never lands after the task ended (on the next task's statement)."""

    def __init__(self, timeout_s: float, cancel: Callable[[], None] | None) -> None:
        self._cancel = cancel
        self._lock = threading.Lock()
        self._running = True
        self.fired = False
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:
            if not self._running or self._cancel is None:
                return
            self.fired = True
            try:
                self._cancel()
            except Exception as exc:  # noqa: BLE001 - a connection already gone has nothing to cancel
                log.debug("could not cancel the statement in flight: %s", exc)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running = False
        self._timer.cancel()


def as_error(exc: Exception) -> VideoctlError:
    return exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")


def run_task(task: MaintenanceTask[R], report: R, *, prepare: Callable[[], None] = lambda: None,
             cancel: Callable[[], None] | None = None, clock: Callable[[], float] = time.monotonic) -> TaskOutcome:
    """Run one task; whatever it raises is its own failure, logged and returned, never raised."""
    started = clock()
    watchdog = _Watchdog(task.timeout_s, cancel)
    try:
        with watchdog:
            prepare()
            task.run(report)
    except ConfigError:
        raise  # a configuration mistake (a client that cannot be built) stops the command: a human must fix it
    except Exception as exc:  # noqa: BLE001 - one task's failure must not stop the others
        error = as_error(exc)
        if watchdog.fired:
            error.message += f" (its {task.timeout_s:.0f}s timeout was reached)"
        log.warning("scan-stuck: %s failed: %s: %s", task.name, error.code, error.message)
        return TaskOutcome(task.name, "failed", clock() - started, error)
    return TaskOutcome(task.name, "done", clock() - started)


def run_tasks(tasks: list[MaintenanceTask[R]], report: R, *, prepare: Callable[[], None] = lambda: None,
              cancel: Callable[[], None] | None = None) -> list[TaskOutcome]:
    """Every task in turn, each on its own: what one fails never stops the next."""
    return [run_task(task, report, prepare=prepare, cancel=cancel) for task in tasks]
