"""Quality of a ladder's rungs against the source (issue 22): `videoctl quality`, and its records.

- ``videoctl quality VIDEO_ID [--sample N] [--full]`` (:func:`measure_live_ladder`): the live
  ladder of a READY video, read from the store, against its source.
- run-job measures the ladder it has just made (services/ladder_quality.py, per
  ``VIDEOCTL_MEASURE_QUALITY``) and stores the outcome with its completion
  (:func:`record_outcome`): the rungs, or why the measurement failed.

Either way a measurement replaces whatever its ladder had (one row per rung, the top one
marked); `video show`, the video's page (:func:`ladder_quality`) and `stats`
(:func:`top_rung_distribution`) read them back.
"""

from __future__ import annotations

import logging

from videoctl.domain import keys
from videoctl.domain.errors import DbError, InvalidState
from videoctl.domain.quality import FULL, SAMPLE, Distribution, QualityFailure, RungQuality, distribution
from videoctl.domain.repositories import QualityRepository, VideoRepository
from videoctl.domain.states import VideoStatus, video_deleted
from videoctl.media.probe import probe
from videoctl.services.encode import fetch_source
from videoctl.services.ladder_quality import QualityOutcome, StoredLadder, libvmaf_threads, measure_ladder
from videoctl.settings import Settings
from videoctl.storage import ObjectStore, scratch

log = logging.getLogger(__name__)


def measure_live_ladder(video_id: int, *, samples: int, full: bool, videos: VideoRepository,
                        quality: QualityRepository, store: ObjectStore, settings: Settings,
                        ffmpeg: str) -> list[RungQuality]:
    """Measure a READY video's live ladder against its source and store the results (replacing the
    ladder's earlier ones); a failure is raised, and earlier results stay."""
    video = videos.get(video_id)
    if video.status is VideoStatus.DELETED:
        raise video_deleted(video.id, "it has no ladder to measure")
    if video.status is not VideoStatus.READY or not video.hls_path:
        raise InvalidState(f"video {video.id} is {video.status}: it has no live ladder to measure",
                           hint=f"encode it first: `videoctl submit {video.id}`")
    made_by = keys.attempt_of_ladder(video.hls_path)
    if made_by is None:
        raise InvalidState(f"video {video.id}'s ladder {video.hls_path!r} is not under a job's attempt prefix")
    prefix = keys.prefix_of_master(video.hls_path)
    mode = FULL if full else SAMPLE
    with scratch.scratch_dir(settings.scratch_dir, f"videoctl-quality-{video.id}") as workdir:
        source = fetch_source(store, video, workdir)
        measured = measure_ladder(StoredLadder(store, prefix, workdir / "ladder"), ffmpeg=ffmpeg, source=source,
                                  info=probe(source), mode=mode, samples=samples, workdir=workdir,
                                  threads=libvmaf_threads())
    job_id, attempt = made_by
    return quality.replace(prefix, video_id=video.id, job_id=job_id, attempt=attempt, mode=mode,
                           rungs=[rung.row() for rung in measured])


def ladder_quality(quality: QualityRepository, hls_path: str | None
                   ) -> tuple[list[RungQuality], QualityFailure | None]:
    """The stored results of the ladder a video serves (nothing without one)."""
    if not hls_path:
        return [], None
    return quality.of_ladder(keys.prefix_of_master(hls_path))


def top_rung_distribution(quality: QualityRepository, *, hours: int) -> Distribution | None:
    """How the mean VMAF of the top rungs measured in the last *hours* spreads; None without any."""
    return distribution(quality.top_rung_vmaf(hours))


def record_outcome(quality: QualityRepository, outcome: QualityOutcome, *, video_id: int, job_id: int,
                   attempt: int, prefix: str) -> None:
    """Store run-job's outcome for the ladder under *prefix* (its rungs, or its failure), inside the
    completion's transaction.

    In a savepoint of its own: rows the database refuses are logged and left out, and the job
    completes all the same. Only a lost connection is raised, for the completion to be retried whole.
    """
    ladder = {"video_id": video_id, "job_id": job_id, "attempt": attempt, "mode": outcome.mode}
    try:
        with quality.transaction():
            if outcome.error is not None:
                quality.record_failure(prefix, **ladder, error_code=outcome.error.code,
                                       error_message=outcome.error.message)
            else:
                quality.replace(prefix, **ladder, rungs=[rung.row() for rung in outcome.rungs])
    except DbError as exc:
        if exc.transient:
            raise
        log.warning("could not record the quality measurement: %s", exc.message, extra={"prefix": prefix})
