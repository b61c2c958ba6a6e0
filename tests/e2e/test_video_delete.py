"""`video delete`: one lifecycle step that leaves the database pointing at nothing that is gone.

Through the CLI on a real PostgreSQL, the local store and executor (a real process to stop),
and moto for the R2 mode: the active job is cancelled and its container stopped, the video
becomes DELETED with no hls_path and the deletion of its prefix is recorded in the same
transaction, then sent. DELETED is terminal: submit, retry and run-job refuse it, scan-stuck
leaves it alone, `video list` shows it only when asked. A job cannot slip in meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.cli import run_cli
from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.errors import EXIT_CODES, InvalidState
from videoctl.domain.states import JobState, VideoStatus


def put_files(env, names: list[str]) -> Path:
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def new_video(conn, *, ready: bool = False):
    videos = VideoRepository(conn)
    video_id = videos.next_id()
    video = videos.add(video_id, title="lecture", source_key=keys.source_key("videos", video_id, "a.mp4"),
                       size_bytes=1)
    if ready:
        video, _ = videos.set_ready(video_id, keys.master_key(keys.attempt_prefix("videos", video_id, 1, 1)))
    return video


@pytest.fixture
def sleeper():
    """A stand-in for a job's local run-job process: its own session, so the executor can stop it."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_without_yes_nothing_happens_and_the_refusal_says_what_would_go(capsys, env, conn):
    video = new_video(conn, ready=True)
    job = JobRepository(conn).create(video.id, max_attempts=3, reencode=True)
    root = put_files(env, [video.source_key, keys.prefix_of_master(video.hls_path) + "master.m3u8"])
    refused = run_cli(capsys, "--json", "video", "delete", str(video.id))
    assert refused.exit_code == EXIT_CODES["invalid_state"], refused.stdout
    error = refused.json()["error"]
    assert video.source_key in error["message"] and "only copy" in error["message"]
    assert keys.prefix_of_master(video.hls_path) in error["message"] and f"job {job.id} (QUEUED)" in error["message"]
    assert f"videoctl video delete {video.id} --yes" in error["hint"]
    assert VideoRepository(conn).get(video.id) == video and JobRepository(conn).get(job.id).state is JobState.QUEUED
    assert len(files_under(root)) == 2
    assert conn.execute("SELECT count(*) AS n FROM r2_delete_request").fetchone()["n"] == 0


def test_an_active_job_is_cancelled_its_process_stopped_and_everything_goes(capsys, env, conn, sleeper):
    video = new_video(conn)
    jobs = JobRepository(conn)
    job = jobs.mark_submitted(jobs.create(video.id, max_attempts=3, begin=True), f"local:{sleeper.pid}")
    running = jobs.claim(job, "local:runner", batch_job_id=None)
    VideoRepository(conn).set_status(video.id, VideoStatus.PROCESSING)
    prefix = keys.video_prefix("videos", video.id)
    root = put_files(env, [video.source_key, keys.attempt_prefix("videos", video.id, job.id, 1) + "seg.ts",
                           "videos/1234/source/other.mp4"])

    done = run_cli(capsys, "--json", "video", "delete", str(video.id), "--yes", "--reason", "wrong upload")
    assert done.exit_code == 0, done.stdout
    data = done.json()["data"]
    assert data["video"]["status"] == "DELETED" and data["previous_status"] == "PROCESSING"
    assert data["cancelled_job"]["id"] == job.id and data["cancelled_job"]["state"] == "CANCELLED"
    assert data["cancelled_job"]["error_message"] == f"video {video.id} deleted: wrong upload"
    assert data["request"]["prefix"] == prefix and data["request"]["reason"] == "wrong upload"
    assert data["sent"] is True and data["pending_reason"] is None

    assert sleeper.wait(timeout=10) == -15  # SIGTERM, as `jobs cancel` sends it
    assert files_under(root) == {"videos/1234/source/other.mp4"}
    with pytest.raises(InvalidState):  # the container's late writes are fenced
        jobs.complete(running)
    row = conn.execute("SELECT status, hls_path FROM video WHERE id = %s", [video.id]).fetchone()
    assert row == {"status": "DELETED", "hls_path": None}


def test_a_ready_video_no_longer_points_at_a_ladder_that_is_gone(capsys, env, conn):
    """Today's main: `r2 delete --video 1 --yes` removed the objects and left the video READY."""
    video = new_video(conn, ready=True)
    root = put_files(env, [video.source_key, video.hls_path, keys.prefix_of_master(video.hls_path) + "v0/s.ts"])
    human = run_cli(capsys, "video", "delete", str(video.id), "--yes")
    assert human.exit_code == 0, human.stderr
    assert f"video {video.id}" in human.stdout and "DELETED (it was READY)" in human.stdout
    assert f"deleted everything under videos/{video.id}/" in human.stdout
    assert files_under(root) == set()
    shown = run_cli(capsys, "--json", "video", "show", str(video.id)).json()["data"]
    assert (shown["status"], shown["hls_path"]) == ("DELETED", None)
    # The schema holds it too: a DELETED video can never be given a ladder back.
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE video SET hls_path = 'videos/x/master.m3u8' WHERE id = %s", [video.id])


def test_deleted_is_terminal_and_listed_only_when_asked(capsys, env, conn):
    video, kept = new_video(conn), new_video(conn)
    jobs = JobRepository(conn)
    job = jobs.create(video.id, max_attempts=3)
    assert run_cli(capsys, "video", "delete", str(video.id), "--yes").exit_code == 0

    for args, words in ((["submit", str(video.id)], "is DELETED"), (["submit", str(video.id), "--force"], "is DELETED"),
                        (["submit", str(video.id), "--dry-run"], "is DELETED"),
                        (["jobs", "retry", str(job.id)], f"job {job.id} is not run again"),
                        (["run-job", str(job.id)], f"job {job.id} has nothing to encode"),
                        (["video", "delete", str(video.id), "--yes"], "already DELETED")):
        refused = run_cli(capsys, "--json", *args)
        assert refused.exit_code == EXIT_CODES["invalid_state"], (args, refused.stdout)
        assert words in refused.json()["error"]["message"], args
    assert jobs.get(job.id).state is JobState.CANCELLED
    assert "video add" in run_cli(capsys, "--json", "submit", str(video.id)).json()["error"]["hint"]

    listed = run_cli(capsys, "--json", "video", "list").json()["data"]
    assert [v["id"] for v in listed] == [kept.id]
    deleted = run_cli(capsys, "--json", "video", "list", "--status", "DELETED").json()["data"]
    assert [v["id"] for v in deleted] == [video.id]
    bulk = run_cli(capsys, "--json", "submit", "--all-uploaded", "--dry-run").json()["data"]
    assert bulk["videos"] == [kept.id]


def test_scan_stuck_leaves_a_deleted_video_alone(capsys, env, conn):
    video = new_video(conn)
    jobs = JobRepository(conn)
    job = jobs.claim(jobs.create(video.id, max_attempts=3, begin=True), "local:1", batch_job_id=None)
    conn.execute("UPDATE video_transcode_job SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", [job.id])
    assert run_cli(capsys, "video", "delete", str(video.id), "--yes").exit_code == 0
    scan = run_cli(capsys, "--json", "scan-stuck")
    assert scan.exit_code == 0, scan.stdout
    assert [item["job_id"] for item in scan.json()["data"]["items"]] == []
    assert jobs.get(job.id).state is JobState.CANCELLED and jobs.get(job.id).attempt == 1
    assert VideoRepository(conn).get(video.id).status is VideoStatus.DELETED


@pytest.mark.parametrize("race", ["create", "requeue"])
def test_no_job_slips_in_while_a_video_is_being_deleted(conn, db_url, race):
    video = new_video(conn)
    jobs = JobRepository(conn)
    old = jobs.cancel(jobs.create(video.id, max_attempts=1).id, "first try") if race == "requeue" else None
    outcome: list[BaseException | object] = []

    def other_submitter():
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as own:
            repo = JobRepository(own)
            try:
                outcome.append(repo.requeue(old.id) if old else repo.create(video.id, max_attempts=3))
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome.append(exc)

    thread = threading.Thread(target=other_submitter)
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as deleting, deleting.transaction():
        VideoRepository(deleting).mark_deleted(video.id)  # holds the row lock until this commits
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the submitter must wait for the delete's row lock"
    thread.join(timeout=10)
    [result] = outcome
    assert isinstance(result, InvalidState) and "is DELETED" in result.message
    assert jobs.active_for_video(video.id) is None


def test_in_r2_mode_the_deletion_goes_to_the_queue_or_stays_pending(capsys, r2_env, conn):
    video = new_video(conn)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket="videos-test", Key=video.source_key, Body=b"x")

    # No queue yet: the video is DELETED all the same (committed), the deletion waits for a drain.
    done = run_cli(capsys, "--json", "video", "delete", str(video.id), "--yes")
    assert done.exit_code == 0, done.stdout
    data = done.json()["data"]
    assert data["video"]["status"] == "DELETED" and data["sent"] is False
    assert "NonExistentQueue" in data["pending_reason"]
    assert run_cli(capsys, "--json", "r2", "pending").json()["data"]["total"] == 1

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="academy-video-delete-r2")["QueueUrl"]
    assert run_cli(capsys, "--json", "r2", "drain").json()["data"]["sent"] == 1
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    body = json.loads(message["Body"])
    assert (body["prefix"], body["video_id"]) == (f"videos/{video.id}/", video.id)
    assert s3.list_objects_v2(Bucket="videos-test")["KeyCount"] == 1  # the Lambda deletes, not the CLI


def test_deleting_a_video_never_reaches_through_a_link_planted_under_its_prefix(capsys, caplog, env, conn):
    """Today's main: deleting videos/5/ through a link planted under it deleted video 10's source."""
    doomed, other = new_video(conn), new_video(conn, ready=True)
    root = put_files(env, [doomed.source_key, other.source_key, other.hls_path])
    (root / f"videos/{doomed.id}/source/evil.mp4").symlink_to(Path("../..") / other.source_key.split("/", 1)[1])
    (root / f"videos/{doomed.id}/hls").symlink_to(Path("..") / str(other.id))
    done = run_cli(capsys, "video", "delete", str(doomed.id), "--yes")
    assert done.exit_code == 0, done.stderr
    assert files_under(root) == {other.source_key, other.hls_path}
    assert (root / other.source_key).read_bytes() == b"x"
    # The links are left for a person to look at, and the log says so.
    assert (root / f"videos/{doomed.id}/hls").is_symlink()
    assert "symbolic link" in caplog.text and f"videos/{doomed.id}/source/evil.mp4" in caplog.text


def test_a_container_that_cannot_be_stopped_is_said_and_the_video_stays_deleted(capsys, env, conn, monkeypatch):
    """The executor cannot stop the job (here Batch's endpoint refuses every connection): the rows are
    committed, the error says what holds and what waits, and the deletion stays pending for a drain."""
    monkeypatch.setenv("VIDEOCTL_EXECUTOR", "batch")
    monkeypatch.setenv("VIDEOCTL_AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # refuses at once
    video = new_video(conn)
    jobs = JobRepository(conn)
    job = jobs.mark_submitted(jobs.create(video.id, max_attempts=3, begin=True), "batch-job-1")
    failed = run_cli(capsys, "--json", "video", "delete", str(video.id), "--yes")
    assert failed.exit_code == EXIT_CODES["aws_error"], failed.stdout
    error = failed.json()["error"]
    assert f"video {video.id} is DELETED and job {job.id} CANCELLED" in error["message"]
    assert "TerminateJob" in error["message"] and "r2 drain" in error["hint"]
    assert VideoRepository(conn).get(video.id).status is VideoStatus.DELETED
    assert jobs.get(job.id).state is JobState.CANCELLED
    assert run_cli(capsys, "--json", "r2", "pending").json()["data"]["total"] == 1
