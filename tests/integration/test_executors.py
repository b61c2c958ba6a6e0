"""What each executor says of its jobs: the Remote statuses scan-stuck decides on."""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from videoctl.domain.executor import Remote
from videoctl.executor.local import PREFIX, LocalExecutor


def test_local_describe_tells_running_from_gone_and_skips_foreign_ids(tmp_path):
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid is free
    try:
        statuses = LocalExecutor(tmp_path).describe(
            [f"{PREFIX}{running.pid}", f"{PREFIX}{gone.pid}", "batch-job-1", f"{PREFIX}not-a-pid"])
    finally:
        running.kill()
        running.wait()
    assert statuses == {
        f"{PREFIX}{running.pid}": Remote("RUNNING"),
        f"{PREFIX}{gone.pid}": Remote("MISSING", "the local process is gone"),
    }


def test_batch_describe_gives_status_and_stop_time(moto_batch, ctx):
    executor = ctx.executor
    job_id = executor.submit("video-1-job-1-a1", job_id=1, video_id=1, attempt=1)
    deadline = time.monotonic() + 10
    while (remote := executor.describe([job_id])[job_id]).status != "SUCCEEDED":
        assert time.monotonic() < deadline, f"moto job still {remote.status}"
        time.sleep(0.05)
    assert remote.stopped_at is not None and remote.stopped_at.tzinfo is not None
    assert abs(datetime.now(UTC) - remote.stopped_at) < timedelta(minutes=1)
    assert executor.describe(["no-such-job"]) == {}
