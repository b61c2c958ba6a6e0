"""Reconcile's pure rules: folders and their owners, attempt names, playlist URIs, the key-order merge, the report."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.contract import problems
from videoctl.commands._render import dumps
from videoctl.domain import keys
from videoctl.domain.reconcile import (
    DriftRemains,
    JobAttempt,
    Outcome,
    VideoRow,
    covering_prefixes,
    group_of,
    in_key_order,
    owner_of,
    parse_attempt_job_name,
    resolve,
    unit_of,
    video_of_group,
    why_unowned,
)
from videoctl.services.reconcile import OrphanPrefix, ReconcileDocument, ReconcileReport, StuckVideo


def row(video_id=12, *, hls_path="videos/12/hls/3-1/master.m3u8", job_id=None, job_attempt=None):
    return VideoRow(video_id, "READY", hls_path, f"videos/{video_id}/source/a.mp4", job_id, job_attempt, False)


def test_keys_fall_in_the_folder_right_below_the_root():
    assert group_of("videos/12/hls/3-1/master.m3u8", "videos/") == "videos/12/"
    assert group_of("videos/tmp/a", "videos/") == "videos/tmp/"
    assert group_of("videos/readme.txt", "videos/") is None
    assert [video_of_group(g, "videos/") for g in ("videos/12/", "videos/012/", "videos/tmp/", "videos/1-old/")] == [
        12, None, None, None]


@pytest.mark.parametrize(("key", "unit"), [
    ("videos/12/hls/3-1/master.m3u8", "videos/12/hls/3-1/"),
    ("videos/12/hls/3-1/360p/seg_00000.ts", "videos/12/hls/3-1/"),
    ("videos/12/source/a.mp4", "videos/12/source/"),
    ("videos/12/thumbs/deep/a.jpg", "videos/12/thumbs/"),
    ("videos/12/hls/stray.ts", None),  # loose: a folder of its own would hold the ladder
    ("videos/12/notes.txt", None),
])
def test_a_key_belongs_to_the_folder_that_is_created_and_deleted_as_a_whole(key, unit):
    assert unit_of(key, "videos/12/") == unit


def test_a_video_owns_its_ladder_its_source_and_every_attempt_of_its_active_job():
    video = row(job_id=7, job_attempt=2)
    assert owner_of("videos/12/hls/3-1/", video, "videos/12/") == "the video's ladder"
    assert owner_of("videos/12/source/", video, "videos/12/") == "the video's source"
    assert owner_of("videos/12/hls/7-2/", video, "videos/12/") == "an attempt of active job 7"
    # run-job may still adopt an earlier attempt's complete upload.
    assert owner_of("videos/12/hls/7-1/", video, "videos/12/") == "an attempt of active job 7"
    for unowned in ("videos/12/hls/7-3/", "videos/12/hls/8-1/", "videos/12/hls/3-2/", "videos/12/thumbs/",
                    "videos/12/hls/x-1/"):
        assert owner_of(unowned, video, "videos/12/") is None, unowned
    # Without an active job no attempt folder is spoken for; a ladder is, whatever the status.
    assert owner_of("videos/12/hls/7-1/", row(), "videos/12/") is None
    assert owner_of("videos/12/hls/3-1/", row()._replace(status="FAILED"), "videos/12/") == "the video's ladder"


def test_the_folders_that_contain_a_prefix():
    assert covering_prefixes("videos/12/hls/3-1/") == ["videos/", "videos/12/", "videos/12/hls/", "videos/12/hls/3-1/"]


def test_attempt_names_read_back_exactly_as_they_are_written():
    assert parse_attempt_job_name(keys.attempt_job_name(12, 7, 3)) == (12, 7, 3)
    for other in ("video-012-job-7-a3", "video-12-job-7-a3x", "video-12-job-7", "nightly-backup", "video-0-job-1-a1"):
        assert parse_attempt_job_name(other) is None, other


def test_a_chunked_attempts_jobs_are_that_attempts():
    """Reconcile leaves a chunked attempt's array job and its resubmitted chunks alone."""
    assert parse_attempt_job_name(keys.chunks_job_name(12, 7, 3)) == (12, 7, 3)
    assert parse_attempt_job_name(keys.chunk_job_name(12, 7, 3, 0, 2)) == (12, 7, 3)
    assert parse_attempt_job_name(keys.chunk_job_name(12, 7, 3, 41, 1)) == (12, 7, 3)
    for other in ("video-12-job-7-a3-chunk", "video-12-job-7-a3-c01-t1", "video-12-job-7-a3-c1-t0",
                  "video-12-job-7-a3-c1", "video-12-job-7-a3-chunks-c1-t1"):
        assert parse_attempt_job_name(other) is None, other


@pytest.mark.parametrize(("job", "reason"), [
    (None, "no job 7"),
    (JobAttempt(7, 13, "RUNNING", 3), "job 7 is video 13's, not video 12's"),
    (JobAttempt(7, 12, "SUCCEEDED", 3), "job 7 is SUCCEEDED"),
    (JobAttempt(7, 12, "RETRY_WAIT", 4), "job 7 is on attempt 4, not 3"),
    (JobAttempt(7, 12, "RUNNING", 3), None),
    (JobAttempt(7, 12, "FAILED", 3), None),  # active until scan-stuck decides
])
def test_a_container_is_owned_only_by_the_current_attempt_of_an_active_job(job, reason):
    assert why_unowned((12, 7, 3), job) == reason


def test_playlist_uris_resolve_against_the_playlist():
    assert resolve("videos/1/hls/2-1/master.m3u8", "360p/index.m3u8") == "videos/1/hls/2-1/360p/index.m3u8"
    assert resolve("videos/1/hls/2-1/360p/index.m3u8", "seg_1.ts?v=2") == "videos/1/hls/2-1/360p/seg_1.ts"
    assert resolve("videos/1/hls/2-1/360p/index.m3u8", "../audio/init.mp4") == "videos/1/hls/2-1/audio/init.mp4"
    assert resolve("videos/1/hls/2-1/master.m3u8", "https://cdn.example/x.m3u8") is None
    assert resolve("videos/1/hls/2-1/master.m3u8", "/abs/x.m3u8") is None


def test_videos_come_in_the_byte_order_of_their_folders_one_page_per_length_at_a_time():
    ids = sorted({1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 999, 1000, 12345, 2**63 - 1})
    asked = []

    def fetch(after_id: int, last_id: int, limit: int) -> list[VideoRow]:
        asked.append((after_id, last_id))
        return [row(i) for i in ids if after_id < i <= last_id][:limit]

    assert [r.id for r in in_key_order(fetch, page=2)] == sorted(ids, key=lambda i: f"{i}/")
    assert [a for a in asked if a[1] == 99] == [(9, 99), (11, 99), (20, 99)]  # two-digit ids, two by two
    assert max(last for _, last in asked) == 2**63 - 1


def test_the_report_counts_everything_keeps_the_first_items_and_matches_its_document():
    report = ReconcileReport(fix=True, older_than_s=60.0, show=2)
    for n, outcome in enumerate((Outcome.FIXED, Outcome.GRACE, Outcome.FAILED, Outcome.MANUAL, Outcome.IN_HAND)):
        report.orphans.add(OrphanPrefix(f"videos/{n}/", n, 1, 1, None, "no video has this id", outcome))
    report.stuck.add(StuckVideo(5, "t", datetime(2026, 1, 1), Outcome.FIXED))

    counts = report.orphans.counts()
    assert counts == {"found": 5, "remaining": 2, "reported": 0, "fixed": 1, "failed": 1, "in_hand": 1,
                      "grace": 1, "manual": 1}
    assert len(report.orphans.items) == 2 and not report.in_sync
    assert problems(json.loads(dumps(report.to_dict())), ReconcileDocument) == []
    error = DriftRemains("drift remains", hint="h", report=report.to_dict()).to_dict()
    assert (error["code"], error["message"], error["in_sync"]) == ("drift", "drift remains", False)
