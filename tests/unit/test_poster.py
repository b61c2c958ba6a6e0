"""The poster's pure rules: how many candidates, where, the small size, and what counts as uniform (no ffmpeg)."""

from __future__ import annotations

import pytest

from videoctl.media.poster import (
    CANDIDATE_BYTES,
    MAX_CANDIDATES,
    candidate_count,
    candidate_step,
    luma_spread,
    small_size,
)


def test_candidates_are_bounded_by_the_memory_they_hold() -> None:
    assert candidate_count(640, 360) == MAX_CANDIDATES
    assert candidate_count(1920, 1080) == MAX_CANDIDATES  # 30 frames of 3 MiB
    assert candidate_count(3840, 2160) == CANDIDATE_BYTES // (3840 * 2160 * 3 // 2) == 8
    assert candidate_count(8192, 8192) == 2  # still a choice
    for size in [(3840, 2160), (1920, 1080), (7680, 4320)]:
        assert candidate_count(*size) * size[0] * size[1] * 3 // 2 <= max(CANDIDATE_BYTES, 2 * size[0] * size[1] * 3 // 2)


def test_candidates_span_the_video() -> None:
    assert candidate_step(60, 30) == 2.0
    assert candidate_step(2, 30) == pytest.approx(2 / 30)
    assert candidate_step(0, 30) == 0.0


@pytest.mark.parametrize(
    ("size", "small"),
    [((1920, 1080), (320, 180)), ((854, 480), (320, 180)), ((1080, 1920), (320, 568)), ((240, 320), (240, 320)),
     ((427, 240), (320, 180)), ((321, 181), (320, 180))],
)
def test_small_poster_is_320_wide_even_and_never_upscaled(size: tuple[int, int], small: tuple[int, int]) -> None:
    assert small_size(*size) == small


def test_luma_spread_of_uniform_and_of_busy_pictures() -> None:
    assert luma_spread(bytes([16]) * 64, 8, 8, 8) == 0
    assert luma_spread(bytes([16, 235]) * 32, 8, 8, 8) == 219
    # 90 % at 100 and 10 % at 200: the 95th percentile is 200, the 5th is 100.
    assert luma_spread(bytes([100] * 90 + [200] * 10), 10, 10, 10) == 100
    # 2 % bright specks on black: noise, not a picture.
    assert luma_spread(bytes([16] * 98 + [235] * 2), 10, 10, 10) == 0


def test_luma_spread_ignores_the_padding_after_each_row() -> None:
    row = bytes([16] * 6) + bytes([255, 0])  # width 6, stride 8: the last two bytes are padding
    assert luma_spread(row * 4, 6, 4, 8) == 0
