"""The local executor: `videoctl run-job ID` as its own process, 1 job = 1 process = exit.

The process runs in its own session so it outlives the command that
started it, like a Batch container outlives `videoctl submit`. Its log goes
to a file per attempt under the videoctl home.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from videoctl.domain.errors import ExecutorError
from videoctl.domain.executor import Remote

PREFIX = "local:"


class LocalExecutor:
    kind = "local"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def submit(self, name: str, *, job_id: int, video_id: int, attempt: int,
               priority: int | None = None) -> str:
        env = {**os.environ, "VIDEOCTL_LOG_FORMAT": "json"}
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            # 0600: the log holds what the job printed, which is nobody else's business.
            fd = os.open(self.log_path(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "videoctl", "run-job", str(job_id)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True, close_fds=True,
                )
        except OSError as exc:
            # Nothing was started: a definite refusal, so the attempt is undone.
            raise ExecutorError(f"could not start a local run-job process: {exc.strerror or exc}",
                                hint=f"check that {self.log_dir} is writable and that the system can "
                                     "start processes") from exc
        return f"{PREFIX}{proc.pid}"

    def find(self, name: str) -> str | None:
        return None  # a local start never has an unknown outcome

    def cancel(self, executor_job_id: str, reason: str) -> None:
        pid = parse_pid(executor_job_id)
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGTERM)  # the whole session: run-job and its ffmpeg
        except ProcessLookupError:
            pass

    def describe(self, executor_job_ids: list[str]) -> dict[str, Remote]:
        statuses = {}
        for job_id in executor_job_ids:
            pid = parse_pid(job_id)
            if pid is not None:
                statuses[job_id] = _RUNNING if pid_alive(pid) else _GONE
        return statuses

    def list_unended(self) -> None:
        return None  # no queue to list: a local process is known only by the pid its job row holds


# Shared answers: scan-stuck may ask about hundreds of processes a pass.
_RUNNING = Remote("RUNNING")
_GONE = Remote("MISSING", "the local process is gone")


def parse_pid(executor_job_id: str | None) -> int | None:
    if not executor_job_id or not executor_job_id.startswith(PREFIX):
        return None
    try:
        return int(executor_job_id.removeprefix(PREFIX))
    except ValueError:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
