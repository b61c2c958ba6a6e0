"""Caption files as people save them: their text encoding decided, and refused when it cannot be.

Subtitle editors save what their system uses: UTF-8 with or without a byte order mark, UTF-16
with one (Notepad's "Unicode"), CP949 on Korean Windows (its "ANSI"; a superset of EUC-KR), and
Windows-1252 or Latin-1 on Western Windows and older Unix tools. The decision is deterministic,
in a fixed order, each step taken only where it cannot be wrong or has been checked:

1. A byte order mark (UTF-8, UTF-16 or UTF-32, either byte order) names the encoding, and the
   file must decode in it.
2. Bytes that are valid UTF-8 are UTF-8: outside ASCII, a legacy encoding's text practically
   never forms valid UTF-8 sequences by chance, and ASCII is the same in all of them.
3. Otherwise charset-normalizer, restricted to the legacy encodings supported, says which
   readings are coherent text (no mojibake by its measure), and ours must agree:
   a Korean reading first, then a Western one (see :func:`_korean` and :func:`_western` for why
   that order and what each must show).
4. Nothing left: ``InvalidInput`` naming every encoding tried, with the first byte that is not
   UTF-8 (a file mixing encodings is refused there, rather than half of it garbled).

Every caption file goes through :func:`decode_caption_bytes`: the sidecars of ``video add``
(with or without ``--key``), their stored copies at encode time, and the tracks ffmpeg extracts
from a source. What is stored and packaged is UTF-8 without a byte order mark.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from videoctl.domain.errors import InvalidInput

#: Byte order marks and what they name. UTF-32 LE's mark begins with UTF-16 LE's, so it comes first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
#: The legacy encodings charset-normalizer may choose among (Python's codec names), by family.
_FAMILIES = {"cp949": "Korean", "euc_kr": "Korean", "cp1252": "Western", "latin_1": "Western"}
_FAMILY_OF_CODEC = {codecs.lookup(name).name: family for name, family in _FAMILIES.items()}
#: What a refusal says was tried.
_TRIED = "a byte order mark (UTF-8, UTF-16, UTF-32), UTF-8, CP949/EUC-KR and Latin-1/Windows-1252"
_HINT = "save the file as UTF-8"
#: Two KS X 1001 Hangul syllables in a row, as CP949 and EUC-KR write them.
_KOREAN_WORD = re.compile(rb"(?:[\xb0-\xc8][\xa1-\xfe]){2}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)
_HANGUL_JAMO = range(0x3131, 0x318F)  # the compatibility jamo people type alone: ㅋㅋ, ㅠㅠ


@dataclass(frozen=True)
class DecodedText:
    """A caption file's text and the encoding it was read in ("UTF-8", "CP949", "Latin-1", …)."""

    text: str
    encoding: str


def decode_caption_bytes(data: bytes, what: str) -> DecodedText:
    """The text of a caption file, decided as the module says; InvalidInput (naming *what*) when
    its encoding cannot be decided or its text holds a NUL character."""
    decoded = _by_byte_order_mark(data, what)
    if decoded is None:
        try:
            decoded = DecodedText(data.decode("utf-8"), "UTF-8")
        except UnicodeDecodeError as exc:
            decoded = _legacy(data, what) or _undecidable(data, exc, what)
    if "\x00" in decoded.text:
        line = _line_of(decoded.text[:decoded.text.index("\x00")])
        raise InvalidInput(f"{what}: line {line}: a NUL character: this is not a text file "
                           "(or it is UTF-16 without a byte order mark)", hint=_HINT)
    return decoded


def _by_byte_order_mark(data: bytes, what: str) -> DecodedText | None:
    for bom, codec, label in _BYTE_ORDER_MARKS:
        if data.startswith(bom):
            body = data[len(bom):]
            try:
                return DecodedText(body.decode(codec), label)
            except UnicodeDecodeError as exc:
                line = _line_of(body[:exc.start].decode(codec, errors="replace"))
                raise InvalidInput(f"{what}: line {line}: not {label} text (byte 0x{body[exc.start]:02x}) "
                                   f"although the file begins with a {label} byte order mark", hint=_HINT) from None
    return None


def _legacy(data: bytes, what: str) -> DecodedText | None:
    """The Korean or Western reading of bytes that are not UTF-8, if charset-normalizer finds one
    coherent and our own check agrees; None otherwise."""
    matches = from_bytes(data, cp_isolation=list(_FAMILIES), preemptive_behaviour=False, enable_fallback=False)
    families = {_FAMILY_OF_CODEC[codecs.lookup(match.encoding).name] for match in matches}
    korean = _korean(data) if "Korean" in families else None
    if korean is None and "Western" in families:
        return _western(data, what)
    return korean


def _korean(data: bytes) -> DecodedText | None:
    """CP949 (EUC-KR is its subset, read the same), if the text is coherent Korean.

    Tried before the Western reading, whatever charset-normalizer's ranking: Korean bytes read as
    Latin-1 are always printable characters ("¾È³ç" for "안녕"), so a short Korean line can look
    clean Latin to a mess detector, while Latin text almost never forms Korean that passes this
    check. Coherent means Hangul make up at least half the letters outside ASCII, and at least
    half of those Hangul are among the 2,350 of EUC-KR (KS X 1001), which hold nearly every
    syllable in use: a Latin-1 capital such as "Ä" before an ASCII letter is valid CP949 too, but
    it makes one of CP949's rare extension syllables.
    """
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        return None
    letters = [char for char in text if ord(char) > 0x7F and char.isalpha()]
    hangul = [char for char in letters if ord(char) in _HANGUL_SYLLABLES or ord(char) in _HANGUL_JAMO]
    common = [char for char in hangul if _in_ks_x_1001(char)]
    if not hangul or 2 * len(hangul) < len(letters) or 2 * len(common) < len(hangul):
        return None
    return DecodedText(text, "EUC-KR" if _decodes(data, "euc_kr") else "CP949")


def _western(data: bytes, what: str) -> DecodedText | None:
    """Windows-1252, which reads every Latin-1 letter and sign the same, if charset-normalizer
    found it coherent (the caller's condition), the Korean reading was not, and no line of it is
    Korean.

    Latin-1 decodes any bytes at all, so it is never a fallback: it is taken only where the
    detector endorsed it, and read as Windows-1252, whose 0x80-0x9F are the quotes, dashes and €
    Western editors write. The five bytes Windows-1252 leaves undefined would be C1 control
    characters in Latin-1, which no caption holds: such a file is refused, not guessed.

    The detector measures a large file by its average, in samples, so one Korean line in a long
    Latin-1 file passes it. Korean is refused here by its bytes: two EUC-KR Hangul syllables in a
    row (a lead byte 0xB0-0xC8 and a trail byte 0xA1-0xFE, twice) are four letters such as
    "¾È³ç" in Latin-1, which no Western text holds (an all-caps "AÇÃO" makes one such pair, not two).
    """
    korean = _KOREAN_WORD.search(data)
    if korean is not None:
        line = _line_of(data[:korean.start()])
        raise InvalidInput(f"{what}: cannot tell its text encoding: line {line} holds Korean (CP949/EUC-KR) "
                           f"but the whole file does not read as Korean: does it mix encodings? (tried: {_TRIED})",
                           hint=_HINT)
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return DecodedText(text, "Windows-1252" if any(0x80 <= byte <= 0x9F for byte in data) else "Latin-1")


def _in_ks_x_1001(char: str) -> bool:
    """Whether CP949 writes *char* with two bytes from 0xA1 up, as EUC-KR does (Python's euc_kr
    codec would also write the other syllables, as eight-byte jamo sequences)."""
    first, second = char.encode("cp949")
    return first >= 0xA1 and second >= 0xA1


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _undecidable(data: bytes, not_utf8: UnicodeDecodeError, what: str) -> DecodedText:
    line = _line_of(data[:not_utf8.start])
    # Text never holds NUL; UTF-16 and UTF-32 hold one in every ASCII character.
    unmarked = " (its NUL bytes suggest UTF-16 or UTF-32 without a byte order mark)" if b"\x00" in data else ""
    raise InvalidInput(f"{what}: cannot tell its text encoding: line {line} is not UTF-8 "
                       f"(byte 0x{data[not_utf8.start]:02x}), and no other encoding tried reads it as "
                       f"coherent text{unmarked} (tried: {_TRIED})", hint=_HINT)


def _line_of(before: str | bytes) -> int:
    """The number of the line that follows *before*, counting line breaks as the caption parser does."""
    if isinstance(before, bytes):
        before = before.decode("latin_1")  # only the line breaks matter, and they are ASCII
    return len(_LINE_BREAK.split(before))
