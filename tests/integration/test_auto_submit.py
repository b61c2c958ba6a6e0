"""VIDEOCTL_AUTO_SUBMIT: a video that became UPLOADED gets its job, once, even when the
process that committed it died before submitting (real PostgreSQL, moto Batch)."""

from __future__ import annotations

import pytest

from tests.integration.test_submit import all_batch_jobs
from videoctl.api import Client
from videoctl.domain.states import JobState, VideoStatus
from videoctl.services.videos import add_video


@pytest.fixture
def auto(monkeypatch, moto_batch):
    monkeypatch.setenv("VIDEOCTL_AUTO_SUBMIT", "1")
    monkeypatch.setenv("VIDEOCTL_QUEUED_AFTER_SECONDS", "1")
    return moto_batch


def _waited(conn, video_id: int, seconds: float) -> None:
    conn.execute("UPDATE video SET auto_submit_at = now() - make_interval(secs => %s) WHERE id = %s",
                 (seconds, video_id))


def test_video_add_is_submitted_at_once(auto, tmp_path):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"\x00" * 64)
    with Client() as client:
        video = client.add_video(source)
        [job] = client.list_jobs(video_id=video.id)
    assert job.state is JobState.SUBMITTED and video.auto_submit_at is None
    assert len(all_batch_jobs()) == 1


def test_killed_between_the_commit_and_the_submit_the_scan_submits_it_once(auto, ctx, tmp_path, conn):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"\x00" * 64)
    # What a process that died right after the commit leaves: UPLOADED, waiting, no job.
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source, auto_submit=True)
    assert video.auto_submit_at is not None and ctx.jobs.active_for_video(video.id) is None

    with Client() as client:
        assert client.scan().uploads == []  # not yet: the submit may still be on its way
        _waited(conn, video.id, 5)
        planned = client.scan(dry_run=True)
        assert [(u.video_id, u.action, u.outcome) for u in planned.uploads] == [(video.id, "submit", "planned")]
        assert client.list_jobs(video_id=video.id) == []
        report = client.scan()
        [item] = report.uploads
        assert (item.action, item.outcome) == ("submit", "done") and report.summary()["auto_submitted"] == 1
        [job] = client.list_jobs(video_id=video.id)
        assert job.id == item.job_id and job.state is JobState.SUBMITTED
        assert client.get_video(video.id).auto_submit_at is None
        assert client.scan().uploads == []  # once: the job's creation ended the wait
    assert len(all_batch_jobs()) == 1


def test_a_video_submitted_by_hand_meanwhile_is_not_submitted_again(auto, ctx, tmp_path, conn):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"\x00" * 64)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source, auto_submit=True)
    _waited(conn, video.id, 5)
    with Client() as client:
        client.submit(video.id)
        assert client.scan().uploads == []
    assert len(all_batch_jobs()) == 1


def test_without_auto_submit_nothing_waits_and_the_scan_submits_nothing(moto_batch, tmp_path):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"\x00" * 64)
    with Client() as client:
        video = client.add_video(source)
        assert video.auto_submit_at is None and video.status is VideoStatus.UPLOADED
        assert client.list_jobs(video_id=video.id) == [] and client.scan().uploads == []
