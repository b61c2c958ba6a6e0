"""A local job's log is private: a 0600 file in a 0700 folder of the user's, never written through a link."""

import os
import stat
import time

import pytest

from videoctl.domain.errors import ExecutorError
from videoctl.executor.local import LocalExecutor, parse_pid, pid_alive

NAME = "video-1-job-999-a1"
ROOT = os.geteuid() == 0
NOBODY = 65534


def wait_for_exit(executor_id: str) -> None:
    pid = parse_pid(executor_id)
    deadline = time.monotonic() + 60
    while pid_alive(pid):  # job 999 does not exist: the process says so and exits
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_local_job_log_is_private(env, tmp_path):
    executor = LocalExecutor(tmp_path / "logs")
    old_umask = os.umask(0)  # an open umask would give 0666 to a plain open() and 0777 to a folder
    try:
        executor_id = executor.submit(NAME, job_id=999, video_id=1, attempt=1)
    finally:
        os.umask(old_umask)
    log = executor.log_path(NAME)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    wait_for_exit(executor_id)
    assert "not_found" in log.read_text()


def test_a_logs_folder_made_before_is_made_private(env, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o777)
    logs.chmod(0o777)
    executor_id = LocalExecutor(logs).submit(NAME, job_id=999, video_id=1, attempt=1)
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    wait_for_exit(executor_id)


def test_a_link_planted_where_the_log_goes_is_refused_and_receives_nothing(env, tmp_path):
    executor = LocalExecutor(tmp_path / "logs")
    (tmp_path / "logs").mkdir()
    target = tmp_path / "bashrc"
    target.write_text("export PATH=/usr/bin\n")
    executor.log_path(NAME).symlink_to(target)
    with pytest.raises(ExecutorError) as refused:
        executor.submit(NAME, job_id=999, video_id=1, attempt=1)
    assert "is a symbolic link" in refused.value.message and str(executor.log_path(NAME)) in refused.value.message
    assert target.read_text() == "export PATH=/usr/bin\n"
    # A dangling link is not created through either.
    dangling = tmp_path / "created-through-the-link"
    executor.log_path(NAME).unlink()
    executor.log_path(NAME).symlink_to(dangling)
    with pytest.raises(ExecutorError):
        executor.submit(NAME, job_id=999, video_id=1, attempt=1)
    assert not dangling.exists()


@pytest.mark.skipif(not ROOT, reason="a folder owned by another user needs root (chown)")
def test_a_logs_folder_of_someone_else_is_refused(env, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    os.chown(logs, NOBODY, NOBODY)
    with pytest.raises(ExecutorError) as refused:
        LocalExecutor(logs).submit(NAME, job_id=999, video_id=1, attempt=1)
    assert "belongs to uid 65534" in refused.value.message
    assert list(logs.iterdir()) == []
