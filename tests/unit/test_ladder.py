"""The ladder policy: parsing the setting, choosing rungs, widths, frame rate and GOP."""

from __future__ import annotations

from fractions import Fraction

import pytest

from videoctl.domain.errors import InvalidInput
from videoctl.domain.ladder import (
    DEFAULT_LADDER,
    MAX_FPS,
    Rung,
    choose_rungs,
    gop_frames,
    output_fps,
    parse_ladder,
    rung_width,
)


def test_default_ladder_is_the_documented_one() -> None:
    assert [(r.height, r.maxrate_kbps, r.bufsize_kbps, r.audio_kbps) for r in DEFAULT_LADDER] == [
        (1080, 5000, 10000, 128),
        (720, 3000, 6000, 128),
        (480, 1500, 3000, 128),
        (360, 800, 1600, 128),
    ]


def test_rung_name_is_height_with_p() -> None:
    assert Rung(720, 3000, 6000).name == "720p"


def test_rung_is_immutable() -> None:
    rung = Rung(720, 3000, 6000)
    with pytest.raises(AttributeError):
        rung.height = 480  # type: ignore[misc]


def test_parse_ladder_round_trips_the_default() -> None:
    assert parse_ladder("1080:5000,720:3000,480:1500,360:800") == DEFAULT_LADDER


def test_parse_ladder_sorts_descending_and_tolerates_spaces() -> None:
    rungs = parse_ladder(" 360:800 , 1080:5000,720 : 3000 ")
    assert [r.height for r in rungs] == [1080, 720, 360]
    assert rungs[2] == Rung(360, 800, 1600)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1080:5000,,720:3000", "empty entry"),
        ("1080:5000,", "empty entry"),
        ("1080", "height:maxrate"),
        ("1080:5000:1", "height:maxrate"),
        ("abc:5000", "whole numbers"),
        ("1080:5k", "whole numbers"),
        ("720.5:3000", "whole numbers"),
        ("0:500", "between"),
        ("-360:800", "between"),
        ("8:100", "between"),
        ("10000:100", "between"),
        ("721:3000", "even"),
        ("720:0", "positive"),
        ("720:-5", "positive"),
        ("720:3000,720:2000", "twice"),
    ],
)
def test_parse_ladder_refuses_junk_with_a_reason(spec: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_ladder(spec)


def test_parse_ladder_error_names_the_entry() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_ladder("1080:5000,721:3000")
    assert "'721:3000'" in caught.value.message
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("source_height", "expected"),
    [
        (2160, [1080, 720, 480, 360]),
        (1080, [1080, 720, 480, 360]),
        (1079, [720, 480, 360]),
        (720, [720, 480, 360]),
        (500, [480, 360]),
        (360, [360]),
    ],
)
def test_choose_rungs_never_goes_above_the_source(source_height: int, expected: list[int]) -> None:
    assert [r.height for r in choose_rungs(DEFAULT_LADDER, source_height)] == expected


@pytest.mark.parametrize(("source_height", "rung_height"), [(240, 240), (241, 240), (17, 16)])
def test_small_source_gets_one_rung_at_its_even_height(source_height: int, rung_height: int) -> None:
    (rung,) = choose_rungs(DEFAULT_LADDER, source_height)
    assert rung.height == rung_height
    smallest = DEFAULT_LADDER[-1]
    assert (rung.maxrate_kbps, rung.bufsize_kbps) == (smallest.maxrate_kbps, smallest.bufsize_kbps)


def test_choose_rungs_sorts_an_unsorted_ladder() -> None:
    ladder = (Rung(360, 800, 1600), Rung(720, 3000, 6000))
    assert [r.height for r in choose_rungs(ladder, 1080)] == [720, 360]


def test_choose_rungs_refuses_degenerate_input() -> None:
    with pytest.raises(InvalidInput):
        choose_rungs(DEFAULT_LADDER, 1)
    with pytest.raises(ValueError):
        choose_rungs((), 720)


@pytest.mark.parametrize(
    ("w", "h", "rung_h", "expected"),
    [
        (1920, 1080, 720, 1280),
        (1920, 1080, 360, 640),
        (1920, 1080, 480, 854),  # 853.33 → nearest even
        (1080, 1920, 720, 406),  # portrait phone video: 405 → even
        (641, 361, 360, 640),
        (1440, 1080, 720, 960),  # 4:3
        (100, 1000, 16, 2),  # never below 2
    ],
)
def test_rung_width_keeps_aspect_and_is_even(w: int, h: int, rung_h: int, expected: int) -> None:
    width = rung_width(w, h, rung_h)
    assert width == expected
    assert width % 2 == 0


def test_rung_width_refuses_non_positive_sizes() -> None:
    with pytest.raises(ValueError):
        rung_width(0, 1080, 720)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (30.0, Fraction(30)),
        (30000 / 1001, Fraction(30000, 1001)),
        (25.0, Fraction(25)),
        (60.0, Fraction(60)),
        (120.0, Fraction(60)),
        (120000 / 1001, Fraction(60000, 1001)),
        (100.0, Fraction(50)),
        (90.0, Fraction(45)),
        (144.0, Fraction(48)),
        (240.0, Fraction(60)),
    ],
)
def test_output_fps_keeps_rates_up_to_60_and_decimates_above(source: float, expected: Fraction) -> None:
    assert output_fps(source) == expected
    assert output_fps(source) <= MAX_FPS


@pytest.mark.parametrize("bad", [0.0, -30.0, float("nan"), float("inf")])
def test_output_fps_refuses_nonsense(bad: float) -> None:
    with pytest.raises(ValueError):
        output_fps(bad)


@pytest.mark.parametrize(
    ("fps", "segment_s", "expected"),
    [(Fraction(30), 4, 120), (Fraction(30000, 1001), 4, 120), (Fraction(25), 6, 150), (Fraction(1, 10), 4, 1)],
)
def test_gop_is_one_segment_of_frames(fps: Fraction, segment_s: int, expected: int) -> None:
    assert gop_frames(fps, segment_s) == expected
