"""`videoctl upload create|complete` and `video add --key` on the embedded-style default
(local storage, real PostgreSQL): the flow, and every refusal with its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run_cli


def test_a_local_upload_is_a_path_to_write_then_complete(capsys, env):
    created = run_cli(capsys, "--json", "upload", "create", "--title", "Lecture", "--size", "6",
                      "--content-type", "video/webm")
    assert created.exit_code == 0, created.stdout
    upload = created.json()["data"]
    video_id = upload["video"]["id"]
    assert upload["method"] == "file" and upload["url"] is None and upload["urls_expire_at"] is None
    assert upload["key"] == f"videos/{video_id}/source/upload.webm"
    path = Path(upload["path"])
    assert path == Path(env["VIDEOCTL_STORAGE_DIR"]).resolve() / upload["key"] and path.parent.is_dir()
    assert upload["complete"] == f"videoctl upload complete {video_id}"

    pending = run_cli(capsys, "upload", "complete", str(video_id))
    assert pending.exit_code == 4 and "nothing has been uploaded" in pending.stdout + pending.stderr
    path.write_bytes(b"webm!!")
    done = run_cli(capsys, "upload", "complete", str(video_id))
    assert done.exit_code == 0, done.stdout + done.stderr
    assert f"video {video_id}" in done.stdout and "UPLOADED" in done.stdout
    assert f"videoctl submit {video_id}" in done.stdout
    shown = run_cli(capsys, "--json", "video", "show", str(video_id)).json()["data"]
    assert (shown["status"], shown["size_bytes"], shown["content_type"]) == ("UPLOADED", 6, "video/webm")
    again = run_cli(capsys, "upload", "complete", str(video_id))
    assert again.exit_code == 0 and "uploaded already" in again.stdout


def test_the_human_output_says_what_to_send_where(capsys, env):
    created = run_cli(capsys, "upload", "create")
    assert created.exit_code == 0
    assert "is PENDING" in created.stdout and "write the file to:" in created.stdout
    assert "then: videoctl upload complete" in created.stdout


def test_refusals_have_their_reason_and_exit_code(capsys, env):
    bad_type = run_cli(capsys, "--json", "upload", "create", "--content-type", "text/html")
    assert bad_type.exit_code == 3 and bad_type.json()["error"]["code"] == "invalid_input"
    assert "not a video container type" in bad_type.json()["error"]["message"]
    assert run_cli(capsys, "--json", "video", "list", "--status", "PENDING").json()["data"] == []
    assert run_cli(capsys, "upload", "create", "--size", "0").exit_code == 2  # typer's own range check
    missing = run_cli(capsys, "--json", "upload", "complete", "999")
    assert missing.exit_code == 4 and missing.json()["error"]["code"] == "not_found"
    parts = run_cli(capsys, "upload", "complete", "1", "--parts", "a,,b")
    assert parts.exit_code == 2 and "empty ETag" in parts.stdout + parts.stderr


def test_video_add_key_registers_what_is_in_the_store(capsys, env):
    neither = run_cli(capsys, "video", "add")
    both = run_cli(capsys, "video", "add", "x.mp4", "--key", "videos/1/source/x.mp4")
    assert neither.exit_code == both.exit_code == 2
    assert "either FILE" in neither.stdout + neither.stderr

    missing = run_cli(capsys, "--json", "video", "add", "--key", "videos/40/source/talk.mp4")
    assert missing.exit_code == 4 and "no object" in missing.json()["error"]["message"]
    outside = run_cli(capsys, "--json", "video", "add", "--key", "tmp/talk.mp4")
    assert outside.exit_code == 3 and "outside the videos root" in outside.json()["error"]["message"]

    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/40/source/talk.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"t" * 10)
    added = run_cli(capsys, "--json", "video", "add", "--key", "videos/40/source/talk.mp4", "--title", "Talk")
    assert added.exit_code == 0, added.stdout
    video = added.json()["data"]
    assert (video["id"], video["status"], video["size_bytes"], video["title"]) == (40, "UPLOADED", 10, "Talk")
    assert stored.read_bytes() == b"t" * 10  # nothing was copied or moved
    twice = run_cli(capsys, "--json", "video", "add", "--key", "videos/40/source/talk.mp4")
    assert twice.exit_code == 5 and "belongs to video 40" in twice.json()["error"]["message"]


def test_on_r2_the_json_carries_a_signed_url_and_never_the_secret_key(capsys, r2_env):
    result = run_cli(capsys, "--json", "upload", "create", "--size", "10", "--content-type", "video/x-matroska")
    assert result.exit_code == 0, result.stdout + result.stderr
    upload = result.json()["data"]
    assert upload["method"] == "put" and upload["path"] is None
    assert upload["key"].endswith("/source/upload.mkv") and upload["headers"] == {"Content-Type": "video/x-matroska"}
    assert "X-Amz-Signature=" in upload["url"] and "X-Amz-Expires=3600" in upload["url"]
    # The signature is the only credential a presigned URL carries (with the key id it names).
    assert r2_env["R2_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr
    human = run_cli(capsys, "upload", "create")
    assert "PUT the file, with header Content-Type: video/mp4, to:" in human.stdout
    assert r2_env["R2_SECRET_ACCESS_KEY"] not in human.stdout + human.stderr


def test_a_multipart_upload_says_how_to_complete_it_as_the_cli_takes_it(capsys, r2_env):
    created = run_cli(capsys, "upload", "create", "--size", str(100 << 20))
    assert created.exit_code == 0, created.stdout + created.stderr
    text = " ".join(created.stdout.split())  # as the terminal wrapped it
    assert "PUT 7 parts of 16777216 bytes" in text
    assert "then: videoctl upload complete 1 --parts ETAG_1,ETAG_2,…,ETAG_7" in text
    assert "the 7 ETags in part order, comma-separated; or no --parts" in text


def test_a_local_upload_never_completed_expires_and_what_arrived_is_deleted(capsys, env, conn):
    upload = run_cli(capsys, "--json", "upload", "create", "--size", "4").json()["data"]
    video_id, path = upload["video"]["id"], Path(upload["path"])
    path.write_bytes(b"half")
    conn.execute("UPDATE video SET upload_expires_at = now() - interval '1 minute' WHERE id = %s", (video_id,))

    planned = run_cli(capsys, "--json", "scan-stuck", "--dry-run").json()["data"]
    assert [(u["video_id"], u["action"], u["outcome"]) for u in planned["uploads"]] == [(video_id, "expire", "planned")]
    assert path.exists()
    done = run_cli(capsys, "--json", "scan-stuck")
    assert done.exit_code == 0, done.stdout
    assert done.json()["data"]["summary"]["uploads_expired"] == 1
    assert not path.exists() and not path.parent.parent.exists()  # videos/{id}/ is gone
    video = run_cli(capsys, "--json", "video", "show", str(video_id)).json()["data"]
    assert (video["status"], video["error_code"]) == ("FAILED", "upload_expired")
    late = run_cli(capsys, "--json", "upload", "complete", str(video_id))
    assert late.exit_code == 5 and "upload_expired" in late.json()["error"]["message"]
    events = run_cli(capsys, "--json", "events", "list", "--video", str(video_id)).json()["data"]
    assert [e["type"] for e in events["events"]] == ["video.failed"]


@pytest.mark.parametrize("name, why", [
    (".", "names a folder, not a file"),
    ("talk.mp4 ", "ends with a space"),
    ("talk\x1b]8;;x\x07.mp4", "control character U+001B"),
    ("talk\r.mp4", "control character U+000D"),
])
def test_video_add_key_refuses_a_name_no_source_should_have(capsys, env, name, why):
    """Even when the object is there: the name alone is refused, and no video is created."""
    folder = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/41/source"
    folder.mkdir(parents=True)
    if name != ".":
        (folder / name).write_bytes(b"t" * 10)
    result = run_cli(capsys, "--json", "video", "add", "--key", f"videos/41/source/{name}")
    assert result.exit_code == 3, result.stdout
    error = result.json()["error"]
    assert error["code"] == "invalid_input" and why in error["message"]
    assert run_cli(capsys, "--json", "video", "list").json()["data"] == []
