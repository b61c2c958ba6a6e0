"""The pure side of quality measurement: which segments a sample takes, how frames sum up, the top rung."""

from __future__ import annotations

import pytest

from videoctl.domain.errors import InvalidInput
from videoctl.domain.quality import (
    BANDS,
    TimeRange,
    distribution,
    percentile,
    sample_ranges,
    summarize,
    top_rung,
)


def test_a_sample_spreads_its_segments_evenly_and_says_where_they_are():
    durations = [4.0] * 30
    chosen = sample_ranges(durations, 6)
    assert [s.index for s in chosen] == [2, 7, 12, 17, 22, 27]  # the middle of each sixth
    assert chosen[0].range == TimeRange(8.0, 4.0)
    gaps = {b.index - a.index for a, b in zip(chosen, chosen[1:], strict=False)}
    assert gaps == {5}


def test_a_sample_places_segments_of_unequal_length_by_their_durations():
    chosen = sample_ranges([4.0, 4.0, 2.5, 4.0, 1.0], 5)
    assert [(s.index, s.range.start_s, s.range.duration_s) for s in chosen] == [
        (0, 0.0, 4.0), (1, 4.0, 4.0), (2, 8.0, 2.5), (3, 10.5, 4.0), (4, 14.5, 1.0)]
    assert chosen[-1].range.end_s == pytest.approx(15.5)


def test_asking_for_more_segments_than_there_are_takes_each_once():
    assert [s.index for s in sample_ranges([4.0, 4.0, 1.0], 6)] == [0, 1, 2]
    assert [s.index for s in sample_ranges([2.0], 1)] == [0]


@pytest.mark.parametrize("count", [0, -1, 1001])
def test_a_sample_of_no_segment_or_too_many_is_refused(count):
    with pytest.raises(InvalidInput):
        sample_ranges([4.0] * 3, count)


def test_a_segment_without_duration_is_refused():
    with pytest.raises(InvalidInput):
        sample_ranges([4.0, 0.0], 2)


def test_percentiles_interpolate_between_ranks():
    values = [50.0, 10.0, 40.0, 20.0, 30.0]
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 50.0
    assert percentile(values, 50) == 30.0
    assert percentile(values, 5) == pytest.approx(12.0)  # a fifth of the way from 10 to 20
    assert percentile([7.0], 5) == 7.0


def test_a_summary_has_the_mean_the_low_percentile_and_the_mean_psnr():
    vmaf = [90.0] * 90 + [40.0] * 10  # one bad scene in ten frames
    score = summarize(vmaf, [40.0] * 100)
    assert score.frames == 100
    assert score.vmaf_mean == pytest.approx(85.0)
    assert score.vmaf_p5 == 40.0  # the mean hides the bad scene, the low percentile does not
    assert score.psnr_y_mean == 40.0


def test_frames_identical_to_their_reference_do_not_make_the_psnr_infinite():
    assert summarize([100.0, 99.0], [float("inf"), 50.0]).psnr_y_mean == 50.0
    assert summarize([100.0], [float("inf")]).psnr_y_mean is None


def test_nothing_scored_is_refused():
    with pytest.raises(InvalidInput):
        summarize([], [])


def test_the_top_rung_has_the_most_pixels_then_the_most_bits():
    rungs = [("480p", 854, 480, 1_500_000), ("1080p", 1920, 1080, 5_000_000), ("720p", 1280, 720, 3_000_000)]
    pick = dict(width=lambda r: r[1], height=lambda r: r[2], bitrate=lambda r: r[3])
    assert top_rung(rungs, **pick)[0] == "1080p"
    portrait = [("720p", 720, 1280, 3_000_000), ("480p", 480, 854, 1_500_000)]
    assert top_rung(portrait, **pick)[0] == "720p"
    twins = [("a", 1280, 720, 2_000_000), ("b", 1280, 720, 3_000_000)]
    assert top_rung(twins, **pick)[0] == "b"


def test_a_distribution_spreads_the_scores_into_bands():
    spread = distribution([95.0, 91.0, 72.5, 100.0, 0.0])
    assert spread is not None
    assert (spread.ladders, spread.min, spread.max, spread.p50) == (5, 0.0, 100.0, 91.0)
    assert spread.p5 <= spread.p50 <= spread.p95
    assert len(spread.histogram) == BANDS and sum(spread.histogram) == 5
    assert spread.histogram[9] == 3 and spread.histogram[7] == 1 and spread.histogram[0] == 1  # 100 is in 90–100
    assert distribution([]) is None
