"""The thread plan of the ladder encode: x264 threads per rung by pixel rate, decoder and filter threads."""

from __future__ import annotations

import pytest

from videoctl.domain.ladder import DEFAULT_LADDER, rung_size
from videoctl.domain.threads import MAX_DECODER_THREADS, ThreadPlan, plan_threads, whole_cpus

#: Pixel rates of the default ladder for a 1920x1080 source: 1080p, 720p, 480p, 360p.
DEFAULT_RATES = [w * h for w, h in (rung_size(1920, 1080, rung.height) for rung in DEFAULT_LADDER)]


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (1, ThreadPlan(decoder=1, filters=1, encoders=(1, 1, 1, 1))),
        # Two CPUs: the plan the encode had before it was planned (docs/encoding.md).
        (2, ThreadPlan(decoder=3, filters=2, encoders=(2, 1, 1, 1))),
        (4, ThreadPlan(decoder=5, filters=4, encoders=(5, 2, 1, 1))),
        (8, ThreadPlan(decoder=9, filters=8, encoders=(9, 4, 2, 1))),
        (16, ThreadPlan(decoder=16, filters=16, encoders=(18, 8, 4, 2))),
    ],
)
def test_plan_for_whole_cpus(cpus: int, expected: ThreadPlan) -> None:
    assert plan_threads(cpus, DEFAULT_RATES) == expected


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (0.25, ThreadPlan(decoder=1, filters=1, encoders=(1, 1, 1, 1))),
        (0.5, ThreadPlan(decoder=1, filters=1, encoders=(1, 1, 1, 1))),
        # 1.5 CPUs of quota run on two CPUs at once, with three quarters of their time.
        (1.5, ThreadPlan(decoder=3, filters=2, encoders=(2, 1, 1, 1))),
        (2.5, ThreadPlan(decoder=4, filters=3, encoders=(3, 1, 1, 1))),
        (3.2, ThreadPlan(decoder=5, filters=4, encoders=(4, 2, 1, 1))),
    ],
)
def test_plan_for_fractional_quotas(cpus: float, expected: ThreadPlan) -> None:
    assert plan_threads(cpus, DEFAULT_RATES) == expected


@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 16])
def test_the_biggest_rung_never_gets_fewer_threads_than_a_smaller_one(cpus: int) -> None:
    encoders = plan_threads(cpus, DEFAULT_RATES).encoders
    assert list(encoders) == sorted(encoders, reverse=True)
    # and the pool is shared out: about two x264 threads per CPU, never fewer than one per rung
    assert len(DEFAULT_RATES) <= sum(encoders) <= max(len(DEFAULT_RATES), 2 * cpus + len(DEFAULT_RATES))


def test_threads_follow_pixel_rate_not_rung_order() -> None:
    # A single rung takes the whole pool; equal rungs split it evenly.
    assert plan_threads(4, [1920 * 1080]).encoders == (8,)
    assert plan_threads(4, [100, 100]).encoders == (4, 4)
    assert plan_threads(4, [100, 300]).encoders == (2, 6)


def test_decoder_threads_are_capped_like_libavcodec() -> None:
    assert plan_threads(64, DEFAULT_RATES).decoder == MAX_DECODER_THREADS


@pytest.mark.parametrize(("cpus", "whole"), [(0.1, 1), (1.0, 1), (1.01, 2), (2.0000001, 2), (3.5, 4)])
def test_whole_cpus(cpus: float, whole: int) -> None:
    assert whole_cpus(cpus) == whole


@pytest.mark.parametrize("cpus", [0, -1, float("nan"), float("inf")])
def test_a_nonsense_budget_is_refused(cpus: float) -> None:
    with pytest.raises(ValueError, match="CPU budget"):
        plan_threads(cpus, DEFAULT_RATES)


@pytest.mark.parametrize("rates", [[], [0], [100, -5]])
def test_rungs_without_pixels_are_refused(rates: list[int]) -> None:
    with pytest.raises(ValueError, match="pixel rate"):
        plan_threads(2, rates)
