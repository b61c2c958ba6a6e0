"""The local executor: `videoctl run-job ID` as its own process, 1 job = 1 process = exit.

The process runs in its own session so it outlives the command that
started it, like a Batch container outlives `videoctl submit`; its ffmpeg
runs in the same process group and dies with it. Its log goes to a file per
attempt under the videoctl home, in a 0700 folder, opened without following links.

The executor id is ``local:PID:START``, START being the process's start time
in clock ticks since boot (field 22 of /proc/PID/stat). A pid is reused by
the system once its process is gone; the start time tells the job's process
from a stranger that got its number, so a stranger is never signalled and a
job whose process is gone is never reported as running. Ids written before
the start time was recorded (``local:PID``) are read as before: pid only.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from videoctl.domain.errors import ExecutorError
from videoctl.domain.executor import (
    BATCH_ARRAY_INDEX_VARIABLE,
    CHUNK_ATTEMPT_VARIABLE,
    CHUNK_INDEX_VARIABLE,
    LOCAL_ID_PREFIX,
    Remote,
)
from videoctl.domain.sizing import ContainerSize

PREFIX = LOCAL_ID_PREFIX

#: The logs folder's mode: only the user who runs the jobs may list or plant anything in it.
_LOG_DIR_MODE = 0o700
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC

#: How long a cancelled run-job gets to stop ffmpeg, remove its scratch and
#: record the interruption before its whole process group is killed.
CANCEL_GRACE_S = 5.0


class LocalId(NamedTuple):
    """A parsed local executor id; ``start`` is None for ids of the pid-only format."""

    pid: int
    start: int | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.pid}" if self.start is None else f"{PREFIX}{self.pid}:{self.start}"


class LocalExecutor:
    kind = "local"
    #: A local process takes the machine as it is: VIDEOCTL_SIZING is ignored.
    sizing = None

    def __init__(self, log_dir: Path, *, grace_s: float = CANCEL_GRACE_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.log_dir = log_dir
        self.grace_s = grace_s
        self.sleep = sleep

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def submit(self, name: str, *, job_id: int, video_id: int, attempt: int,
               priority: int | None = None, size: ContainerSize | None = None) -> str:
        """Start ``videoctl run-job`` here; a *size* is not something a local process can have."""
        return self._start(name, job_id, {})

    def submit_array(self, name: str, *, job_id: int, video_id: int, attempt: int, size: int,
                     priority: int | None = None, container_size: ContainerSize | None = None) -> None:
        return None  # chunks start one per spare CPU, each as the one before it ends (chunk_slots)

    def submit_chunk(self, name: str, *, job_id: int, video_id: int, attempt: int, index: int,
                     priority: int | None = None, cpus: frozenset[int] | None = None,
                     container_size: ContainerSize | None = None) -> str:
        """A chunk's own `run-job` process; on ``cpus`` when given, so its thread plan is for them
        (a *container_size* is not something a local process can have)."""
        return self._start(name, job_id, {CHUNK_INDEX_VARIABLE: str(index), CHUNK_ATTEMPT_VARIABLE: str(attempt)},
                           cpus=cpus)

    def chunk_slots(self) -> list[frozenset[int]]:
        """One chunk process per CPU this process may use, each on its own CPU."""
        return [frozenset({cpu}) for cpu in sorted(_affinity())]

    def find_chunk(self, *, video_id: int, job_id: int, attempt: int, index: int, tries: int) -> None:
        return None  # a local start never has an unknown outcome

    def stop_chunks(self, executor_job_ids: list[str], reason: str) -> None:
        for executor_job_id in executor_job_ids:
            self.cancel(executor_job_id, reason)

    def _start(self, name: str, job_id: int, extra_env: dict[str, str], *,
               cpus: frozenset[int] | None = None) -> str:
        env = {key: value for key, value in os.environ.items() if key not in _CHUNK_VARIABLES}
        env.update({"VIDEOCTL_LOG_FORMAT": "json", **extra_env})
        try:
            fd = self._open_log(name)
            with os.fdopen(fd, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "videoctl", "run-job", str(job_id)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True, close_fds=True,
                )
        except OSError as exc:
            # Nothing was started: a definite refusal, so the attempt is undone.
            raise ExecutorError(f"could not start a local run-job process: {exc.strerror or exc}",
                                hint=f"check that {self.log_dir} is a folder of yours, writable, with no link "
                                     "where the log goes, and that the system can start processes") from exc
        if cpus:
            # Set before the process builds its ffmpeg command (after its imports and its claim),
            # so its CPU budget (media.cpus reads the affinity mask) is these CPUs.
            try:
                os.sched_setaffinity(proc.pid, cpus)
            except (AttributeError, OSError):
                pass  # not Linux, or the process is gone already: it runs where it may
        # Not waited for yet, so the pid cannot have been reused: its start time is the child's.
        return str(LocalId(proc.pid, start_ticks(proc.pid)))

    def _open_log(self, name: str) -> int:
        """The attempt's log file, opened for appending in the logs folder, never through a link.

        The log holds what the job printed, which is nobody else's business: the file is
        0600, in a folder of the user's own that is 0700, so nobody else can plant anything
        in it. And the file is opened relative to that folder without following a link
        (O_NOFOLLOW): a link where the log goes (``video-1-job-5-a1.log -> ~/.bashrc``) is
        refused rather than given the job's log.
        """
        self.log_dir.mkdir(mode=_LOG_DIR_MODE, parents=True, exist_ok=True)
        folder = os.open(self.log_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            found = os.fstat(folder)
            if found.st_uid != os.geteuid():
                raise OSError(errno.EPERM, f"the logs folder {self.log_dir} belongs to uid {found.st_uid}, "
                                           f"not to you (uid {os.geteuid()})")
            if stat.S_IMODE(found.st_mode) != _LOG_DIR_MODE:
                os.fchmod(folder, _LOG_DIR_MODE)  # made before logs were private, or under a loose umask
            path = self.log_path(name)
            try:
                return os.open(path.name, _LOG_FLAGS, 0o600, dir_fd=folder)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise OSError(errno.ELOOP, f"{path} is a symbolic link: a job's log is never written "
                                               "through one") from None
                raise
        finally:
            os.close(folder)

    def find(self, name: str) -> str | None:
        return None  # a local start never has an unknown outcome

    def cancel(self, executor_job_id: str, reason: str) -> None:
        """SIGTERM to the job's process group (run-job and its ffmpeg), SIGKILL after the grace period.

        Nothing is signalled unless the recorded process is the one alive under that pid.
        """
        local = parse_id(executor_job_id)
        if local is None or not is_running(local):
            return
        pgid = local.pid  # run-job leads its own session (start_new_session)
        _signal_group(pgid, signal.SIGTERM)
        if self._gone_within(pgid, self.grace_s):
            return
        _signal_group(pgid, signal.SIGKILL)
        # SIGKILL is not instant either (a process in the kernel dies on its way out of it):
        # return once nothing of the group runs, so a caller never sees it still alive.
        self._gone_within(pgid, _KILL_WAIT_S)

    def _gone_within(self, pgid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while group_alive(pgid):
            if time.monotonic() >= deadline:
                return False
            self.sleep(0.05)
        return True

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        statuses = {}
        for job_id in executor_job_ids:
            local = parse_id(job_id)
            if local is not None:
                statuses[job_id] = _RUNNING if is_running(local) else _GONE
        return statuses

    def list_unended(self) -> None:
        return None  # no queue to list: a local process is known only by the pid its job row holds


#: A chunk process's own variables, never passed on to a process it starts.
_CHUNK_VARIABLES = frozenset({CHUNK_INDEX_VARIABLE, CHUNK_ATTEMPT_VARIABLE, BATCH_ARRAY_INDEX_VARIABLE})


def _affinity() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


#: How long a cancel waits for a SIGKILLed group to be gone.
_KILL_WAIT_S = 5.0

# Shared answers: scan-stuck may ask about hundreds of processes a pass.
_RUNNING = Remote("RUNNING")
_GONE = Remote("MISSING", "the local process is gone")


def parse_id(executor_job_id: str | None) -> LocalId | None:
    """``local:PID:START`` or the older ``local:PID``; None for anything else."""
    if not executor_job_id or not executor_job_id.startswith(PREFIX):
        return None
    pid, _, start = executor_job_id.removeprefix(PREFIX).partition(":")
    try:
        return LocalId(int(pid), int(start) if start else None)
    except ValueError:
        return None


def parse_pid(executor_job_id: str | None) -> int | None:
    local = parse_id(executor_job_id)
    return local.pid if local is not None else None


def own_id() -> str:
    """The executor id the local executor recorded for this process, when it started it."""
    pid = os.getpid()
    return str(LocalId(pid, start_ticks(pid)))


def is_running(local: LocalId) -> bool:
    """The recorded process is alive: same pid and, when recorded, same start time."""
    if not pid_alive(local.pid):
        return False
    return local.start is None or start_ticks(local.pid) == local.start


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the name before it may hold spaces and ')'."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid: int) -> int | None:
    """When *pid* started, in clock ticks since boot; None without /proc (not Linux) or process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive.
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def group_alive(pgid: int) -> bool:
    """Some process of group *pgid* still runs (zombies waiting for their parent do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return True  # no /proc: the group exists, and that is all we can know
    for pid in pids:
        fields = _stat_fields(pid)
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
