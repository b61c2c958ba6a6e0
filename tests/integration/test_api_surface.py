"""The app's side of the API, as docs/api.md shows it: only `videoctl.api` is imported from videoctl.

Real PostgreSQL and moto Batch (nothing runs there): add, submit, read, cancel, retry, and the
errors an app catches, with their codes.
"""

from __future__ import annotations

import pytest

from videoctl.api import Client, InvalidInput, InvalidState, Job, JobState, NotFound, Video, VideoStatus


def test_add_submit_read_cancel_retry(moto_batch, tmp_path):
    source = tmp_path / "lecture.mp4"
    source.write_bytes(b"\x00" * 128)
    with Client() as videoctl:
        video = videoctl.add_video(source, title="Lecture 1")
        assert isinstance(video, Video) and video.status is VideoStatus.UPLOADED and video.size_bytes == 128
        job = videoctl.submit(video.id, priority=5)
        assert isinstance(job, Job) and job.state is JobState.SUBMITTED and job.executor_job_id
        assert videoctl.get_video(video.id).title == "Lecture 1"
        assert [v.id for v in videoctl.list_videos(status=VideoStatus.UPLOADED)] == [video.id]
        with pytest.raises(InvalidState) as busy:
            videoctl.submit(video.id)
        assert busy.value.code == "invalid_state" and f"job {job.id}" in busy.value.message

        cancelled = videoctl.cancel(job.id, "the app changed its mind")
        assert cancelled.state is JobState.CANCELLED
        retried = videoctl.retry(job.id)
        assert retried.id == job.id and retried.state is JobState.SUBMITTED and retried.attempt == 2
        assert videoctl.get_job(job.id).queue_position == 1


def test_the_errors_an_app_catches_have_stable_codes(env, tmp_path):
    with Client() as videoctl:
        with pytest.raises(NotFound) as missing:
            videoctl.get_video(12345)
        assert missing.value.to_dict()["code"] == "not_found"
        with pytest.raises(InvalidInput) as bad:
            videoctl.create_upload(content_type="application/pdf")
        assert bad.value.code == "invalid_input" and bad.value.hint
        with pytest.raises(InvalidInput, match="source file not found"):
            videoctl.add_video(tmp_path / "absent.mp4")
