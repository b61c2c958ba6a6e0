"""The tests' own check of MPDs against MPEG's schema (tests/mpd_schema.py, tests/conftest.py)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from tests.mpd_schema import SCHEMAS, assert_valid_mpd, refusals_under, schema_errors
from videoctl.media import dash

NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"
SMALLEST = f'<MPD xmlns="{NAMESPACE}" profiles="{dash.PROFILE}" minBufferTime="PT2S"><Period/></MPD>'


def test_the_schema_and_what_it_imports_are_kept_here_with_their_licences() -> None:
    names = {path.name for path in SCHEMAS.iterdir()}
    assert {"DASH-MPD.xsd", "xlink.xsd", "xml.xsd", "LICENSE", "LICENSE-W3C", "README.md"} <= names
    imports = re.findall(r'schemaLocation="([^"]+)"', (SCHEMAS / "DASH-MPD.xsd").read_text())
    assert imports == ["http://www.w3.org/XML/2008/06/xlink.xsd"]  # mapped to the copy here


def test_the_schema_accepts_a_minimal_mpd_and_refuses_what_it_does_not_define(tmp_path: Path) -> None:
    assert schema_errors(SMALLEST) == []
    path = tmp_path / "manifest.mpd"
    path.write_text(SMALLEST.replace("<Period/>", "<Period><Stream/></Period>"))
    with pytest.raises(AssertionError, match=r"manifest.mpd is not valid against DASH-MPD.xsd:\nline 1: .*Stream"):
        assert_valid_mpd(path)
    # Required attributes and typed values are checked, not only the order of elements.
    assert any("minBufferTime" in error for error in schema_errors(SMALLEST.replace(' minBufferTime="PT2S"', "")))
    assert any("'3 s'" in error for error in schema_errors(SMALLEST.replace("PT2S", "3 s")))


def test_an_invalid_mpd_written_in_a_test_fails_where_it_is_written_and_at_teardown(
        _mpd_schema_refusals: list[str]) -> None:
    """tests/conftest.py checks every MPD media/dash.py writes in the test process."""
    rep = dash.Representation(id="has a space", codecs="avc1.64001f", bandwidth=1, timescale=1,
                              initialization="i.mp4", media="s$Number$.m4s", start_number=0,
                              timeline=(dash.TimelineEntry(0, 1),), width=2, height=2)
    with pytest.raises(AssertionError, match="not valid against DASH-MPD.xsd"):
        dash.mpd_text(dash.Presentation(video=(rep,), audio=(), frame_rate=Fraction(25)))
    assert any("has a space" in refusal for refusal in _mpd_schema_refusals)
    _mpd_schema_refusals.clear()  # seen: this test's teardown would fail on it otherwise


def test_every_manifest_mpd_under_a_folder_is_checked(tmp_path: Path) -> None:
    """What tests/conftest.py runs on the test's home after each test, for the MPDs other
    processes wrote there."""
    good = tmp_path / "videos" / "1" / "hls" / "1-1" / "manifest.mpd"
    good.parent.mkdir(parents=True)
    good.write_text(SMALLEST)
    assert refusals_under(tmp_path) == []
    bad = tmp_path / "videos" / "2" / "hls" / "2-1" / "manifest.mpd"
    bad.parent.mkdir(parents=True)
    bad.write_text(SMALLEST.replace("<Period/>", ""))
    [refusal] = refusals_under(tmp_path)
    assert refusal.startswith(f"{bad}: line 1: ") and "Period" in refusal
