"""`videoctl reconcile [--fix]` through the real CLI boundary: exit 13 while drift remains, 0 once in sync,
one JSON document either way, and a terminal-safe rendering of what it found."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.cli import run_cli
from tests.contract import document_problems
from videoctl.db.repositories import VideoRepository
from videoctl.domain import keys
from videoctl.domain.errors import Drift
from videoctl.domain.states import VideoStatus


def plant_drift(env, conn) -> tuple[int, Path]:
    """A video left PROCESSING without a job, and a three-day-old folder no video has."""
    videos = VideoRepository(conn)
    video_id = videos.next_id()
    videos.add(video_id, title="stuck \x1b[31m", source_key=keys.source_key("videos", video_id, "a.mp4"),
               size_bytes=1)
    videos.set_status(video_id, VideoStatus.PROCESSING)
    orphan = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/4242/hls/1-1/seg.ts"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    then = time.time() - 3 * 86_400
    os.utime(orphan, (then, then))
    return video_id, orphan


def test_drift_exits_13_with_the_report_inside_the_error_and_fix_brings_it_in_sync(capsys, env, conn):
    video_id, orphan = plant_drift(env, conn)

    found = run_cli(capsys, "--json", "reconcile")
    assert found.exit_code == Drift.exit_code == 13, found.stdout
    error = found.json()["error"]
    assert error["code"] == "drift"
    assert error["message"] == "drift remains: 1 orphan prefix(es), 1 stuck video(s)"
    assert "reconcile --fix" in error["hint"]
    report = {k: v for k, v in error.items() if k not in ("code", "message", "hint")}
    assert document_problems("reconcile", report) == []
    assert [i["video_id"] for i in report["stuck_videos"]["items"]] == [video_id]
    assert orphan.exists() and VideoRepository(conn).get(video_id).status is VideoStatus.PROCESSING

    fixed = run_cli(capsys, "--json", "reconcile", "--fix")
    assert fixed.exit_code == 0, fixed.stdout
    data = fixed.json()["data"]
    assert document_problems("reconcile", data) == []
    assert (data["fix"], data["in_sync"]) == (True, True)
    assert data["orphan_prefixes"]["counts"]["fixed"] == data["stuck_videos"]["counts"]["fixed"] == 1
    assert not orphan.exists() and VideoRepository(conn).get(video_id).status is VideoStatus.UPLOADED

    again = run_cli(capsys, "reconcile")
    assert again.exit_code == 0 and "in sync" in again.stdout


def test_people_see_tables_and_the_drift_on_stderr_with_titles_escaped(capsys, env, conn):
    plant_drift(env, conn)

    result = run_cli(capsys, "reconcile")

    assert result.exit_code == 13
    assert "orphan prefixes" in result.stdout and "stuck videos" in result.stdout
    assert "\x1b[31m" not in result.stdout and "\\x1b" in result.stdout
    assert "drift remains" in result.stderr and "local executor has no queue" in result.stderr


def test_a_duration_that_is_not_one_is_a_usage_error(capsys, env):
    result = run_cli(capsys, "--json", "reconcile", "--older-than", "soon")
    assert result.exit_code == 2 and result.json()["error"]["code"] == "usage_error"
