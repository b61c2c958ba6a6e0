"""`videoctl r2 delete | drain | pending | discard` through the real CLI boundary (exit codes, --json)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.cli import run_cli
from videoctl.db.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.errors import EXIT_CODES


def store_files(env, keys_: list[str]) -> Path:
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    for key in keys_:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"x" * 10)
    return root


def stored(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


INSIDE = [f"videos/12/hls/1-1/seg{i}.ts" for i in range(5)]
NEIGHBOURS = ["videos/123/hls/1-1/seg0.ts", "videos/12.mp4", "videos/1/source/a.mp4"]


def test_every_r2_command_has_help(capsys):
    for path in (["r2"], ["r2", "delete"], ["r2", "drain"], ["r2", "pending"], ["r2", "discard"]):
        result = run_cli(capsys, *path, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout, path


def test_dry_run_lists_and_deletes_nothing(capsys, env):
    root = store_files(env, INSIDE + NEIGHBOURS)
    result = run_cli(capsys, "--json", "r2", "delete", "--prefix", "videos/12/", "--dry-run", "--show", "2")
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert (data["mode"], data["dry_run"], data["count"], data["total_bytes"]) == ("local", True, 5, 50)
    assert [k["key"] for k in data["keys"]] == INSIDE[:2] and data["truncated"] is True
    # No video 12: its source folder is nobody's to vouch for, so the delete will need --yes.
    assert data["needs_yes"] is True and data["unclaimed_source"] == "videos/12/source/"
    assert stored(root) == set(INSIDE + NEIGHBOURS)

    human = run_cli(capsys, "r2", "delete", "--prefix", "videos/12/", "--dry-run")
    assert human.exit_code == 0 and "5 objects, 50 bytes" in human.stdout and INSIDE[0] in human.stdout
    assert "needs --yes" in human.stderr and "videos/12/source/" in human.stderr
    assert "nothing deleted" in human.stderr and stored(root) == set(INSIDE + NEIGHBOURS)


@pytest.mark.parametrize(
    "args",
    [
        ["--prefix", "videos/"],
        ["--prefix", "videos/12"],
        ["--prefix", ""],
        ["--prefix", "/videos/12/"],
        ["--prefix", "videos/../etc/"],
        ["--prefix", "other/12/"],
        ["--video", "12", "--prefix", "videos/123/"],
    ],
)
def test_refused_prefixes_exit_invalid_input(capsys, env, args):
    root = store_files(env, INSIDE + NEIGHBOURS)
    result = run_cli(capsys, "--json", "r2", "delete", *args)
    assert result.exit_code == EXIT_CODES["invalid_input"] == 3
    assert result.json()["error"]["code"] == "invalid_input"
    assert stored(root) == set(INSIDE + NEIGHBOURS)


def test_neither_video_nor_prefix_is_a_usage_error(capsys, env):
    result = run_cli(capsys, "--json", "r2", "delete")
    assert result.exit_code == EXIT_CODES["usage_error"] and result.json()["error"]["code"] == "usage_error"


def test_unknown_video_is_not_found(capsys, env):
    assert run_cli(capsys, "r2", "delete", "--video", "999").exit_code == EXIT_CODES["not_found"]


def test_local_mode_deletes_synchronously(capsys, env):
    root = store_files(env, INSIDE + NEIGHBOURS)
    unconfirmed = run_cli(capsys, "--json", "r2", "delete", "--prefix", "videos/12/")
    assert unconfirmed.exit_code == EXIT_CODES["invalid_state"]
    assert "only copy" in unconfirmed.json()["error"]["message"]
    assert stored(root) == set(INSIDE + NEIGHBOURS)
    result = run_cli(capsys, "--json", "r2", "delete", "--prefix", "videos/12/", "--reason", "cleanup", "--yes")
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert (data["mode"], data["deleted"], data["message"]["reason"]) == ("local", 5, "cleanup")
    assert data["message"]["bucket"] == "local" and data["message"]["video_id"] == 12
    assert stored(root) == set(NEIGHBOURS)


def test_what_a_ready_video_uses_is_never_deleted_here_video_delete_is_the_way(capsys, env, conn):
    videos = VideoRepository(conn)
    vid = videos.next_id()
    source = keys.source_key("videos", vid, "a.mp4")
    videos.add(vid, title="t", source_key=source, size_bytes=1)
    ladder = keys.attempt_prefix("videos", vid, 1, 2)
    videos.set_ready(vid, keys.master_key(ladder))
    old = keys.attempt_prefix("videos", vid, 1, 1)
    root = store_files(env, [source, ladder + "master.m3u8", ladder + "v0/seg0.ts", old + "master.m3u8"])

    # Not even with --yes, and not even as a dry run: the database would point at nothing.
    for args in (["--video", str(vid)], ["--video", str(vid), "--yes"], ["--video", str(vid), "--dry-run"],
                 ["--prefix", ladder + "v0/", "--yes"], ["--prefix", f"videos/{vid}/source/", "--yes"]):
        refused = run_cli(capsys, "--json", "r2", "delete", *args)
        assert refused.exit_code == EXIT_CODES["invalid_state"], (args, refused.stdout)
        error = refused.json()["error"]
        assert "only copy" in error["message"] or "serves its ladder" in error["message"], args
        assert f"videoctl video delete {vid} --yes" in error["hint"]
    assert len(stored(root)) == 4

    # The abandoned attempt is in use by nothing.
    assert run_cli(capsys, "r2", "delete", "--prefix", old).exit_code == 0
    assert stored(root) == {source, ladder + "master.m3u8", ladder + "v0/seg0.ts"}

    done = run_cli(capsys, "--json", "video", "delete", str(vid), "--yes")
    assert done.exit_code == 0, done.stdout
    assert done.json()["data"]["video"]["status"] == "DELETED" and done.json()["data"]["video"]["hls_path"] is None
    assert stored(root) == set()
    # Once DELETED, --video is for whatever is left (a container's late upload, say): no --yes needed.
    store_files(env, [ladder + "late.ts"])
    cleaned = run_cli(capsys, "--json", "r2", "delete", "--video", str(vid))
    assert cleaned.exit_code == 0 and cleaned.json()["data"]["deleted"] == 1 and stored(root) == set()


def test_the_only_copy_of_a_source_under_a_queued_job_is_never_deleted_silently(capsys, env, conn):
    """Today's main: `r2 delete --video N` on an UPLOADED video with a QUEUED job deleted its source."""
    videos = VideoRepository(conn)
    vid = videos.next_id()
    source = keys.source_key("videos", vid, "a.mp4")
    videos.add(vid, title="t", source_key=source, size_bytes=1)
    job = JobRepository(conn).create(vid, max_attempts=3)
    root = store_files(env, [source])
    for yes in ([], ["--yes"]):
        refused = run_cli(capsys, "--json", "r2", "delete", "--video", str(vid), *yes)
        assert refused.exit_code == EXIT_CODES["invalid_state"], refused.stdout
        error = refused.json()["error"]
        assert f"job {job.id} is QUEUED" in error["message"] and "only copy" in error["message"]
        assert f"videoctl video delete {vid} --yes" in error["hint"]
    assert stored(root) == {source}


def test_pending_then_drain_in_local_mode(capsys, env, conn):
    root = store_files(env, INSIDE + NEIGHBOURS)
    repo = DeleteRequestRepository(conn)
    ids = [repo.add("videos/12/hls/1-1/", "abandoned attempt", None).id,
           repo.add("videos/77/hls/1-1/", "replaced ladder", None).id]

    pending = run_cli(capsys, "--json", "r2", "pending")
    assert pending.exit_code == 0
    assert pending.json()["data"]["total"] == 2 and [r["id"] for r in pending.json()["data"]["requests"]] == ids
    assert "videos/77/hls/1-1/" in run_cli(capsys, "r2", "pending").stdout

    drained = run_cli(capsys, "r2", "drain", "--json")
    assert drained.exit_code == 0, drained.stdout
    assert drained.json()["data"] == {"mode": "local", "sent": 2, "failed": 0, "failures": []}
    assert stored(root) == set(NEIGHBOURS)
    rows = conn.execute("SELECT sent_at FROM r2_delete_request ORDER BY id").fetchall()
    assert all(r["sent_at"] is not None for r in rows)
    assert run_cli(capsys, "--json", "r2", "pending").json()["data"] == {"total": 0, "requests": []}


def test_aws_mode_drain_sends_and_marks_sent(capsys, r2_env, conn):
    repo = DeleteRequestRepository(conn)
    ids = [repo.add(p, "abandoned attempt", None).id for p in ("videos/5/hls/1-1/", "videos/6/hls/1-1/")]

    # No queue yet: the rows stay pending, the error names the AWS action and code.
    failed = run_cli(capsys, "--json", "r2", "drain")
    assert failed.exit_code == EXIT_CODES["aws_error"], failed.stdout
    assert "sent 0, 2 failed" in failed.json()["error"]["message"]
    assert "NonExistentQueue" in failed.json()["error"]["message"]
    assert run_cli(capsys, "--json", "r2", "pending").json()["data"]["total"] == 2

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="academy-video-delete-r2")["QueueUrl"]
    drained = run_cli(capsys, "--json", "r2", "drain")
    assert drained.exit_code == 0 and drained.json()["data"]["sent"] == 2 and drained.json()["data"]["mode"] == "sqs"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["prefix"] for m in messages) == ["videos/5/hls/1-1/", "videos/6/hls/1-1/"]
    sent = conn.execute("SELECT id, sent_at FROM r2_delete_request").fetchall()
    assert {r["id"] for r in sent if r["sent_at"]} == set(ids)


def test_aws_mode_delete_queues_and_deletes_nothing_itself(capsys, r2_env):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket="videos-test", Key="videos/12/hls/1-1/a.ts", Body=b"x")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="academy-video-delete-r2")["QueueUrl"]

    dry = run_cli(capsys, "--json", "r2", "delete", "--prefix", "videos/12/", "--dry-run")
    assert dry.json()["data"]["count"] == 1 and dry.json()["data"]["location"] == "r2://videos-test"

    result = run_cli(capsys, "--json", "r2", "delete", "--prefix", "videos/12/", "--yes")
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert data["mode"] == "sqs" and data["deleted"] is None
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["MessageId"] == data["message_id"] and json.loads(message["Body"]) == data["message"]
    assert s3.list_objects_v2(Bucket="videos-test")["KeyCount"] == 1  # the Lambda deletes, not the CLI


def test_a_request_that_can_never_succeed_is_discarded_and_stops_failing_scans(capsys, env, conn):
    videos = VideoRepository(conn)
    video_id = videos.next_id()
    videos.add(video_id, title="t", source_key=keys.source_key("videos", video_id, "a.mp4"), size_bytes=1)
    video, _ = videos.set_ready(video_id, keys.master_key(keys.attempt_prefix("videos", video_id, 9, 1)))
    live = keys.prefix_of_master(video.hls_path)
    root = store_files(env, [f"{live}index.m3u8"])
    request_id = DeleteRequestRepository(conn).add(live, "replaced ladder", video_id).id

    # The prefix is the live ladder: every drain and every scan-stuck pass refuses it.
    failed = run_cli(capsys, "--json", "r2", "drain")
    assert failed.exit_code == EXIT_CODES["invalid_state"], failed.stdout
    assert f"request {request_id} ({live})" in failed.json()["error"]["message"]
    assert "r2 discard" in failed.json()["error"]["hint"]
    scan = run_cli(capsys, "--json", "scan-stuck")
    assert scan.exit_code != 0 and scan.json()["data"]["summary"]["errors"] == 1

    discarded = run_cli(capsys, "--json", "r2", "discard", str(request_id), "--reason", "the ladder is live again")
    assert discarded.exit_code == 0, discarded.stdout
    data = discarded.json()["data"]
    assert data["id"] == request_id and data["discarded_at"] and data["discard_reason"] == "the ladder is live again"

    assert run_cli(capsys, "--json", "r2", "drain").json()["data"]["sent"] == 0
    assert run_cli(capsys, "--json", "scan-stuck").exit_code == 0
    assert run_cli(capsys, "--json", "r2", "pending").json()["data"] == {"total": 0, "requests": []}
    assert stored(root) == {f"{live}index.m3u8"}  # discarding deletes nothing

    again = run_cli(capsys, "--json", "r2", "discard", str(request_id))
    assert again.exit_code == EXIT_CODES["invalid_state"] and "already discarded" in again.json()["error"]["message"]
    missing = run_cli(capsys, "--json", "r2", "discard", "999999")
    assert missing.exit_code == EXIT_CODES["not_found"]
