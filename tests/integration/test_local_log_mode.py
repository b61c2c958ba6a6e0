"""A local job's log file is created 0600, whatever the umask: it is nobody else's business."""

import os
import stat
import time

from videoctl.executor.local import LocalExecutor, parse_pid, pid_alive


def test_local_job_log_is_private(env, tmp_path):
    executor = LocalExecutor(tmp_path / "logs")
    old_umask = os.umask(0)  # an open umask would give 0666 to a plain open()
    try:
        executor_id = executor.submit("video-1-job-999-a1", job_id=999, video_id=1, attempt=1)
    finally:
        os.umask(old_umask)
    log = executor.log_path("video-1-job-999-a1")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    pid = parse_pid(executor_id)
    deadline = time.monotonic() + 60
    while pid_alive(pid):  # job 999 does not exist: the process says so and exits
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "not_found" in log.read_text()
