"""Every command's `--json` document matches the type it declares (the JSON contract, written once).

One scenario runs every command of the CLI with --json on a real database, moto Batch and
real encodes, and checks each `data` against the declared type: no key missing, none
undeclared, every value of its declared kind. A command added without a declared type,
or left out of the scenario, fails here (the infra commands are run against moto's
account in tests/integration/test_infra_moto.py, with the same check).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests import clips
from tests.cli import run_cli
from tests.contract import document_problems, leaf_commands, problems
from tests.integration.test_chunk_views import chunked_job
from videoctl.commands._render import document_types
from videoctl.db.repositories import ChunkRepository, DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.states import VideoStatus
from videoctl.media.binary import find_ffmpeg


def test_every_command_declares_its_json_document():
    undeclared = [name for name, callback in leaf_commands().items() if not document_types(callback)]
    assert undeclared == []


def test_an_undeclared_key_or_a_wrong_kind_is_caught():
    from videoctl.domain.models import Video

    good = {"id": 1, "title": "t", "source_key": "videos/1/source/a.mp4", "status": "READY",
            "hls_path": None, "duration_s": 2, "width": None, "height": None, "has_audio": None,
            "size_bytes": 5, "created_at": "2026-11-29T10:00:00+00:00", "updated_at": "2026-11-29T10:00:00+00:00",
            "mpd_path": None, "poster_path": None, "poster_small_path": None, "storyboard_path": None,
            "download_path": None, "caption_languages": [], "content_type": None, "upload_id": None,
            "upload_expires_at": None, "auto_submit_at": None, "error_code": None, "error_message": None,
            "source_etag": None, "upload_part_size": None, "fps": None}
    assert problems(good, Video) == []
    assert problems({**good, "extra": 1}, Video) == ["data: undeclared key 'extra'"]
    assert problems({**good, "status": "LOST"}, Video) == ["data.status: 'LOST' is not a VideoStatus"]
    assert problems({**good, "id": "1"}, Video) == ["data.id: expected int, got '1'"]
    assert problems([good, {**good, "created_at": "yesterday"}], list[Video]) == [
        "data[1].created_at: 'yesterday' is not an ISO datetime"]


@pytest.mark.slow
def test_every_command_prints_what_it_declares(capsys, moto_batch, env, conn, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")  # quick; the ladder's shape is the media tests' concern
    commands = leaf_commands()
    seen: set[str] = set()

    def check(*args: str) -> dict:
        result = run_cli(capsys, "--json", *args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        data = json.loads(result.stdout)["data"]
        command = " ".join(args[:2]) if " ".join(args[:2]) in commands else args[0]
        assert document_problems(command, data) == [], args
        seen.add(command)
        return data

    ffmpeg = find_ffmpeg()

    video = check("video", "add", str(clips.normal(ffmpeg, tmp_path)), "--title", "contract")
    check("video", "list")
    check("config", "show")
    check("db", "migrate")
    check("db", "status")
    check("submit", str(video["id"]), "--dry-run")
    check("submit", "--all-uploaded", "--dry-run")

    # run-job in this process, on a job created without a container: a real encode.
    job = JobRepository(conn).create(video["id"], max_attempts=3)
    check("run-job", str(job.id))
    check("video", "show", str(video["id"]))
    check("quality", str(video["id"]), "--sample", "1")
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_KEYS", "k1:" + "k" * 64)
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_BASE_URL", "https://media.example.com")
    assert check("playback", str(video["id"]), "--viewer", "contract")["master"].startswith("https://media.")
    check("jobs", "show", str(job.id))
    check("jobs", "list")

    # On moto Batch nothing runs: submit, cancel and retry only move rows and Batch jobs.
    second = check("video", "add", str(clips.normal(ffmpeg, tmp_path)))
    submitted = check("submit", str(second["id"]))
    check("jobs", "cancel", str(submitted["job_id"]))
    check("jobs", "retry", str(submitted["job_id"]))
    check("jobs", "cancel", "--video", str(second["id"]), "--dry-run")
    check("jobs", "cancel", "--video", str(second["id"]))
    check("jobs", "retry", "--state", "CANCELLED", "--video", str(second["id"]))
    check("video", "add", str(clips.normal(ffmpeg, tmp_path)))
    check("submit", "--all-uploaded")
    check("submit", "--all-ready", "--force", "--dry-run")
    deleted = check("video", "delete", str(second["id"]), "--yes")  # cancels its retried job on moto Batch
    assert deleted["cancelled_job"]["id"] == submitted["job_id"] and deleted["sent"] is True
    check("video", "list", "--status", "DELETED")
    check("scan-stuck", "--dry-run")
    check("scan-stuck")
    check("stats")
    check("jobs", "prune", "--older-than", "90d", "--dry-run")
    check("jobs", "prune", "--older-than", "90d")

    orphan = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/99/hls/1-1/seg.ts"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    check("r2", "delete", "--prefix", "videos/99/", "--dry-run")
    check("r2", "delete", "--prefix", "videos/99/", "--yes")  # no video 99: its source folder needs --yes
    requests = DeleteRequestRepository(conn)
    doomed, kept = (requests.add(p, "contract", None) for p in ("videos/98/hls/1-1/", "videos/97/hls/1-1/"))
    check("r2", "pending")
    check("r2", "discard", str(doomed.id))
    check("r2", "drain")

    # Events: recorded all along with no target, so pending; one discarded, the rest delivered to
    # moto's default EventBridge bus (then no target again: demo's run-job runs outside moto).
    listed = check("events", "list")
    assert listed["pending"] > 1
    check("events", "discard", str(listed["events"][0]["id"]))
    monkeypatch.setenv("VIDEOCTL_EVENTS_TARGET", "eventbridge:default")
    assert check("events", "drain")["pending"] == 0
    monkeypatch.delenv("VIDEOCTL_EVENTS_TARGET")

    # Drift for reconcile to find: a segment gone from the READY video's ladder (--fix submits a
    # re-encode to moto Batch, in hand from then on), a video left PROCESSING, an old orphan folder.
    videos = VideoRepository(conn)
    ladder = Path(env["VIDEOCTL_STORAGE_DIR"]) / keys.prefix_of_master(videos.get(video["id"]).hls_path)
    next(ladder.rglob("*.m4s")).unlink()
    stuck = videos.add(videos.next_id(), title="stuck", source_key="videos/0/source/a.mp4", size_bytes=1)
    videos.set_status(stuck.id, VideoStatus.PROCESSING)
    old = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/96/hls/1-1/seg.ts"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 3 * 86_400,) * 2)
    drift = run_cli(capsys, "--json", "reconcile")
    assert drift.exit_code == 13, drift.stdout
    report = {k: v for k, v in drift.json()["error"].items() if k not in ("code", "message", "hint")}
    assert document_problems("reconcile", report) == []
    assert all(report[kind]["items"] for kind in ("broken_ladders", "orphan_prefixes", "stuck_videos"))
    check("reconcile", "--fix")
    check("reconcile")

    # A direct upload (local storage: a path to write to) and a key registered in place.
    upload = check("upload", "create", "--title", "direct", "--size", "4", "--content-type", "video/mp4")
    Path(upload["path"]).write_bytes(b"abcd")
    check("upload", "complete", str(upload["video"]["id"]))
    registered = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/500/source/in-place.mp4"
    registered.parent.mkdir(parents=True)
    registered.write_bytes(b"abcd")
    check("video", "add", "--key", "videos/500/source/in-place.mp4")

    # A chunked attempt (#23), its chunks made and claimed as run-job's lead and a chunk do it:
    # `jobs show` and `jobs list` carry them (chunk_progress); then it is cancelled out of the way.
    chunked = chunked_job(conn)
    ChunkRepository(conn).claim(chunked.id, chunked.attempt, 0, "contract-chunk-0", batch_job_id=None)
    shown = check("jobs", "show", str(chunked.id))
    assert [c["state"] for c in shown["chunk_progress"]["chunks"]] == ["RUNNING", "PENDING", "PENDING", "PENDING"]
    assert any(j["chunk_progress"] for j in check("jobs", "list"))
    JobRepository(conn).cancel(chunked.id, "contract")

    monkeypatch.setenv("VIDEOCTL_EXECUTOR", "local")
    check("demo", "--seconds", "1")

    # No database configured: `db stop` finds no embedded server to stop, and says so.
    monkeypatch.delenv("VIDEOCTL_DATABASE_URL")
    assert check("db", "stop")["stopped"] is False

    # The infra commands need moto's whole account: test_infra_moto.py checks their documents.
    # serve runs until it is stopped: tests/browser/test_serve_http.py checks the one it prints.
    untested = sorted(set(commands) - seen - {c for c in commands if c.startswith("infra ")} - {"serve"})
    assert untested == []
