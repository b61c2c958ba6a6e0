"""The ladder policy: parsing the setting, choosing rungs on the short side, sizes, frame rate and GOP."""

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
    rung_size,
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
    ("short_side", "expected"),
    [
        (2160, [1080, 720, 480, 360]),
        (1080, [1080, 720, 480, 360]),
        (1079, [720, 480, 360]),
        (720, [720, 480, 360]),
        (500, [480, 360]),
        (360, [360]),
    ],
)
def test_choose_rungs_never_goes_above_the_source(short_side: int, expected: list[int]) -> None:
    assert [r.height for r in choose_rungs(DEFAULT_LADDER, short_side)] == expected


@pytest.mark.parametrize(("short_side", "rung_height"), [(240, 240), (241, 240), (17, 16)])
def test_small_source_gets_one_rung_at_its_even_short_side(short_side: int, rung_height: int) -> None:
    (rung,) = choose_rungs(DEFAULT_LADDER, short_side)
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


def _ladder_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """What a source displayed at width x height gets from the default ladder."""
    return [rung_size(width, height, rung.height) for rung in choose_rungs(DEFAULT_LADDER, min(width, height))]


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        # A 720x1280 phone video: its "720p" rung is 720x1280, as on the big platforms,
        # not 406x720 (and no 608x1080 rung above its resolution).
        (720, 1280, [(720, 1280), (480, 854), (360, 640)]),
        (1080, 1920, [(1080, 1920), (720, 1280), (480, 854), (360, 640)]),
        (2160, 3840, [(1080, 1920), (720, 1280), (480, 854), (360, 640)]),
        (1280, 720, [(1280, 720), (854, 480), (640, 360)]),  # its landscape twin: same pixels
        (1080, 1080, [(1080, 1080), (720, 720), (480, 480), (360, 360)]),
        (480, 1920, [(480, 1920), (360, 1440)]),  # a tall banner keeps its aspect
        (240, 320, [(240, 320)]),  # smaller than every rung: its own size
    ],
)
def test_rungs_are_keyed_on_the_short_side(width: int, height: int, expected: list[tuple[int, int]]) -> None:
    assert _ladder_sizes(width, height) == expected


def test_portrait_and_landscape_twins_get_the_same_pixels_and_bitrates() -> None:
    portrait = choose_rungs(DEFAULT_LADDER, 720)
    assert [rung_size(720, 1280, r.height) for r in portrait] == [
        (h, w) for w, h in (rung_size(1280, 720, r.height) for r in portrait)
    ]


@pytest.mark.parametrize(
    ("w", "h", "rung_h", "expected"),
    [
        (1920, 1080, 720, (1280, 720)),
        (1920, 1080, 360, (640, 360)),
        (1920, 1080, 480, (854, 480)),  # 853.33 → nearest even
        (1080, 1920, 720, (720, 1280)),  # portrait: the rung's height is the width
        (1080, 1920, 480, (480, 854)),
        (641, 361, 360, (640, 360)),
        (1440, 1080, 720, (960, 720)),  # 4:3
        (1000, 100, 16, (160, 16)),
    ],
)
def test_rung_size_keeps_aspect_and_is_even(w: int, h: int, rung_h: int, expected: tuple[int, int]) -> None:
    size = rung_size(w, h, rung_h)
    assert size == expected
    assert size[0] % 2 == 0 and size[1] % 2 == 0


def test_rung_size_refuses_non_positive_sizes() -> None:
    with pytest.raises(ValueError):
        rung_size(0, 1080, 720)


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (720, 1280)])
def test_rung_size_refuses_to_upscale(w: int, h: int) -> None:
    # A rung chosen from the long side of a portrait source would be upscaled: refused.
    with pytest.raises(ValueError, match="above the short side"):
        rung_size(w, h, 1080)


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
