"""The storyboard's pure rules: interval, layout, cues, WebVTT written and read back, and the checks
that refuse a storyboard with a gap or a tile outside its sheet (no ffmpeg)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videoctl.domain.errors import VerifyFailed
from videoctl.media.storyboard import (
    MAX_TILES,
    Cue,
    Layout,
    check_cues,
    choose_interval,
    frames_per_tile,
    layout,
    make_cues,
    parse_vtt,
    sheet_names,
    tile_count,
    vtt_text,
)


@pytest.mark.parametrize(
    ("duration_s", "interval"),
    [(2, 1), (200, 1), (200.5, 2), (1000, 5), (2 * 3600, 60), (12 * 3600, 300), (30 * 3600, 600), (200_000, 1000)],
)
def test_interval_gives_at_most_about_200_tiles(duration_s: float, interval: int) -> None:
    assert choose_interval(duration_s) == interval


@given(st.floats(min_value=0.1, max_value=500_000))
def test_never_more_than_max_tiles(duration_s: float) -> None:
    assert tile_count(round(duration_s * 30), frames_per_tile(choose_interval(duration_s), Fraction(30))) <= MAX_TILES + 1


def test_frames_per_tile_and_tile_count() -> None:
    assert frames_per_tile(1, Fraction(30000, 1001)) == 30
    assert frames_per_tile(5, Fraction(25)) == 125
    assert frames_per_tile(1, Fraction(1, 2)) == 1  # never 0
    assert tile_count(240, 30) == 8  # frames 0, 30, … 210
    assert tile_count(241, 30) == 9  # frame 240 starts a ninth tile
    assert tile_count(0, 30) == 0


@pytest.mark.parametrize(
    ("size", "tiles", "expected"),
    [
        ((640, 360), 8, Layout(8, 1, 160, 90)),
        ((1920, 1080), 100, Layout(10, 10, 160, 90)),
        ((1920, 1080), 199, Layout(10, 10, 160, 90)),  # two sheets
        ((1920, 1080), 37, Layout(10, 4, 160, 90)),
        ((360, 640), 8, Layout(8, 1, 160, 284)),  # portrait: 160 wide
        ((854, 480), 3, Layout(3, 1, 160, 90)),
        ((120, 90), 1, Layout(1, 1, 120, 90)),  # never upscaled
    ],
)
def test_layout(size: tuple[int, int], tiles: int, expected: Layout) -> None:
    assert layout(*size, tiles) == expected


def test_sheet_names() -> None:
    assert sheet_names(1) == ["storyboard.jpg"]
    assert sheet_names(3) == ["storyboard-1.jpg", "storyboard-2.jpg", "storyboard-3.jpg"]


def test_cues_cover_the_video_back_to_back_and_walk_the_sheets() -> None:
    grid = Layout(columns=2, rows=2, tile_width=160, tile_height=90)
    cues = make_cues(tiles=6, seconds_per_tile=1.001, duration_s=5.5, grid=grid)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(0, 1001), (1001, 2002), (2002, 3003), (3003, 4004),
                                                     (4004, 5005), (5005, 5500)]
    assert [(c.sheet, c.x, c.y) for c in cues] == [
        ("storyboard-1.jpg", 0, 0), ("storyboard-1.jpg", 160, 0), ("storyboard-1.jpg", 0, 90),
        ("storyboard-1.jpg", 160, 90), ("storyboard-2.jpg", 0, 0), ("storyboard-2.jpg", 160, 0)]
    check_cues(cues, 5.5, {"storyboard-1.jpg": (320, 180), "storyboard-2.jpg": (320, 180)})


def test_the_last_cue_stretches_to_the_end_and_tiles_past_it_get_none() -> None:
    grid = Layout(columns=10, rows=1, tile_width=160, tile_height=90)
    # The video stream is shorter than the recorded duration (audio runs on): stretch.
    assert make_cues(tiles=2, seconds_per_tile=1, duration_s=3.25, grid=grid)[-1].end_ms == 3250
    # A tile that starts at the end shows nothing the viewer can seek to.
    cues = make_cues(tiles=3, seconds_per_tile=1, duration_s=2.0, grid=grid)
    assert [(c.start_ms, c.end_ms) for c in cues] == [(0, 1000), (1000, 2000)]


def test_vtt_round_trip() -> None:
    cues = make_cues(tiles=3, seconds_per_tile=1200, duration_s=3 * 3600 + 0.5, grid=Layout(10, 10, 160, 90))
    text = vtt_text(cues)
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:20:00.000\nstoryboard.jpg#xywh=0,0,160,90\n")
    assert "00:40:00.000 --> 03:00:00.500\nstoryboard.jpg#xywh=320,0,160,90" in text
    assert parse_vtt(text) == cues


def test_parse_vtt_accepts_cue_identifiers_and_crlf() -> None:
    text = "WEBVTT\r\n\r\n1\r\n00:00:00.000 --> 00:00:02.000\r\nsheet.jpg#xywh=0,0,10,10\r\n"
    assert parse_vtt(text) == [Cue(0, 2000, "sheet.jpg", 0, 0, 10, 10)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n",
        "WEBVTT\n\n00:00:00.000 -> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n",
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg\n",
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,-160,90\n",
    ],
)
def test_parse_vtt_refuses_malformed_storyboards(text: str) -> None:
    with pytest.raises(VerifyFailed, match="storyboard.vtt"):
        parse_vtt(text)


SHEETS = {"storyboard.jpg": (480, 90)}


def cue(start: int, end: int, x: int = 0, sheet: str = "storyboard.jpg", width: int = 160) -> Cue:
    return Cue(start, end, sheet, x, 0, width, 90)


@pytest.mark.parametrize(
    ("cues", "message"),
    [
        ([], "has no cues"),
        ([cue(500, 3000)], "starts at 0.500 s, not at 0"),
        ([cue(0, 1000), cue(1200, 3000, 160)], "has a gap between 1.000 s and 1.200 s"),
        ([cue(0, 1000), cue(900, 3000, 160)], "has an overlap between 1.000 s and 0.900 s"),
        ([cue(0, 1000), cue(1000, 1000, 160), cue(1000, 3000, 320)], "ends before it starts"),
        ([cue(0, 1000), cue(1000, 2500, 160)], "ends at 2.500 s but the video lasts 3.000 s"),
        ([cue(0, 1000), cue(1000, 3000, 400)], "tile 400,0,160,90 lies outside storyboard.jpg"),
        ([cue(0, 3000, sheet="storyboard-9.jpg")], "names storyboard-9.jpg, which is not one of its sprite sheets"),
        ([cue(0, 3000, width=0)], "lies outside"),
    ],
)
def test_check_cues_refuses(cues: list[Cue], message: str) -> None:
    with pytest.raises(VerifyFailed, match=message):
        check_cues(cues, 3.0, SHEETS)


def test_check_cues_tolerates_rounding_of_the_end_to_the_millisecond() -> None:
    check_cues([cue(0, 1000), cue(1000, 3000, 160)], 3.0004, SHEETS)
