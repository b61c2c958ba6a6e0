"""Quality of a ladder (issue 22) on the real database, real ffmpeg and a local store or moto's R2.

run-job measures the ladder it made before completing (VIDEOCTL_MEASURE_QUALITY) and stores
the rungs with the completion; a measurement that fails is logged and recorded, and the job
completes. `Client.quality` measures a live ladder again and replaces the ladder's results;
from R2 a sample downloads only the segments it scores.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from videoctl.api import Client
from videoctl.db.repositories import JobRepository, QualityRepository
from videoctl.domain import keys
from videoctl.domain.errors import InvalidState
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media import quality as scoring
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.storage.local import LocalStore
from videoctl.storage.s3 import S3Store

pytestmark = pytest.mark.slow

#: 7 one-second segments: a sample of 6 scores fewer than all of them. Small pictures keep libvmaf quick.
SECONDS, SEGMENT_S = 7, 1
LADDER = "240:400,144:100"


@pytest.fixture
def quality_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", LADDER)
    monkeypatch.setenv("VIDEOCTL_SEGMENT_SECONDS", str(SEGMENT_S))
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return env


@pytest.fixture
def clip(tmp_path) -> Path:
    return generate_sample_clip(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=SECONDS, width=426, height=240)


def encode(conn, clip: Path):
    """A video added and encoded by run-job in this process; its job and the video, READY."""
    with Client() as videoctl:
        video = videoctl.add_video(clip, title="lecture")
        job = JobRepository(conn).create(video.id, max_attempts=1)
        result = videoctl.run_job(job.id)
    assert result.outcome == "encoded" and result.job.state is JobState.SUCCEEDED
    assert result.video.status is VideoStatus.READY
    return result.job, result.video


def test_run_job_samples_the_new_ladder_and_stores_it_with_the_completion(quality_env, conn, clip):
    job, video = encode(conn, clip)

    prefix = keys.prefix_of_master(video.hls_path)
    rungs, failure = QualityRepository(conn).of_ladder(prefix)
    assert failure is None
    assert [(r.rung, r.width, r.height) for r in rungs] == [("240p", 426, 240), ("144p", 256, 144)]
    top, low = rungs
    assert top.top_rung and not low.top_rung
    assert {(r.video_id, r.job_id, r.attempt, r.output_prefix, r.mode) for r in rungs} == {
        (video.id, job.id, job.attempt, prefix, "sample")}
    assert top.segments == low.segments == 6 < SECONDS // SEGMENT_S  # a sample, not the whole video
    assert top.vmaf_mean > low.vmaf_mean and top.psnr_y_mean > low.psnr_y_mean
    assert top.vmaf_p5 <= top.vmaf_mean
    assert low.bitrate_bps < top.bitrate_bps
    # measured_at is the completion's transaction time, like the job's finish.
    assert top.measured_at <= JobRepository(conn).get(job.id).finished_at


def test_full_mode_scores_every_segment(quality_env, conn, clip, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_MEASURE_QUALITY", "full")
    _, video = encode(conn, clip)
    rungs, _ = QualityRepository(conn).of_ladder(keys.prefix_of_master(video.hls_path))
    assert [(r.mode, r.segments) for r in rungs] == [("full", SECONDS // SEGMENT_S)] * 2


def test_measuring_off_stores_nothing(quality_env, conn, clip, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_MEASURE_QUALITY", "off")
    _, video = encode(conn, clip)
    assert QualityRepository(conn).of_ladder(keys.prefix_of_master(video.hls_path)) == ([], None)


def test_a_failing_measurement_is_logged_and_recorded_and_the_job_still_completes(quality_env, conn, clip,
                                                                                    monkeypatch, caplog):
    # A model file that is not there: libvmaf itself refuses, in the real ffmpeg.
    monkeypatch.setattr(scoring, "MODEL", "path=/nonexistent/vmaf_model.json")
    with caplog.at_level(logging.WARNING, logger="videoctl.services.ladder_quality"):
        job, video = encode(conn, clip)

    assert JobRepository(conn).get(job.id).error_code is None
    rungs, failure = QualityRepository(conn).of_ladder(keys.prefix_of_master(video.hls_path))
    assert rungs == []
    assert failure is not None and failure.error_code == "media_error" and failure.mode == "sample"
    assert (failure.video_id, failure.job_id, failure.attempt) == (video.id, job.id, job.attempt)
    assert "ffmpeg" in failure.error_message
    logged = [r for r in caplog.records if r.getMessage().startswith("the quality measurement failed")]
    assert logged and logged[0].error_code == "media_error"
    # What the operator sees, and the remedy: measuring again replaces the failure.
    with Client() as videoctl:
        assert videoctl.video_detail(video.id).quality_error == failure
        monkeypatch.undo()
        measured = videoctl.quality(video.id, sample=2)
        detail = videoctl.video_detail(video.id)
    assert detail.quality_error is None and detail.quality == measured


def test_an_unexpected_exception_in_the_measurement_never_fails_the_job(quality_env, conn, clip, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(scoring, "score", broken)
    _, video = encode(conn, clip)
    _, failure = QualityRepository(conn).of_ladder(keys.prefix_of_master(video.hls_path))
    assert failure.error_code == "internal_error" and "ZeroDivisionError" in failure.error_message


def test_measuring_again_replaces_the_ladders_results(quality_env, conn, clip, monkeypatch):
    _, video = encode(conn, clip)
    prefix = keys.prefix_of_master(video.hls_path)
    with Client() as videoctl:
        full = videoctl.quality(video.id, full=True)
        assert [(r.rung, r.mode, r.segments) for r in full] == [("240p", "full", 7), ("144p", "full", 7)]
        assert QualityRepository(conn).of_ladder(prefix) == (full, None)
        downloaded = _spy_downloads(monkeypatch, LocalStore)
        sampled = videoctl.quality(video.id, sample=3)
    assert [(r.mode, r.segments) for r in sampled] == [("sample", 3)] * 2
    assert QualityRepository(conn).of_ladder(prefix) == (sampled, None)
    assert conn.execute("SELECT count(*) AS n FROM rung_quality").fetchone()["n"] == 2
    _only_the_sampled_segments(downloaded, video, sampled=3)


def test_a_video_without_a_live_ladder_cannot_be_measured(quality_env, conn, clip):
    with Client() as videoctl:
        video = videoctl.add_video(clip)
        with pytest.raises(InvalidState, match="UPLOADED: it has no live ladder"):
            videoctl.quality(video.id)


def test_a_sample_from_r2_downloads_only_the_segments_it_scores(r2_env, quality_env, conn, clip, monkeypatch):
    job, video = encode(conn, clip)
    assert video.hls_path.startswith(f"videos/{video.id}/hls/{job.id}-")
    downloaded = _spy_downloads(monkeypatch, S3Store)
    with Client() as videoctl:
        rungs = videoctl.quality(video.id, sample=2)
    assert [(r.rung, r.segments) for r in rungs] == [("240p", 2), ("144p", 2)]
    assert rungs[0].vmaf_mean > rungs[1].vmaf_mean
    _only_the_sampled_segments(downloaded, video, sampled=2)


def _spy_downloads(monkeypatch, store_class) -> list[str]:
    keys_read: list[str] = []
    original = store_class.download_file

    def download_file(self, key, path, **options):
        keys_read.append(key)
        return original(self, key, path, **options)

    monkeypatch.setattr(store_class, "download_file", download_file)
    return keys_read


def _only_the_sampled_segments(downloaded: list[str], video, *, sampled: int) -> None:
    prefix = keys.prefix_of_master(video.hls_path)
    ladder = sorted(key.removeprefix(prefix) for key in downloaded if key.startswith(prefix))
    assert [key for key in downloaded if not key.startswith(prefix)] == [video.source_key]
    segments = [name for name in ladder if name.endswith(".m4s")]
    assert len(segments) == 2 * sampled  # two rungs: the chosen segments of each, out of 7 each
    assert ladder == sorted(["master.m3u8", "240p/index.m3u8", "144p/index.m3u8", "240p/init_240p.mp4",
                             "144p/init_144p.mp4", *segments])
