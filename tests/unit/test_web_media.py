"""The web page's media rules: which relative paths name an output, byte ranges, content types."""

from __future__ import annotations

import pytest

from videoctl.web.media import ByteRange, Unsatisfiable, content_type, parse_range, relative_media_path


@pytest.mark.parametrize("path", ["master.m3u8", "360p/index.m3u8", "360p/seg_00001.m4s", "subs/ko.vtt",
                                  "storyboard-2.jpg"])
def test_an_output_below_the_master_is_named(path):
    assert relative_media_path(path) == path


@pytest.mark.parametrize("path", ["", "../source/clip.mp4", "360p/../../source/clip.mp4", "..", ".", "./master.m3u8",
                                  "/etc/passwd", "360p//index.m3u8", "360p/", "a\\..\\b", "seg\x00.m4s",
                                  "subs/ko.vtt\n", "x" * 1025])
def test_anything_that_could_leave_the_ladder_is_refused(path):
    assert relative_media_path(path) is None


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("bytes=0-99", ByteRange(0, 99, 1000)),
    ("bytes=100-", ByteRange(100, 999, 1000)),
    ("bytes=-10", ByteRange(990, 999, 1000)),
    ("bytes=-5000", ByteRange(0, 999, 1000)),  # more than there is: all of it
    ("bytes=990-5000", ByteRange(990, 999, 1000)),  # an end past the object is cut to it
    ("bytes=999-999", ByteRange(999, 999, 1000)),
    ("bytes=0-1,5-9", None),  # several ranges: the whole object, as RFC 9110 allows
    ("BYTES=0-1", ByteRange(0, 1, 1000)),  # the unit is case-insensitive (RFC 9110)
    ("Bytes=-10", ByteRange(990, 999, 1000)),
    ("bytes= 0-1 ", ByteRange(0, 1, 1000)),
    ("items=0-1", None),  # a unit other than bytes is ignored: the whole object
    ("Items=0-1,5-9", None),
    ("bytes=0-1, 5-9", None),
    ("bytes=0-" + "9" * 18, ByteRange(0, 999, 1000)),  # 18 digits: an end past the object, cut to it
])
def test_a_range_is_answered(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=50-10", "bytes=-0", "bytes=-",
                                    "bytes=a-b", "bytes 0-5", "bytes=0-5x", "bytes=\u0661-\u0662"])
def test_a_range_that_cannot_be_answered_is_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000,
                                    "bytes=1" + "0" * 18 + "-", "BYTES=" + "1" * 4301 + "-" + "2" * 4301])
def test_a_position_of_thousands_of_digits_is_unsatisfiable_not_an_error(header):
    # Python refuses int() of more than 4300 digits with a ValueError: that was a 500.
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_an_empty_object_has_no_range():
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)
    assert parse_range(None, 0) is None


def test_a_range_says_its_length_and_content_range():
    wanted = parse_range("bytes=10-19", 100)
    assert (wanted.length, wanted.content_range) == (10, "bytes 10-19/100")


@pytest.mark.parametrize(("name", "expected"), [
    ("master.m3u8", "application/vnd.apple.mpegurl"), ("manifest.mpd", "application/dash+xml"),
    ("360p/seg_00001.m4s", "video/iso.segment"), ("360p/init_360p.mp4", "video/mp4"),
    ("download.mp4", "video/mp4"), ("360p/seg_00001.ts", "video/mp2t"),
    ("subs/ko.vtt", "text/vtt; charset=utf-8"), ("storyboard.vtt", "text/vtt; charset=utf-8"),
    ("poster.jpg", "image/jpeg"), ("POSTER.JPG", "image/jpeg"), ("notes.bin", "application/octet-stream"),
])
def test_each_output_goes_with_the_type_players_expect(name, expected):
    assert content_type(name) == expected
