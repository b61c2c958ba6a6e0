"""`submit --wait` on a terminal follows a long video's chunks (#23 point 3): the `videoctl`
executable on the local executor, its stderr a pseudo-terminal as a person's shell gives it, the
lead and the chunks real processes encoding a generated lecture."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading

import pytest

from tests.chunking import chunk_env, lecture
from tests.e2e.test_cli_pipeline import videoctl
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.slow

#: What rich draws on a terminal beside the text: colours and cursor moves.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run `videoctl ARGS` with its stderr on a pseudo-terminal: (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "videoctl", *args], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: every process holding it ended
                return
            if not data:
                return
            shown.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=30)
    os.close(leader)
    return process.returncode, stdout.decode(), ANSI.sub("", shown.decode(errors="replace"))


def test_submit_wait_on_a_terminal_shows_the_chunks_and_their_eta(env, monkeypatch, tmp_path):
    chunk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDEOCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERM", "xterm")
    cli_env = dict(os.environ)
    source = lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20)
    video = json.loads(videoctl("--json", "video", "add", str(source), env=cli_env).stdout)["data"]

    code, stdout, shown = on_a_terminal(["submit", str(video["id"]), "--wait"], cli_env, timeout=600)
    assert code == 0, stdout + shown
    assert re.search(r"job \d+ for video \d+: SUCCEEDED", stdout)
    # While the chunks ran, the bar under the job's followed them; at the end all three are done.
    assert re.search(r"chunks [0-2]/3 done, [12] running", shown), shown
    assert "chunks 3/3 done" in shown
    # Once a chunk had made progress (or finished), its speed gave the job an ETA from the chunks left.
    assert re.search(r"job \d+ RUNNING chunks [0-2]/3 done[^\n]*· \d+(s|m\d\ds) left", shown), shown
