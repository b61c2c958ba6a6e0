"""Direct uploads through the public API, against a moto server with real HTTP PUTs.

Only `videoctl.api` is imported from videoctl: this is how an app uses it (docs/api.md).
The client side of each upload is plain HTTP (requests), as a browser's would be.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import boto3
import pytest
import requests

from videoctl.api import Client, InvalidInput, InvalidState, NotFound, VideoctlError, VideoStatus

BUCKET = "uploads-test"
MiB = 1 << 20


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def r2(moto_endpoint: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, request) -> Iterator[object]:
    """A bucket of its own on the moto server, and videoctl's R2 settings pointing at it."""
    bucket = f"{BUCKET}-{abs(hash(request.node.name)) % 10**8}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for name, value in {"R2_BUCKET": bucket, "R2_ENDPOINT_URL": moto_endpoint, "R2_ACCESS_KEY_ID": "r2-key",
                        "R2_SECRET_ACCESS_KEY": "r2-secret-Qx9", "VIDEOCTL_AWS_ENDPOINT_URL": moto_endpoint,
                        "VIDEOCTL_EXECUTOR": "batch"}.items():
        monkeypatch.setenv(name, value)
    s3.bucket = bucket  # type: ignore[attr-defined]
    yield s3


@pytest.fixture
def client(r2) -> Iterator[Client]:
    with Client() as videoctl:
        yield videoctl


def _put(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    response = requests.put(url, data=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_below_100_mib_one_presigned_put_then_complete(client: Client, r2):
    upload = client.create_upload(title="Lecture 1", size=3 * MiB, content_type="video/mp4")
    video = upload.video
    assert (upload.method, video.status, video.size_bytes) == ("put", VideoStatus.PENDING, 3 * MiB)
    assert upload.key == f"videos/{video.id}/source/upload.mp4" and video.source_key == upload.key
    assert upload.headers == {"Content-Type": "video/mp4"}
    # The URL is for this one key, signed, and expires in an hour (the default).
    assert f"/{r2.bucket}/videos/{video.id}/source/upload.mp4?" in upload.url
    assert "X-Amz-Signature=" in upload.url and "X-Amz-Expires=3600" in upload.url
    assert "r2-secret-Qx9" not in json.dumps(upload.url)
    assert (upload.urls_expire_at - video.created_at).total_seconds() == pytest.approx(3600, abs=60)
    assert (upload.upload_expires_at - video.created_at).total_seconds() == pytest.approx(86_400, abs=60)

    body = b"\x00\x01" * (3 * MiB // 2)
    _put(upload.url, body, upload.headers)
    done = client.mark_uploaded(video.id)
    assert done.video.status is VideoStatus.UPLOADED and done.video.size_bytes == len(body)
    assert done.job is None and not done.already_completed  # auto-submit is off
    assert r2.get_object(Bucket=r2.bucket, Key=upload.key)["ContentType"] == "video/mp4"
    # A retried completion (the app timed out, say) changes nothing.
    again = client.mark_uploaded(video.id)
    assert again.already_completed and again.video.status is VideoStatus.UPLOADED


def test_from_100_mib_a_multipart_upload_with_a_url_per_part(client: Client, r2):
    size = 100 * MiB + 123
    upload = client.create_upload(size=size, content_type="video/quicktime")
    assert upload.method == "multipart" and upload.upload_id and upload.url is None
    assert upload.part_size == 16 * MiB and len(upload.parts) == 7
    assert [p.number for p in upload.parts] == list(range(1, 8))
    assert sum(p.size for p in upload.parts) == size
    assert all(f"partNumber={p.number}" in p.url and "uploadId=" in p.url for p in upload.parts)
    assert upload.key.endswith("/source/upload.mov")

    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    etags, offset = [], 0
    for part in upload.parts:
        etags.append(_put(part.url, data[offset:offset + part.size], {}).headers["ETag"])
        offset += part.size
    done = client.mark_uploaded(upload.video.id, etags=etags)
    assert done.video.status is VideoStatus.UPLOADED and done.video.size_bytes == size
    stored = r2.get_object(Bucket=r2.bucket, Key=upload.key)["Body"].read()
    assert stored == data
    assert r2.list_multipart_uploads(Bucket=r2.bucket).get("Uploads", []) == []


def test_a_multipart_upload_completed_without_etags_joins_the_parts_the_bucket_holds(client: Client, r2):
    upload = client.create_upload(size=100 * MiB)
    for part in upload.parts:
        _put(part.url, b"v" * part.size, {})
    done = client.mark_uploaded(upload.video.id)
    assert done.video.size_bytes == 100 * MiB
    head = r2.head_object(Bucket=r2.bucket, Key=upload.key)
    assert head["ContentLength"] == 100 * MiB and done.video.source_etag == head["ETag"]


def _multipart_sent(client: Client, size: int, skip: int | None = None):
    """A multipart upload of *size* bytes with every part PUT (but part *skip*), and their ETags."""
    upload = client.create_upload(size=size)
    data = random.Random(size).randbytes(size)  # every part its own bytes, so its own ETag
    etags, offset = [], 0
    for part in upload.parts:
        if part.number != skip:
            etags.append(_put(part.url, data[offset:offset + part.size], {}).headers["ETag"])
        offset += part.size
    return upload, etags, data


def _still_open(client: Client, r2, upload) -> bool:
    open_uploads = r2.list_multipart_uploads(Bucket=r2.bucket).get("Uploads", [])
    return (client.get_video(upload.video.id).status is VideoStatus.PENDING
            and [u["UploadId"] for u in open_uploads] == [upload.upload_id])


def test_a_parts_list_that_is_not_the_plan_is_refused_before_joining_and_the_upload_stays_completable(
        client: Client, r2):
    upload, etags, data = _multipart_sent(client, 100 * MiB + 123)
    assert len(etags) == 7
    wrong_lists = {
        "six of seven (S3 would join them into a shorter object)": (etags[:6], "7 parts, but 6 ETags"),
        "one twice": ([*etags, etags[0]], "7 parts, but 8 ETags"),
        "out of order": ([etags[1], etags[0], *etags[2:]], "part 1 .* is not that of the part the bucket holds"),
        "the hint's placeholder": ([*etags[:6], "…"], "part 7 is not an ETag"),
    }
    for name, (wrong, why) in wrong_lists.items():
        with pytest.raises(InvalidInput, match=why):
            client.mark_uploaded(upload.video.id, etags=wrong)
        assert _still_open(client, r2, upload), name
    assert r2.list_objects_v2(Bucket=r2.bucket, Prefix=upload.key).get("KeyCount") == 0  # nothing joined

    done = client.mark_uploaded(upload.video.id, etags=[etag.strip('"') for etag in etags])  # as a shell passes them
    assert done.video.status is VideoStatus.UPLOADED and done.video.size_bytes == len(data)
    assert r2.get_object(Bucket=r2.bucket, Key=upload.key)["Body"].read() == data


def test_the_parts_the_bucket_holds_must_be_the_plan_too(client: Client, r2):
    upload, _, data = _multipart_sent(client, 100 * MiB + 123, skip=3)
    with pytest.raises(InvalidInput, match="1 of the upload's 7 parts have not arrived: part 3"):
        client.mark_uploaded(upload.video.id)
    assert _still_open(client, r2, upload)
    third = upload.parts[2]
    start = 2 * upload.part_size
    _put(third.url, data[start:start + third.size - 1], {})  # one byte short
    with pytest.raises(InvalidInput, match=f"part 3 holds {third.size - 1} bytes, but the upload's plan says "
                                           f"{third.size}"):
        client.mark_uploaded(upload.video.id)
    assert _still_open(client, r2, upload)
    _put(third.url, data[start:start + third.size], {})  # sent again, whole
    done = client.mark_uploaded(upload.video.id)
    assert done.video.status is VideoStatus.UPLOADED
    assert r2.get_object(Bucket=r2.bucket, Key=upload.key)["Body"].read() == data


def test_the_complete_hint_is_a_command_the_cli_takes(client: Client, r2, capsys):
    import re
    import shlex

    from tests.cli import run_cli

    upload, etags, _ = _multipart_sent(client, 100 * MiB)
    command = shlex.split(upload.complete)
    assert command[:4] == ["videoctl", "upload", "complete", str(upload.video.id)] and command[4] == "--parts"
    assert len(command) == 6 and re.fullmatch(r"ETAG_1,ETAG_2,…,ETAG_7", command[5])
    command[5] = ",".join(etags)  # the placeholder filled in with what the PUTs answered
    result = run_cli(capsys, *command[1:])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert client.get_video(upload.video.id).status is VideoStatus.UPLOADED


def test_an_upload_that_did_not_arrive_whole_leaves_the_video_pending(client: Client, r2):
    upload = client.create_upload(size=1000)
    with pytest.raises(NotFound, match="nothing has been uploaded"):
        client.mark_uploaded(upload.video.id)
    _put(upload.url, b"short", upload.headers)
    with pytest.raises(InvalidInput, match="5 bytes, but 1000 were declared"):
        client.mark_uploaded(upload.video.id)
    assert client.get_video(upload.video.id).status is VideoStatus.PENDING
    _put(upload.url, b"z" * 1000, upload.headers)  # the client sends it again, whole
    assert client.mark_uploaded(upload.video.id).video.status is VideoStatus.UPLOADED


def test_an_empty_upload_is_refused(client: Client, r2):
    upload = client.create_upload()
    _put(upload.url, b"", upload.headers)
    with pytest.raises(InvalidInput, match="empty"):
        client.mark_uploaded(upload.video.id)


def test_parts_for_a_single_put_upload_are_refused(client: Client, r2):
    upload = client.create_upload(size=10)
    _put(upload.url, b"0123456789", upload.headers)
    with pytest.raises(InvalidInput, match="single PUT"):
        client.mark_uploaded(upload.video.id, etags=['"abc"'])


@pytest.mark.parametrize("content_type", ["text/html", "video/html", "video/svg+xml", "application/x-sh", "image/png",
                                          "audio/mpeg"])
def test_only_a_video_container_type_may_be_uploaded_and_nothing_is_created_otherwise(client: Client, content_type):
    before = client.list_videos(status=VideoStatus.PENDING)
    with pytest.raises(InvalidInput, match="not a video container type|an audio type"):
        client.create_upload(content_type=content_type)
    assert client.list_videos(status=VideoStatus.PENDING) == before


def test_register_a_key_already_in_the_bucket_copies_nothing(client: Client, r2):
    key = "videos/123/source/lecture.mp4"
    r2.put_object(Bucket=r2.bucket, Key=key, Body=b"m" * 4096)
    video = client.register_video(key, title="Lecture")
    assert (video.id, video.status, video.size_bytes, video.source_key) == (123, VideoStatus.UPLOADED, 4096, key)
    listed = r2.list_objects_v2(Bucket=r2.bucket, Prefix="videos/")["Contents"]
    assert [o["Key"] for o in listed] == [key]
    # The id is taken, and only that id: later videos are numbered from 1 and pass over it, and
    # the key cannot be registered twice.
    assert client.create_upload().video.id == 1
    with pytest.raises(InvalidState, match="belongs to video 123"):
        client.register_video(key)


def test_register_refuses_a_missing_an_empty_or_a_misplaced_object(client: Client, r2):
    with pytest.raises(NotFound, match="no object 'videos/5/source/a.mp4'"):
        client.register_video("videos/5/source/a.mp4")
    r2.put_object(Bucket=r2.bucket, Key="videos/6/source/a.mp4", Body=b"")
    with pytest.raises(InvalidInput, match="empty"):
        client.register_video("videos/6/source/a.mp4")
    r2.put_object(Bucket=r2.bucket, Key="elsewhere/a.mp4", Body=b"x")
    with pytest.raises(InvalidInput, match="outside the videos root"):
        client.register_video("elsewhere/a.mp4")
    assert client.list_videos() == []


# ---------------------------------------------------------------- auto-submit and expiry


@pytest.fixture(scope="module")
def moto_batch_server(moto_endpoint: str) -> str:
    """Batch on the moto server (no Docker), its queue and job definition, once for the module."""
    import os

    from tests.moto_batch import create_batch_resources

    requests.post(f"{moto_endpoint}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10)
    saved = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL_BATCH", "AWS_ENDPOINT_URL_IAM")}
    os.environ.update({name: moto_endpoint for name in saved})
    try:
        create_batch_resources()
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    return moto_endpoint


def _backdate(conn, video_id: int, column: str, hours: float) -> None:
    assert column in ("upload_expires_at", "auto_submit_at")
    conn.execute(f"UPDATE video SET {column} = now() - make_interval(hours => %s) WHERE id = %s",  # noqa: S608
                 (hours, video_id))


def test_with_auto_submit_an_upload_is_encoding_the_moment_it_completes(r2, moto_batch_server, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_AUTO_SUBMIT", "1")
    with Client() as client:
        upload = client.create_upload(size=4)
        assert client.get_video(upload.video.id).auto_submit_at is None  # PENDING: nothing to submit yet
        _put(upload.url, b"abcd", upload.headers)
        done = client.mark_uploaded(upload.video.id)
        assert done.submit_error is None and done.job is not None
        assert done.job.state == "SUBMITTED" and done.job.executor_job_id
        assert client.get_video(upload.video.id).auto_submit_at is None
        # Registering a key is an upload too.
        r2.put_object(Bucket=r2.bucket, Key="videos/700/source/a.mp4", Body=b"abc")
        registered = client.register_video("videos/700/source/a.mp4")
        [job] = client.list_jobs(video_id=registered.id)
        assert job.state == "SUBMITTED" and registered.auto_submit_at is None


def test_an_auto_submit_that_failed_is_made_by_the_next_scan_pass(r2, moto_batch_server, monkeypatch, conn):
    monkeypatch.setenv("VIDEOCTL_AUTO_SUBMIT", "1")
    monkeypatch.setenv("VIDEO_BATCH_JOB_QUEUE", "no-such-queue")  # SubmitJob fails
    with Client() as client:
        upload = client.create_upload(size=4)
        _put(upload.url, b"abcd", upload.headers)
        done = client.mark_uploaded(upload.video.id)
    assert done.video.status is VideoStatus.UPLOADED  # the upload is not lost to a failed submit
    assert done.submit_error and done.job is not None and done.job.state == "QUEUED"
    monkeypatch.setenv("VIDEO_BATCH_JOB_QUEUE", "academy-video-batch-queue")
    monkeypatch.setenv("VIDEOCTL_QUEUED_AFTER_SECONDS", "1")
    conn.execute("UPDATE video_transcode_job SET updated_at = now() - interval '1 minute' WHERE id = %s",
                 (done.job.id,))
    with Client() as client:
        client.scan()
        job = client.get_job(done.job.id)
    # The refused SubmitJob was undone (attempt 0 again); the scan's is the first that counts.
    assert job.state == "SUBMITTED" and job.attempt == 1 and job.executor_job_id


def test_expired_uploads_are_aborted_failed_and_their_objects_deleted_by_the_scan(r2, moto_batch_server, conn):
    sqs = boto3.client("sqs", endpoint_url=moto_batch_server, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="academy-video-delete-r2")["QueueUrl"]
    with Client() as client:
        multipart = client.create_upload(size=100 * MiB)
        _put(multipart.parts[0].url, b"p" * multipart.parts[0].size, {})
        single = client.create_upload(size=5)
        _put(single.url, b"hello", single.headers)  # sent, never completed
        fresh = client.create_upload(size=5)
        for upload in (multipart, single):
            _backdate(conn, upload.video.id, "upload_expires_at", 1)

        planned = client.scan(dry_run=True)
        assert sorted((u.video_id, u.action, u.outcome) for u in planned.uploads) == [
            (multipart.video.id, "expire", "planned"), (single.video.id, "expire", "planned")]
        assert client.get_video(multipart.video.id).status is VideoStatus.PENDING
        assert len(r2.list_multipart_uploads(Bucket=r2.bucket).get("Uploads", [])) == 1

        report = client.scan()
        assert report.summary()["uploads_expired"] == 2 and report.errors == 0
        for upload in (multipart, single):
            video = client.get_video(upload.video.id)
            assert (video.status, video.error_code) == (VideoStatus.FAILED, "upload_expired")
            assert "expired" in video.error_message and video.upload_id is None
        assert client.get_video(fresh.video.id).status is VideoStatus.PENDING
        assert r2.list_multipart_uploads(Bucket=r2.bucket).get("Uploads", []) == []
        # What did arrive goes through delete-r2, like every deletion on R2.
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
                  .get("Messages", [])]
        assert sorted(b["prefix"] for b in bodies) == sorted(
            f"videos/{u.video.id}/" for u in (multipart, single))
        # An expired upload cannot be completed any more, and says why.
        with pytest.raises(InvalidState, match="upload_expired"):
            client.mark_uploaded(single.video.id)
        assert client.scan().summary()["uploads_expired"] == 0


# ---------------------------------------------------------------- what is encoded is what was completed


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    """Real video: the clip completed, and what is sent to its still valid URL afterwards: a
    longer clip with sound, or the same bytes with 64 of them changed (same size)."""
    import imageio_ffmpeg

    from tests import clips

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    folder = tmp_path_factory.mktemp("clips")
    completed = clips.no_audio(ffmpeg, folder).read_bytes()
    longer = clips.normal(ffmpeg, folder).read_bytes()
    assert len(longer) != len(completed)
    middle = len(completed) // 2
    same_size = completed[:middle] + bytes(b ^ 0xFF for b in completed[middle:middle + 64]) + completed[middle + 64:]
    return {"completed": completed, "longer": longer, "same size": same_size}


@pytest.fixture
def encoder(r2, moto_batch_server, monkeypatch, tmp_path):
    """Submit a video to (moto's) Batch and run its attempt here, as the Batch container would."""
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))

    def encode(client: Client, video_id: int):
        job = client.submit(video_id)
        monkeypatch.setenv("AWS_BATCH_JOB_ID", job.executor_job_id)  # the container of this attempt
        try:
            client.run_job(job.id)
        except VideoctlError as exc:
            assert exc.code == "job_failed", exc.message
        finally:
            monkeypatch.delenv("AWS_BATCH_JOB_ID")
        return client.get_job(job.id)

    return encode


def _assert_dead_and_not_encoded(client: Client, r2, job, video_id: int) -> None:
    assert (job.state, job.error_code) == ("FAILED", "source_changed"), job.error_message
    assert "was replaced after it was recorded" in job.error_message
    client.scan()  # a permanent error: DEAD at once, never another attempt
    assert client.get_job(job.id).state == "DEAD"
    assert client.get_video(video_id).status is VideoStatus.FAILED
    assert r2.list_objects_v2(Bucket=r2.bucket, Prefix=f"videos/{video_id}/hls/").get("KeyCount") == 0


@pytest.mark.parametrize("replacement", ["longer", "same size"])
def test_a_file_put_again_after_completion_is_never_encoded(client: Client, r2, encoder, files, replacement):
    upload = client.create_upload(size=len(files["completed"]))
    _put(upload.url, files["completed"], upload.headers)
    done = client.mark_uploaded(upload.video.id).video
    assert done.source_etag == r2.head_object(Bucket=r2.bucket, Key=upload.key)["ETag"]

    _put(upload.url, files[replacement], upload.headers)  # the URL is valid for an hour: it is taken
    job = encoder(client, done.id)
    _assert_dead_and_not_encoded(client, r2, job, done.id)
    if replacement == "longer":  # told by its size, before a byte is read
        assert f"it is {len(files['longer'])} bytes, but {len(files['completed'])} were recorded" in job.error_message
    else:  # told by the download itself: its GETs carry If-Match, and R2 answers 412
        assert f"it is no longer the object of ETag {done.source_etag}" in job.error_message
    assert client.get_video(done.id).size_bytes == len(files["completed"])


def test_a_registered_key_replaced_afterwards_is_never_encoded(client: Client, r2, encoder, files):
    key = "videos/300/source/talk.mp4"
    r2.put_object(Bucket=r2.bucket, Key=key, Body=files["completed"])
    video = client.register_video(key)
    assert video.source_etag == r2.head_object(Bucket=r2.bucket, Key=key)["ETag"]
    r2.put_object(Bucket=r2.bucket, Key=key, Body=files["same size"])
    _assert_dead_and_not_encoded(client, r2, encoder(client, video.id), video.id)


def test_an_upload_left_as_completed_is_encoded(client: Client, r2, encoder, files):
    upload = client.create_upload(size=len(files["completed"]))
    _put(upload.url, files["completed"], upload.headers)
    client.mark_uploaded(upload.video.id)
    job = encoder(client, upload.video.id)
    assert job.state == "SUCCEEDED", job.error_message
    assert client.get_video(upload.video.id).status is VideoStatus.READY
