"""What gets encoded is what was completed: local mode (the store a directory, the real
PostgreSQL, real ffmpeg on generated clips). R2's side is in test_direct_uploads.py.

The local store's ETag is the SHA-256 of the file, recorded by `upload complete` and
`video add --key`; run-job hashes the copy it makes and refuses another content as
``source_changed``, a permanent error: DEAD at the next scan pass, nothing encoded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import clips
from videoctl.api import Client, VideoctlError
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    """The clip completed, and what may be written over it afterwards: a longer clip with
    sound, or the same bytes with 64 of them changed (same size)."""
    ffmpeg = find_ffmpeg()
    folder = tmp_path_factory.mktemp("clips")
    completed = clips.no_audio(ffmpeg, folder).read_bytes()
    middle = len(completed) // 2
    longer = clips.normal(ffmpeg, folder).read_bytes()
    assert len(longer) != len(completed)
    same_size = completed[:middle] + bytes(b ^ 0xFF for b in completed[middle:middle + 64]) + completed[middle + 64:]
    return {"completed": completed, "longer": longer, "same size": same_size}


@pytest.fixture
def client(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    with Client() as videoctl:
        yield videoctl


def rewrite(path: Path, content: bytes) -> None:
    """Write over the file in place (same inode) and set its times back, as a writer may."""
    before = path.stat()
    with open(path, "r+b") as file:
        file.write(content)
        file.truncate()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def run(ctx, client: Client, video_id: int):
    """The video's job, run here to its end as a local run-job process would."""
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video_id, max_attempts=3))
    try:
        client.run_job(job.id)
    except VideoctlError as exc:
        assert exc.code == "job_failed", exc.message
    return ctx.jobs.get(job.id)


def hls_of(env, video_id: int) -> Path:
    return Path(env["VIDEOCTL_STORAGE_DIR"]) / f"videos/{video_id}/hls"


def assert_dead_and_not_encoded(ctx, client: Client, env, job, video_id: int) -> None:
    assert (job.state, job.error_code) == (JobState.FAILED, "source_changed"), job.error_message
    assert f"the source 'videos/{video_id}/source/" in job.error_message
    assert "was replaced after it was recorded" in job.error_message
    client.scan()  # a permanent error: DEAD at once, never another attempt
    assert ctx.jobs.get(job.id).state is JobState.DEAD
    assert client.get_video(video_id).status is VideoStatus.FAILED
    assert not hls_of(env, video_id).exists() or not any(hls_of(env, video_id).rglob("*"))


@pytest.mark.parametrize("replacement", ["longer", "same size"])
def test_a_local_upload_written_over_after_completion_is_never_encoded(client, ctx, env, files, replacement):
    upload = client.create_upload(size=len(files["completed"]))
    path = Path(upload.path)
    path.write_bytes(files["completed"])
    done = client.mark_uploaded(upload.video.id).video
    assert done.source_etag.startswith("sha256:") and done.size_bytes == len(files["completed"])

    rewrite(path, files[replacement])
    job = run(ctx, client, done.id)
    assert_dead_and_not_encoded(ctx, client, env, job, done.id)
    if replacement == "longer":  # told by its size, before any byte is copied
        assert f"it is {len(files['longer'])} bytes, but {len(files['completed'])} were recorded" in job.error_message
    else:  # same size, same inode, same times: told by the content
        assert "it is no longer the object of ETag sha256:" in job.error_message


def test_a_registered_key_written_over_afterwards_is_never_encoded(client, ctx, env, files):
    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / "videos/30/source/talk.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(files["completed"])
    video = client.register_video("videos/30/source/talk.mp4")
    assert video.source_etag and video.source_etag.startswith("sha256:")

    rewrite(stored, files["same size"])
    assert_dead_and_not_encoded(ctx, client, env, run(ctx, client, video.id), video.id)


def test_an_upload_left_as_completed_encodes_and_so_does_a_video_from_before_etags(client, ctx, env, files, conn):
    kept = client.create_upload(size=len(files["completed"]))
    Path(kept.path).write_bytes(files["completed"])
    client.mark_uploaded(kept.video.id)
    assert run(ctx, client, kept.video.id).state is JobState.SUCCEEDED
    assert client.get_video(kept.video.id).status is VideoStatus.READY

    # A video completed before the migration has no ETag: it encodes what is there, as it always did.
    older = client.create_upload(size=len(files["completed"]))
    Path(older.path).write_bytes(files["completed"])
    client.mark_uploaded(older.video.id)
    conn.execute("UPDATE video SET source_etag = NULL WHERE id = %s", (older.video.id,))
    rewrite(Path(older.path), files["longer"])
    job = run(ctx, client, older.video.id)
    assert job.state is JobState.SUCCEEDED, job.error_message
    assert client.get_video(older.video.id).status is VideoStatus.READY
