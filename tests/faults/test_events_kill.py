"""run-job killed with SIGKILL between its commit and the event's delivery: the next drain delivers it once.

A real encode on the local executor, with a real webhook receiver (tests/events_receiver.py)
that holds run-job's POST of ``video.ready`` at one of two points: before it reads the body
(nothing reached the app), or after it stored the event but before it answered (the app has
it, run-job never hears so). With the request held, the job is SUCCEEDED and the video READY
(the commit came first), and run-job is killed there. The event is then still pending, and
the next `videoctl events drain` delivers it: the receiver, deduplicating by id, has it
exactly once either way, and a further drain sends nothing.
"""

from __future__ import annotations

import os
import signal

import psycopg
import pytest

from tests import clips
from tests.cli import run_cli
from tests.events_receiver import Hold, Receiver
from tests.processes import pid_alive, wait_until
from videoctl.api import Client
from videoctl.context import AppContext
from videoctl.domain.states import JobState, VideoStatus
from videoctl.executor.local import parse_pid
from videoctl.media.binary import find_ffmpeg

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SECRET = "whsec-kill-test-0123456789abcdef"


def unlocked(db_url: str, event_id: int) -> bool:
    """The event's row is free: the dead run-job's transaction is gone with its connection."""
    with psycopg.connect(db_url) as look:
        row = look.execute("SELECT id FROM event WHERE id = %s FOR UPDATE SKIP LOCKED", (event_id,)).fetchone()
        look.rollback()
    return row is not None


@pytest.mark.parametrize("point", ["before_read", "after_store"])
def test_killed_between_commit_and_send_the_next_drain_delivers_the_event_once(
        point, capsys, env, db_url, monkeypatch, tmp_path):
    for name, value in {"VIDEOCTL_LADDER": "240:400", "VIDEOCTL_SCRATCH_DIR": str(tmp_path / "scratch"),
                        "VIDEOCTL_EVENTS_WEBHOOK_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    with Receiver(SECRET) as receiver:
        monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", receiver.url)
        ctx = AppContext()
        client = Client(context=ctx)
        pid = None
        try:
            video = client.add_video(clips.normal(find_ffmpeg(), tmp_path))
            receiver.hold = Hold(point)
            job = client.submit(video.id)  # run-job in a process of its own, with this environment
            pid = parse_pid(job.executor_job_id)
            assert receiver.hold.reached.wait(120), "run-job never sent its event"

            # Held mid-send: the transition and its event committed before it.
            assert ctx.jobs.get(job.id).state is JobState.SUCCEEDED
            assert ctx.videos.get(video.id).status is VideoStatus.READY
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            receiver.hold.released.set()
            [event] = ctx.events.list(video_id=video.id)[0]
            wait_until(lambda: unlocked(db_url, event.id), timeout=30, what="the dead run-job's transaction to end")
            assert event.type == "video.ready" and ctx.events.get(event.id).pending
            assert len(receiver.processed) == (1 if point == "after_store" else 0)

            drain = run_cli(capsys, "--json", "events", "drain")
            assert drain.exit_code == 0, drain.stdout
            assert (drain.json()["data"]["sent"], drain.json()["data"]["pending"]) == (1, 0)
            assert list(receiver.processed) == [event.event_id]  # exactly once, by its id
            assert receiver.processed[event.event_id]["data"]["hls_path"] == ctx.videos.get(video.id).hls_path
            assert receiver.duplicates == (1 if point == "after_store" else 0)
            assert ctx.events.get(event.id).delivered_at is not None

            again = run_cli(capsys, "--json", "events", "drain")
            assert again.json()["data"]["sent"] == 0 and len(receiver.processed) == 1
        finally:
            if pid is not None and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            client.close()
