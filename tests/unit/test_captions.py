"""Captions in the domain: SRT and WebVTT read strictly (line numbers in every refusal), language
tags checked and named, WebVTT written back, and a track cut into segments with its playlist."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videoctl.domain import keys
from videoctl.domain.captions import (
    Cue,
    check_language,
    fit_to_duration,
    language_from_metadata,
    language_name,
    media_playlist,
    package_track,
    parse_captions,
    read_webvtt,
    segment_cues,
    segment_windows,
    timestamp_map,
    write_webvtt,
)
from videoctl.domain.errors import InvalidInput

SRT = """1
00:00:01,000 --> 00:00:02,500
Hello

2
00:00:03,000 --> 00:01:04,250
Two
lines
"""

VTT = """WEBVTT - a lecture
Kind: captions

NOTE written by hand

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:02.500 align:start line:0
<v Lecturer>Hello

01:00:03.000 --> 01:00:04.000
An hour in
"""


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_captions(text, "ko.srt")
    return caught.value.message


# ---------------------------------------------------------------- reading


def test_srt_cues_and_times():
    assert parse_captions(SRT, "f") == [Cue(1000, 2500, "Hello"), Cue(3000, 64250, "Two\nlines")]


def test_srt_without_cue_numbers_and_with_dot_milliseconds():
    assert parse_captions("00:00:01.000 --> 00:00:02.000\nno number\n", "f") == [Cue(1000, 2000, "no number")]


@pytest.mark.parametrize("line_break", ["\r\n", "\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("text", [SRT, VTT], ids=["srt", "vtt"])
def test_line_endings_read_the_same(text, line_break):
    assert parse_captions(text.replace("\n", line_break), "f") == parse_captions(text, "f")


def test_webvtt_keeps_settings_and_text_drops_notes_styles_and_identifiers():
    assert parse_captions(VTT, "f") == [
        Cue(1000, 2500, "<v Lecturer>Hello", "align:start line:0"),
        Cue(3_603_000, 3_604_000, "An hour in"),
    ]


def test_overlapping_cues_are_kept_and_cues_out_of_order_sorted():
    text = ("2\n00:00:05,000 --> 00:00:06,000\nlater\n\n"
            "1\n00:00:01,000 --> 00:00:04,000\nlong\n\n"
            "3\n00:00:02,000 --> 00:00:03,000\ninside the long one\n")
    assert parse_captions(text, "f") == [
        Cue(1000, 4000, "long"), Cue(2000, 3000, "inside the long one"), Cue(5000, 6000, "later")]


def test_srt_text_becomes_webvtt_text():
    text = ("1\n00:00:01,000 --> 00:00:02,000\n"
            "{\\an8}<font color=\"#ff0\">Tom & <I>Jerry</I></font> <3 <blink>\n\n")
    assert parse_captions(text, "f")[0].text == "Tom &amp; <i>Jerry</i> &lt;3 &lt;blink&gt;"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "ko.srt is empty: it holds no captions"),
    (" \n\r\n\t\n", "ko.srt is empty: it holds no captions"),
    ("WEBVTT\n\nNOTE nothing here\n", "ko.srt holds no captions"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:01,000 --> 00:00:02\nbad\n",
     "ko.srt: line 6: malformed timestamp '00:00:02' (expected hh:mm:ss,ttt)"),
    ("1\n0:0:1,000 --> 00:00:02,000\nx\n", "ko.srt: line 2: malformed timestamp '0:0:1,000'"),
    ("1\n00:00:01,000 --> 00:00:02,000\nx\n\n\n3\n00:00:61,000 --> 00:01:02,000\ny\n",
     "ko.srt: line 7: timestamp '00:00:61,000' has minutes or seconds above 59"),
    ("WEBVTT\n\n00:01,000 --> 00:02.000\nx\n", "ko.srt: line 3: malformed timestamp '00:01,000' (expected hh:mm:ss.ttt)"),
    ("1\n00:00:01,000 -> 00:00:02,000\nx\n", "ko.srt: line 2: expected a timing line"),
    ("1\n00:00:01,000 --> \nx\n", "ko.srt: line 2: malformed timing line '00:00:01,000 -->'"),
    ("1\n00:00:03,000 --> 00:00:02,000\nx\n", "ko.srt: line 2: the cue ends (00:00:02,000) before it starts (00:00:03,000)"),
    ("1\n00:00:03,000 --> 00:00:03,000\nx\n", "ko.srt: line 2: the cue ends when it starts"),
    ("1\n00:00:01,000 --> 00:00:02,000\nx\n2\n00:00:03,000 --> 00:00:04,000\ny\n",
     "ko.srt: line 5: a timing line inside a cue's text: cues must be separated by a blank line"),
    ("WEBVTT\n00:00:01.000 --> 00:00:02.000\nx\n", "ko.srt: line 2: a cue must be separated from the WEBVTT header"),
    ("WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nx\n", "ko.srt: line 1: a WebVTT file must begin with 'WEBVTT'"),
    ("WEBVTT\n\nan identifier\nno timing\n", "ko.srt: line 4: expected a cue timing line"),
    ("This is a letter,\nnot captions.\n", "ko.srt: line 1: expected a timing line"),
])
def test_malformed_input_is_refused_saying_what_and_where(text, problem):
    assert problem in refusal(text)


def test_a_webvtt_file_must_begin_with_its_signature():
    with pytest.raises(InvalidInput, match="line 1: a WebVTT file must begin with 'WEBVTT'"):
        read_webvtt("\nWEBVTT\n", "x.vtt")


# ---------------------------------------------------------------- writing


def test_written_webvtt_has_hours_settings_and_header():
    assert write_webvtt([Cue(500, 3_723_004, "a\nb", "align:end")], ["X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"]) == (
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n"
        "00:00:00.500 --> 01:02:03.004 align:end\na\nb\n")


_text_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20).filter(
    lambda line: line.strip() == line and line and "-->" not in line)
_cue = st.builds(
    lambda start, length, lines, settings: Cue(start, start + length, "\n".join(lines), settings),
    st.integers(0, 10 * 3_600_000), st.integers(1, 60_000), st.lists(_text_line, min_size=1, max_size=3),
    st.sampled_from(["", "align:start", "line:0 position:10%"]))


@given(st.lists(_cue, min_size=1, max_size=8))
def test_what_is_written_reads_back_the_same(cues):
    assert parse_captions(write_webvtt(cues), "f") == sorted(cues)


# ---------------------------------------------------------------- languages


@pytest.mark.parametrize(("given_tag", "canonical", "name"), [
    ("ko", "ko", "한국어"),
    ("EN", "en", "English"),
    ("pt-br", "pt-BR", "Português (BR)"),
    ("kor", "ko", "한국어"),
    ("ger", "de", "Deutsch"),
    ("zh-hant-tw", "zh-Hant-TW", "中文 (Hant-TW)"),
    ("es-419", "es-419", "Español (419)"),
    ("sl-rozaj", "sl-rozaj", "sl-rozaj"),
    ("fil", "fil", "fil"),
    ("und", "und", "Unknown language"),
])
def test_language_tags_are_canonical_and_named(given_tag, canonical, name):
    assert check_language(given_tag) == canonical
    assert language_name(canonical) == name


@pytest.mark.parametrize("garbage", ["", "k", "english", "en_US", "en-", "-en", "ko kr", "../ko", "ko/x",
                                     "e1", "en-US-", "en-" + "a" * 40, "한국어"])
def test_garbage_is_not_a_language(garbage):
    with pytest.raises(InvalidInput, match="is not a language tag: use a BCP 47 tag such as ko, en or pt-BR"):
        check_language(garbage)


@pytest.mark.parametrize(("metadata", "language"), [("kor", "ko"), ("eng", "en"), ("en-US", "en-US"),
                                                    (None, "und"), ("", "und"), ("??", "und"), (" jpn ", "ja")])
def test_container_languages(metadata, language):
    assert language_from_metadata(metadata) == language


def test_names_differ_for_every_known_language():
    from videoctl.domain.captions import _LANGUAGES

    names = [language_name(code) for code in _LANGUAGES]
    assert len(set(names)) == len(names)


# ---------------------------------------------------------------- fitting and segmenting


def test_a_cue_running_past_the_end_is_cut_and_one_starting_after_it_dropped():
    kept, dropped = fit_to_duration([Cue(0, 1000, "a"), Cue(1500, 9000, "b"), Cue(2000, 2500, "c")], 2000)
    assert kept == [Cue(0, 1000, "a"), Cue(1500, 2000, "b")]
    assert dropped == [Cue(2000, 2500, "c")]


def test_windows_are_the_segment_length_and_the_last_what_remains():
    assert segment_windows(10_500, 4000) == [(0, 4000), (4000, 8000), (8000, 10_500)]
    assert segment_windows(8000, 4000) == [(0, 4000), (4000, 8000)]
    assert segment_windows(1500, 4000) == [(0, 1500)]


def test_a_cue_spanning_a_boundary_is_in_both_segments_and_touching_one_is_not():
    spanning, ends_there, starts_there = Cue(3500, 4500, "x"), Cue(3000, 4000, "y"), Cue(4000, 5000, "z")
    assert segment_cues([spanning, ends_there, starts_there], [(0, 4000), (4000, 8000)]) == [
        [spanning, ends_there], [spanning, starts_there]]


@pytest.mark.parametrize(("start_s", "mpegts"), [(0.0, 0), (1.4, 126_000), (127_920 / 90_000, 127_920),
                                                 (1024 / 15360, 6000), (-0.01, 0)])
def test_the_timestamp_map_puts_local_zero_at_the_ladder_start(start_s, mpegts):
    assert timestamp_map(start_s) == f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000"


def test_media_playlist_text():
    assert media_playlist([("ko/0.vtt", 4.0), ("ko/1.vtt", 2.5)]) == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:4.000,\nko/0.vtt\n#EXTINF:2.500,\nko/1.vtt\n#EXT-X-ENDLIST\n")


def test_a_packaged_track_has_its_playlist_segments_and_whole_file():
    cues = [Cue(1000, 2000, "one"), Cue(3500, 4500, "spans"), Cue(9000, 10_000, "last")]
    files = package_track("pt-BR", cues, duration_ms=10_000, segment_ms=4000, start_s=1.4)
    assert sorted(files) == ["subs/pt-BR.m3u8", "subs/pt-BR.vtt", "subs/pt-BR/0.vtt", "subs/pt-BR/1.vtt",
                             "subs/pt-BR/2.vtt"]
    assert files["subs/pt-BR.m3u8"] == media_playlist([("pt-BR/0.vtt", 4.0), ("pt-BR/1.vtt", 4.0),
                                                       ("pt-BR/2.vtt", 2.0)])
    header = ("X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000",)
    segments = [read_webvtt(files[f"subs/pt-BR/{n}.vtt"], "segment") for n in range(3)]
    assert [s.header for s in segments] == [header] * 3
    assert [list(s.cues) for s in segments] == [cues[:2], [cues[1]], [cues[2]]]
    whole = read_webvtt(files["subs/pt-BR.vtt"], "whole")
    assert whole.header == () and list(whole.cues) == cues


# ---------------------------------------------------------------- keys


def test_caption_keys_keep_their_order_and_language():
    key = keys.caption_key("videos", 7, 2, "pt-BR")
    assert key == "videos/7/captions/2.pt-BR.vtt"
    assert key.startswith(keys.captions_prefix("videos", 7))
    assert keys.caption_of_key(key) == (2, "pt-BR")


@pytest.mark.parametrize("name", ["ko.vtt", "x.ko.vtt", "1.ko.srt", "1.KO.vtt", "1.english.vtt", "1..vtt", "1.ko"])
def test_other_names_under_the_captions_prefix_are_not_captions(name):
    assert keys.caption_of_key("videos/7/captions/" + name) is None
