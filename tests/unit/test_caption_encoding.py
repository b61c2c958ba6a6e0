"""Caption files in the encodings people save them in: decided (byte order mark, UTF-8, then
CP949/EUC-KR or Latin-1/Windows-1252 as charset-normalizer and our checks agree) and read the
same as UTF-8, or refused naming every encoding tried when the file cannot be decided."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from videoctl.domain.captions import Cue, parse_captions
from videoctl.domain.errors import InvalidInput
from videoctl.media.captions import read_caption_file
from videoctl.media.text_encoding import decode_caption_bytes

# Saved by Windows editors: CRLF line breaks.
KOREAN = ("1\r\n00:00:01,000 --> 00:00:02,500\r\n안녕하세요, 여러분. Welcome to the lecture!\r\n\r\n"
          "2\r\n00:00:03,000 --> 00:00:04,000\r\n오늘은 「미분」을 배웁니다 (calculus) ①\r\n\r\n"
          "3\r\n00:00:04,500 --> 00:00:05,000\r\n네\r\n")
#: CP949 holds all 11,172 Hangul syllables, EUC-KR 2,350 of them: not 똠.
KOREAN_CP949 = KOREAN + "\r\n4\r\n00:00:05,500 --> 00:00:06,000\r\n똠방각하의 OK 사인\r\n"
WESTERN = ("1\r\n00:00:01,000 --> 00:00:02,500\r\nÀ bientôt, chère élève ! Ça coûte cher.\r\n\r\n"
           "2\r\n00:00:03,000 --> 00:00:04,000\r\nÄrger über die Größe der Straße? Naïve Übung.\r\n")
#: Windows-1252's own characters (0x80-0x9F): typographic quotes, a dash, an ellipsis, the euro.
WINDOWS_1252 = WESTERN + "\r\n3\r\n00:00:04,500 --> 00:00:05,000\r\n“Ça coûte 5 €” – d’accord…\r\n"
HINT = "save the file as UTF-8"
TRIED = ("UTF-8", "UTF-16", "UTF-32", "CP949/EUC-KR", "Latin-1/Windows-1252")


@pytest.mark.parametrize(("text", "data", "encoding"), [
    (KOREAN_CP949, KOREAN_CP949.encode("utf-8"), "UTF-8"),
    (KOREAN_CP949, codecs.BOM_UTF8 + KOREAN_CP949.encode("utf-8"), "UTF-8"),
    (KOREAN_CP949, codecs.BOM_UTF16_LE + KOREAN_CP949.encode("utf-16-le"), "UTF-16"),
    (KOREAN_CP949, codecs.BOM_UTF16_BE + KOREAN_CP949.encode("utf-16-be"), "UTF-16"),
    (KOREAN_CP949, codecs.BOM_UTF32_LE + KOREAN_CP949.encode("utf-32-le"), "UTF-32"),
    (KOREAN_CP949, codecs.BOM_UTF32_BE + KOREAN_CP949.encode("utf-32-be"), "UTF-32"),
    (KOREAN_CP949, KOREAN_CP949.encode("cp949"), "CP949"),
    (KOREAN, KOREAN.encode("euc_kr"), "EUC-KR"),
    (WESTERN, WESTERN.encode("latin_1"), "Latin-1"),
    (WINDOWS_1252, WINDOWS_1252.encode("cp1252"), "Windows-1252"),
    (WINDOWS_1252, codecs.BOM_UTF16_LE + WINDOWS_1252.encode("utf-16-le"), "UTF-16"),
], ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf32le-bom", "utf32be-bom", "cp949", "euc-kr",
        "latin1", "windows-1252", "western-utf16le-bom"])
def test_each_encoding_reads_as_the_same_text(text, data, encoding):
    decoded = decode_caption_bytes(data, "ko.srt")
    assert (decoded.text, decoded.encoding) == (text, encoding)


@pytest.mark.parametrize(("text", "encoding"), [
    (KOREAN_CP949, "utf-8"), (KOREAN_CP949, "cp949"), (KOREAN, "euc_kr"), (WESTERN, "latin_1"),
    (WINDOWS_1252, "cp1252")])
def test_a_caption_file_gives_the_cues_of_its_text(tmp_path: Path, text, encoding):
    path = tmp_path / "captions.srt"
    path.write_bytes(text.encode(encoding))
    cues = read_caption_file(path, "captions 'ko'")
    assert cues == parse_captions(text, "f")
    assert cues[0] == Cue(1000, 2500, text.split("\r\n")[2])


@pytest.mark.parametrize(("line", "encoding", "read_as"), [
    # Read as Windows-1252 this is "¨ç¹ø ¹®Á¦", printable letters and signs that a mess detector
    # ranks above the Korean reading: Korean is tried first.
    ("①번 문제", "cp949", "EUC-KR"),
    ("뭐?", "cp949", "EUC-KR"),
    # Valid CP949 too ("Ä" and "r" make a rare extension syllable), but German.
    ("Ärger", "latin_1", "Latin-1"),
    ("Es sind 20 °C.", "latin_1", "Latin-1"),
])
def test_short_lines_valid_in_both_families_are_read_in_their_own(line, encoding, read_as):
    text = f"1\r\n00:00:01,000 --> 00:00:02,000\r\n{line}\r\n"
    decoded = decode_caption_bytes(text.encode(encoding), "f.srt")
    assert (decoded.text, decoded.encoding) == (text, read_as)


def refusal(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        decode_caption_bytes(data, "ko.srt")
    return caught.value


def test_random_bytes_are_refused_naming_every_encoding_tried():
    data = bytes(random.Random(22).randrange(1, 256) for _ in range(2000))
    refused = refusal(data)
    assert refused.message.startswith("ko.srt: cannot tell its text encoding: line ")
    assert all(name in refused.message for name in TRIED)
    assert refused.hint == HINT


def test_utf8_and_cp949_mixed_are_refused_at_the_first_line_that_is_not_utf8():
    first, rest = KOREAN.split("2\r\n", 1)
    refused = refusal(first.encode("utf-8") + ("2\r\n" + rest).encode("cp949"))
    assert refused.message.startswith("ko.srt: cannot tell its text encoding: line 7 is not UTF-8 (byte 0xbf)")
    assert all(name in refused.message for name in TRIED)


def test_latin1_and_utf8_mixed_are_refused():
    refused = refusal(WESTERN.encode("latin_1") + WESTERN.encode("utf-8"))
    assert refused.message.startswith("ko.srt: cannot tell its text encoding: line 3 is not UTF-8 (byte 0xc0)")


def test_a_korean_line_in_a_long_latin1_file_is_not_swallowed():
    # The detector samples and averages a long file: one Korean line in it looks clean Latin-1.
    cue = "{n}\r\n00:00:{s:02d},000 --> 00:00:{s:02d},500\r\n{text}\r\n\r\n"
    before = "".join(cue.format(n=n, s=n % 60, text="À bientôt, chère élève !") for n in range(1, 200))
    korean = cue.format(n=200, s=20, text="안녕하세요, 여러분.")
    after = "".join(cue.format(n=n, s=n % 60, text="Ärger über die Größe.") for n in range(201, 400))
    refused = refusal(before.encode("latin_1") + korean.encode("cp949") + after.encode("latin_1"))
    assert refused.message.startswith("ko.srt: cannot tell its text encoding: line 799 holds Korean (CP949/EUC-KR) "
                                      "but the whole file does not read as Korean: does it mix encodings?")
    assert all(name in refused.message for name in TRIED)
    assert decode_caption_bytes((before + after).encode("latin_1"), "f").text == before + after


def test_a_byte_windows_1252_leaves_undefined_is_refused_not_read_as_a_control_character():
    refused = refusal(WESTERN.encode("latin_1").replace(b"Gr", b"G\x81r"))
    assert refused.message.startswith("ko.srt: cannot tell its text encoding")


@pytest.mark.parametrize(("data", "message"), [
    (codecs.BOM_UTF16_LE + b"1\x00\n", "ko.srt: line 1: not UTF-16 text (byte 0x0a) although the file begins "
                                        "with a UTF-16 byte order mark"),
    (codecs.BOM_UTF8 + "1\r\n00:00:01,000 --> 00:00:02,000\r\n한국어\r\n".encode("cp949"),
     "ko.srt: line 3: not UTF-8 text (byte 0xc7) although the file begins with a UTF-8 byte order mark"),
    (b"1\n00:00:01,000 --> 00:00:02,000\nx\x00y\n", "ko.srt: line 3: a NUL character: this is not a text file"),
    ("1\r00:00:01,000 --> 00:00:02,000\rx\x00y\r".encode("cp949"), "ko.srt: line 3: a NUL character"),
    ("1\r\n00:00:01,000 --> 00:00:02,000\r\nHello\r\n".encode("utf-16-le"),
     "ko.srt: line 1: a NUL character: this is not a text file (or it is UTF-16 without a byte order mark)"),
    (KOREAN.encode("utf-16-be"), "ko.srt: cannot tell its text encoding: line 5 is not UTF-8 (byte 0xc5), and no "
                                 "other encoding tried reads it as coherent text (its NUL bytes suggest UTF-16 or "
                                 "UTF-32 without a byte order mark)"),
])
def test_a_byte_order_mark_is_kept_to_and_nul_is_not_text(data, message):
    refused = refusal(data)
    assert refused.message.startswith(message)
    assert refused.hint == HINT


@pytest.mark.parametrize("mark", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF32_BE])
def test_a_byte_order_mark_alone_is_an_empty_file(tmp_path: Path, mark):
    path = tmp_path / "empty.srt"
    path.write_bytes(mark)
    with pytest.raises(InvalidInput, match=r"^captions 'ko' is empty: it holds no captions$"):
        read_caption_file(path, "captions 'ko'")
