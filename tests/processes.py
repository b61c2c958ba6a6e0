"""Watching real processes from outside, through /proc: children appearing, processes gone.

    ffmpeg = wait_for_encoder(run_job.pid)
    os.kill(run_job.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(ffmpeg), timeout=2, what="ffmpeg to die")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from videoctl.executor.local import pid_alive

__all__ = ["children", "pid_alive", "processes_mentioning", "state", "wait_for_encoder", "wait_until"]


def wait_until(predicate: Callable[[], object], *, timeout: float = 60.0, what: str = "condition",
               poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll_s)


def children(pid: int) -> list[int]:
    """Child pids of every thread of *pid* (empty once it is gone)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def state(pid: int) -> str | None:
    """R, S, D, T (stopped), Z (zombie)…; None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def wait_for_encoder(pid: int, *, timeout: float = 60.0) -> int:
    """The pid of the encoding ffmpeg run-job *pid* starts (not imageio's `ffmpeg -version`),
    polled closely: a short clip's encode lasts a fraction of a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(pid):
            argv = command_line(child)
            if argv and "ffmpeg" in Path(argv[0]).name and "-progress" in argv and state(child) not in (None, "Z"):
                return child
        if state(pid) in (None, "Z"):
            raise AssertionError(f"process {pid} ended without starting its encode")
        time.sleep(0.002)
    raise AssertionError(f"process {pid} started no encode within {timeout:.0f}s")


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes with *text* in their command line, this one excepted."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            pid = int(entry)
            if any(text in arg for arg in command_line(pid)) and pid_alive(pid):
                found.append(pid)
    return found
