"""Which rung download.mp4 carries (pure: no ffmpeg)."""

from __future__ import annotations

import pytest

from videoctl.domain.ladder import DEFAULT_LADDER, choose_rungs, parse_ladder
from videoctl.media.download import choose_download_rung


@pytest.mark.parametrize(
    ("short_side", "height", "chosen"),
    [
        (1080, 720, 720),  # the rung asked for
        (1080, 1080, 1080),
        (600, 720, 480),  # a smaller source: the highest rung at or below it
        (360, 720, 360),
        (1080, 500, 480),  # a height that is not a rung
    ],
)
def test_the_rung_at_or_below_the_height(short_side: int, height: int, chosen: int) -> None:
    rung = choose_download_rung(choose_rungs(DEFAULT_LADDER, short_side), height)
    assert rung is not None and rung.height == chosen


def test_a_source_below_every_rung_downloads_its_own_rung() -> None:
    rungs = choose_rungs(DEFAULT_LADDER, 240)  # one rung at the source's own size
    assert choose_download_rung(rungs, 720) == rungs[0]


def test_a_ladder_above_the_height_offers_its_lowest_rung() -> None:
    rungs = parse_ladder("2160:16000,1440:9000")
    assert choose_download_rung(rungs, 720).height == 1440


def test_off_means_no_download() -> None:
    assert choose_download_rung(DEFAULT_LADDER, None) is None
    assert choose_download_rung((), 720) is None
