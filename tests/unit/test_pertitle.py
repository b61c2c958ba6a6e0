"""The per-title ladder's arithmetic (domain/pertitle.py): sampling, interpolation, clamping, the
lower-rung rule, the bitrate prediction, the 15 % drop, the stored form and what a stored one is good for."""

from __future__ import annotations

import pytest

from videoctl.domain import pertitle
from videoctl.domain.ladder import parse_ladder
from videoctl.domain.pertitle import LadderDecision, ProbePoint
from videoctl.domain.quality import TimeRange

# A lecture-like source: high VMAF everywhere, few bits.
EASY = (ProbePoint(22, 98.0, 96.0, 900.0), ProbePoint(27, 95.0, 92.0, 450.0), ProbePoint(32, 90.0, 85.0, 225.0))
LADDER = parse_ladder("1080:5000,720:3000,480:1500,360:800")
PIXELS = {"1080p": 1920 * 1080, "720p": 1280 * 720, "480p": 854 * 480, "360p": 640 * 360}


def test_probe_pieces_do_not_grow_with_the_video():
    short, long = pertitle.probe_ranges(60.0, 4.0), pertitle.probe_ranges(3 * 3600.0, 4.0)
    assert len(short) == len(long) == pertitle.PROBE_PIECES
    assert {r.duration_s for r in short + long} == {pertitle.PIECE_S}
    # Spread: one piece in each quarter, on the ladder's keyframe at or before its middle
    # (6.5, 21.5, 36.5, 51.5 on a 4 s grid), inside the video.
    assert [r.start_s for r in short] == [4.0, 20.0, 36.0, 48.0]
    assert all(0 <= r.start_s and r.end_s <= 3 * 3600.0 for r in long)


def test_a_piece_starts_where_the_ladder_has_a_keyframe():
    # 29.97 fps, 4 s segments: a 120-frame GOP, a keyframe every 4.004 s, not every 4 s.
    keyframe_s = 120 / 29.97
    pieces = pertitle.probe_ranges(3 * 3600.0, keyframe_s)
    for piece in pieces:
        keyframes = piece.start_s / keyframe_s
        assert keyframes == pytest.approx(round(keyframes), abs=1e-5)
    # Pieces that would start on the same keyframe (a short video) are one.
    assert pertitle.probe_ranges(12.0, 4.0) == [TimeRange(0.0, 2.0), TimeRange(4.0, 2.0), TimeRange(8.0, 2.0)]
    with pytest.raises(ValueError):
        pertitle.probe_ranges(60.0, 0.0)


def test_a_video_shorter_than_the_pieces_is_one_piece_of_all_of_it():
    assert pertitle.probe_ranges(5.0, 4.0) == [TimeRange(0.0, 5.0)]
    with pytest.raises(ValueError):
        pertitle.probe_ranges(0.0, 4.0)


def test_the_crf_is_interpolated_between_the_points_around_the_target_and_rounded_down():
    assert pertitle.crf_for_target(EASY, 95.0) == 27
    assert pertitle.crf_for_target(EASY, 94.0) == 28  # 27 + 5 × 1/5
    assert pertitle.crf_for_target(EASY, 93.9) == 28  # 28.1 → 28: a lower CRF is the safe side
    assert pertitle.crf_for_target(EASY, 96.5) == 24  # 22 + 5 × 1.5/3


def test_outside_the_points_the_nearest_line_is_followed_and_the_crf_clamped():
    assert pertitle.crf_for_target(EASY, 99.0) == 20  # 22 − 5/3 → 20.3
    assert pertitle.crf_for_target(EASY, 80.0) == pertitle.CRF_RANGE[1]  # would be 42
    hard = (ProbePoint(22, 85.0, 70.0, 4000.0), ProbePoint(27, 80.0, 65.0, 2500.0))
    assert pertitle.crf_for_target(hard, 94.0) == pertitle.CRF_RANGE[0]  # would be 13
    with pytest.raises(ValueError):
        pertitle.crf_for_target(EASY[:1], 94.0)


def test_a_flat_curve_takes_the_highest_measured_crf_when_it_reaches_the_target():
    flat = (ProbePoint(22, 97.0, 96.0, 100.0), ProbePoint(27, 97.0, 96.0, 90.0))
    assert pertitle.crf_for_target(flat, 94.0) == 27
    assert pertitle.crf_for_target(flat, 98.0) == pertitle.CRF_RANGE[0]


def test_a_capped_source_that_never_reaches_the_target_gets_the_lowest_crf_not_the_highest():
    # The grain benchmark's points: the maxrate cap binds at CRF 22 and 27, so VMAF rises from 22 to 27.
    grain = (ProbePoint(22, 89.4, 82.4, 3273.0), ProbePoint(27, 90.0, 87.8, 2438.0), ProbePoint(32, 82.6, 79.6, 933.0))
    assert pertitle.crf_for_target(grain, 94.0) == pertitle.CRF_RANGE[0]  # was 34: the rising line, followed to 94
    assert pertitle.crf_for_target(grain, 86.0) == 29  # a target it brackets: 27 + 5 × 4/7.4


def test_the_bitrate_is_log_linear_in_the_crf():
    assert pertitle.kbps_at(EASY, 27) == pytest.approx(450.0)
    assert pertitle.kbps_at(EASY, 29.5) == pytest.approx((450.0 * 225.0) ** 0.5)
    assert pertitle.kbps_at(EASY, 37) == pytest.approx(112.5)  # the last segment's line, extended


def test_a_pieces_keyframe_is_counted_once_per_segment_as_the_ladder_has_it():
    # A 2 s piece of 100 kB: its one keyframe is 60 kB. The ladder's 4 s segments carry one keyframe
    # per 4 s, so the piece's 2 s bear half of it: 40 kB + 30 kB = 70 kB over 2 s = 280 kbit/s.
    assert pertitle.amortised_kbps(100_000, 60_000, 1, 2.0, 4.0) == pytest.approx(280.0)
    # Four pieces, each with its keyframe: the same, pooled.
    assert pertitle.amortised_kbps(400_000, 240_000, 4, 8.0, 4.0) == pytest.approx(280.0)
    # A hard source's keyframe is a small share: the correction barely moves it.
    assert pertitle.amortised_kbps(1_000_000, 60_000, 1, 2.0, 4.0) == pytest.approx(3880.0)
    # One keyframe a segment long: nothing to correct.
    assert pertitle.amortised_kbps(100_000, 60_000, 1, 4.0, 4.0) == pytest.approx(200.0)
    with pytest.raises(ValueError):
        pertitle.amortised_kbps(100_000, 60_000, 1, 2.0, 0.0)


def test_lower_rungs_take_the_top_rungs_crf():
    assert pertitle.rung_crfs(LADDER, 28) == {"1080p": 28, "720p": 28, "480p": 28, "360p": 28}


def test_a_rungs_prediction_scales_with_its_pixels_and_stops_at_its_maxrate():
    assert pertitle.predict_kbps(1000.0, 4, 1, 5000) == pytest.approx(1000.0 / 4 ** pertitle.PIXEL_EXPONENT)
    assert pertitle.predict_kbps(9000.0, 4, 4, 5000) == 5000.0


def test_a_rung_within_15_percent_of_the_kept_one_above_is_dropped():
    assert pertitle.drop_close_rungs([("1080p", 1000.0), ("720p", 860.0), ("480p", 700.0), ("360p", 500.0)]) \
        == ["720p"]  # 860 ≥ 850; then 700 is measured against 1080p's 1000, not the dropped 720p
    assert pertitle.drop_close_rungs([("1080p", 1000.0), ("720p", 849.0)]) == []
    assert pertitle.drop_close_rungs([("1080p", 100.0)]) == []  # the top rung stays


def test_derive_makes_the_whole_ladder_and_drops_what_the_caps_squeeze_together():
    close = parse_ladder("1080:1000,720:900,480:400")
    pixels = {"1080p": PIXELS["1080p"], "720p": PIXELS["720p"], "480p": PIXELS["480p"]}
    hard = (ProbePoint(22, 96.0, 90.0, 6000.0), ProbePoint(27, 92.0, 85.0, 3000.0))
    decision = pertitle.derive(hard, close, pixels, target=94.0, preset="veryfast")
    assert decision.crf == {"1080p": 24, "720p": 24, "480p": 24}
    assert decision.predicted_kbps["1080p"] == 1000.0 and decision.predicted_kbps["720p"] == 900.0
    assert decision.dropped == ("720p",)
    assert [r.name for r in decision.kept(close)] == ["1080p", "480p"]


def test_the_stored_form_round_trips_and_a_broken_one_reads_as_none():
    decision = pertitle.derive(EASY, LADDER, PIXELS, target=94.0, preset="veryfast", probe_cpu_s=3.5,
                               probe_wall_s=2.0, pieces=[TimeRange(1.0, 2.0)])
    assert LadderDecision.from_dict(decision.to_dict()) == decision
    fixed = pertitle.fixed(LADDER, "veryfast")
    assert LadderDecision.from_dict(fixed.to_dict()) == fixed and set(fixed.crf.values()) == {pertitle.FIXED_CRF}
    assert LadderDecision.from_dict(None) is None
    assert LadderDecision.from_dict({"mode": "per-title"}) is None
    assert LadderDecision.from_dict({**decision.to_dict(), "mode": "adaptive"}) is None


def test_what_a_stored_decision_is_good_for():
    stored = pertitle.derive(EASY, LADDER, PIXELS, target=94.0, preset="veryfast")
    kind = pertitle.reuse_kind
    assert kind(stored, mode="per-title", rungs=LADDER, preset="veryfast", target=94.0) == pertitle.REUSE
    assert kind(stored, mode="per-title", rungs=LADDER, preset="veryfast", target=96.0) == pertitle.REDERIVE
    assert kind(stored, mode="per-title", rungs=LADDER[1:], preset="veryfast", target=94.0) == pertitle.REPROBE
    assert kind(stored, mode="per-title", rungs=LADDER, preset="medium", target=94.0) == pertitle.REPROBE
    assert kind(stored, mode="fixed", rungs=LADDER, preset="veryfast", target=94.0) == pertitle.REPROBE
    assert kind(None, mode="per-title", rungs=LADDER, preset="veryfast", target=94.0) == pertitle.REPROBE
    fixed = pertitle.fixed(LADDER, "veryfast")
    assert kind(fixed, mode="fixed", rungs=LADDER, preset="veryfast", target=90.0) == pertitle.REUSE


def test_only_a_source_as_long_as_the_threshold_is_probed():
    after = pertitle.DEFAULT_PER_TITLE_AFTER_S
    assert pertitle.mode_for(pertitle.PER_TITLE, after, after) == pertitle.PER_TITLE
    assert pertitle.mode_for(pertitle.PER_TITLE, 3 * 3600.0, after) == pertitle.PER_TITLE
    # Shorter, or of unknown length: the probe would cost more than it saves, the fixed ladder.
    assert pertitle.mode_for(pertitle.PER_TITLE, after - 0.5, after) == pertitle.FIXED
    assert pertitle.mode_for(pertitle.PER_TITLE, 4.0, after) == pertitle.FIXED
    assert pertitle.mode_for(pertitle.PER_TITLE, float("nan"), after) == pertitle.FIXED
    # 0 probes everything; the fixed mode stays fixed whatever the length.
    assert pertitle.mode_for(pertitle.PER_TITLE, 4.0, 0.0) == pertitle.PER_TITLE
    assert pertitle.mode_for(pertitle.FIXED, 3 * 3600.0, 0.0) == pertitle.FIXED
