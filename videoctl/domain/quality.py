"""Quality of a ladder's rungs against their source (VMAF, PSNR-Y): what to measure, how to sum it up. Pure.

A measurement scores each rung, scaled back to the source's display size, against the
source, frame by frame (media/quality.py). This module decides the rest:

- Where to look (:func:`sample_ranges`): ``sample`` mode scores N whole segments of the
  ladder spread evenly over the video, not the whole of a three-hour lecture; ``full``
  scores every frame. Whole segments, because every rung's segments start at the same
  keyframe (the ladder is aligned), so each one can be read alone behind its init segment
  and lines up frame for frame with the same stretch of the source.
- How frames sum up (:func:`summarize`): the mean VMAF, the 5th percentile (how bad the
  worst stretches get: a mean of 90 can hide a scene at 60), the mean PSNR-Y.
- Which rung is the top one (:func:`top_rung`), whose score `stats` follows over time.
- The distribution of those top-rung scores over a period (:func:`distribution`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from videoctl.domain.errors import InvalidInput

#: VIDEOCTL_MEASURE_QUALITY's values (and the CLI's): nothing, N sampled segments, every frame.
OFF, SAMPLE, FULL = "off", "sample", "full"
MODES = (OFF, SAMPLE, FULL)
#: How many segments a sample measures unless told otherwise.
DEFAULT_SAMPLES = 6
MAX_SAMPLES = 1000

#: The percentile reported beside the mean.
LOW_PERCENTILE = 5
#: VMAF runs from 0 to 100; stats counts top-rung scores in bands this wide.
VMAF_MAX = 100.0
BAND = 10.0
BANDS = int(VMAF_MAX / BAND)

T = TypeVar("T")


@dataclass(frozen=True)
class TimeRange:
    """A stretch of the source's timeline: from ``start_s``, for ``duration_s``."""

    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class SampledSegment:
    """Segment ``index`` of every rung, and the stretch of the source it holds."""

    index: int
    range: TimeRange


def sample_ranges(durations: Sequence[float], count: int) -> list[SampledSegment]:
    """``count`` segments out of a playlist's (its EXTINF ``durations``), spread evenly over it.

    The video is cut into ``count`` equal stretches of segments and the middle segment of each
    is taken, so neither end weighs more than the middle (a lecture's first seconds are a
    title card). With as many segments as asked or fewer, every one is taken.
    """
    if count < 1 or count > MAX_SAMPLES:
        raise InvalidInput(f"the number of sampled segments must be from 1 to {MAX_SAMPLES}, got {count}")
    if any(not math.isfinite(d) or d <= 0 for d in durations):
        raise InvalidInput("every segment must have a positive duration")
    total = len(durations)
    chosen = range(total) if count >= total else sorted({int((i + 0.5) * total / count) for i in range(count)})
    starts = [0.0]
    for duration in durations:
        starts.append(starts[-1] + duration)
    return [SampledSegment(index, TimeRange(starts[index], durations[index])) for index in chosen]


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile, interpolated between the two nearest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Score:
    """One rung's frames summed up."""

    frames: int
    vmaf_mean: float
    vmaf_p5: float
    #: None when no frame had a finite PSNR.
    psnr_y_mean: float | None


def summarize(vmaf: Sequence[float], psnr_y: Sequence[float]) -> Score:
    """The mean and 5th-percentile VMAF and the mean PSNR-Y of one rung's scored frames."""
    if not vmaf:
        raise InvalidInput("no frame was scored")
    # PSNR is infinite for a frame identical to its reference; such frames say nothing about the mean.
    finite = [value for value in psnr_y if math.isfinite(value)]
    return Score(frames=len(vmaf), vmaf_mean=_round(sum(vmaf) / len(vmaf)),
                 vmaf_p5=_round(percentile(vmaf, LOW_PERCENTILE)),
                 psnr_y_mean=_round(sum(finite) / len(finite)) if finite else None)


def _round(value: float) -> float:
    return round(value, 3)


def top_rung(rungs: Sequence[T], *, width: Callable[[T], int], height: Callable[[T], int],
             bitrate: Callable[[T], int | None]) -> T:
    """The rung a viewer with the best screen and link gets: the most pixels, then the most bits."""
    if not rungs:
        raise ValueError("no rungs")
    return max(rungs, key=lambda rung: (width(rung) * height(rung), bitrate(rung) or 0))


@dataclass(frozen=True)
class RungQuality:
    """One rung of one ladder, measured: what `videoctl quality`, `video show` and the page show."""

    video_id: int
    #: The job and attempt that made the ladder, and the ladder's prefix (its output_prefix).
    job_id: int
    attempt: int
    output_prefix: str
    #: The rung's directory name (``720p``), its picture size and its video's mean bitrate.
    rung: str
    width: int
    height: int
    bitrate_bps: int | None
    #: ``sample`` or ``full``, and how many segments were scored (every one for ``full``).
    mode: str
    segments: int
    vmaf_mean: float
    vmaf_p5: float
    psnr_y_mean: float | None
    #: The ladder's top rung (:func:`top_rung`): the one `stats` follows.
    top_rung: bool
    measured_at: datetime


@dataclass(frozen=True)
class QualityFailure:
    """A measurement that failed inside run-job (the job completed all the same)."""

    video_id: int
    job_id: int
    attempt: int
    output_prefix: str
    mode: str
    error_code: str
    error_message: str
    measured_at: datetime


@dataclass(frozen=True)
class Distribution:
    """Top-rung VMAF (each ladder's mean) over a period."""

    ladders: int
    min: float
    p5: float
    p50: float
    p95: float
    max: float
    #: Ladders per 10-point band: 0–10, 10–20, … 90–100.
    histogram: list[int]


def distribution(scores: Sequence[float]) -> Distribution | None:
    """How the scores spread; None without any."""
    if not scores:
        return None
    histogram = [0] * BANDS
    for score in scores:
        histogram[min(BANDS - 1, max(0, int(score // BAND)))] += 1
    return Distribution(ladders=len(scores), min=_round(min(scores)), p5=_round(percentile(scores, 5)),
                        p50=_round(percentile(scores, 50)), p95=_round(percentile(scores, 95)),
                        max=_round(max(scores)), histogram=histogram)
