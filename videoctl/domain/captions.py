"""Captions as cues: read SRT and WebVTT, name languages, write segmented WebVTT. Pure.

Everything a caption file becomes goes through :class:`Cue` (times in whole
milliseconds, the precision both formats have), so a sidecar, a track extracted from
the source and the packaged output are read and written by the same code.

Reading takes decoded text (``videoctl.media.text_encoding`` decides a file's encoding). It
is strict where a player would silently go wrong and lenient where nothing is lost: a
malformed timestamp, a cue ending before it starts, a missing blank line between cues, or a
file without a single cue is ``InvalidInput`` naming the line; overlapping cues (shown
together, as both formats allow) and cues out of order (sorted by start) are accepted.
WebVTT ``NOTE``, ``STYLE`` and ``REGION`` blocks and cue identifiers are not carried over;
cue settings (position, alignment) are. SRT text keeps ``<i>``, ``<b>`` and ``<u>``, loses
``<font>`` and ``{\\an8}``-style tags WebVTT has no meaning for, and has ``&``, ``<`` and
``>`` escaped.

Packaging (RFC 8216 section 3.5): each language becomes WebVTT segments of the ladder's
segment length, a cue spanning a boundary appearing in both segments with the same times
(hls.js recognises the repeat by its times and text and shows it once), each segment
headed by the same ``X-TIMESTAMP-MAP``: cue times are the source's own (LOCAL 0 is the
start of the video), and MPEGTS is where that start landed on the ladder's 90 kHz clock,
measured from the encoded segments (about 1.4 s, MPEGTS 126000 plus the audio priming,
for MPEG-TS; 0 or a frame or two for fMP4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from videoctl.domain.errors import InvalidInput
from videoctl.domain.outputs import SUBTITLES

#: The MPEG-TS presentation clock: X-TIMESTAMP-MAP's MPEGTS counts in these ticks.
MPEGTS_HZ = 90_000
#: Timestamps are 33 bits wide on that clock.
_MPEGTS_WRAP = 2**33

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_VTT_TIME = re.compile(r"(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})")
_SRT_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{3})")
_TIMING = re.compile(r"(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?")
_SRT_INDEX = re.compile(r"\d+")
# SRT text: ASS override blocks such as {\an8}, and anything that looks like a tag.
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")
_TAG = re.compile(r"<(/?)([A-Za-z]+)\b[^<>]*>")
_KEPT_TAGS = frozenset({"i", "b", "u"})
_DROPPED_TAGS = frozenset({"font"})


@dataclass(frozen=True, order=True)
class Cue:
    """One caption: shown from *start_ms* until *end_ms*, with WebVTT cue text and settings."""

    start_ms: int
    end_ms: int
    text: str
    #: WebVTT cue settings as written ("line:0 align:start"), or "".
    settings: str = ""


@dataclass(frozen=True)
class WebVtt:
    """A WebVTT file: its header lines after ``WEBVTT`` (X-TIMESTAMP-MAP, …) and its cues."""

    header: tuple[str, ...]
    cues: tuple[Cue, ...]


# ---------------------------------------------------------------- reading


def parse_captions(text: str, what: str) -> list[Cue]:
    """The cues of an SRT or WebVTT document (decoded text: bytes go through
    ``videoctl.media.text_encoding`` first), sorted by start; InvalidInput (naming *what* and the
    line) for anything malformed, and for a document without a single cue."""
    if not text.strip():
        raise InvalidInput(f"{what} is empty: it holds no captions")
    if text.startswith("WEBVTT"):
        cues = list(read_webvtt(text, what).cues)
    else:
        cues = read_srt(text, what)
    if not cues:
        raise InvalidInput(f"{what} holds no captions: not a single cue with text")
    return sorted(cues)


def read_webvtt(text: str, what: str) -> WebVtt:
    """A WebVTT document (decoded text); it may hold no cues."""
    blocks = _blocks(text)
    if not blocks or blocks[0][0] != 1 or not re.fullmatch(r"WEBVTT(?:[ \t].*)?", blocks[0][1][0]):
        raise InvalidInput(f"{what}: line 1: a WebVTT file must begin with 'WEBVTT'")
    (_, header), *rest = blocks
    for line_no, line in enumerate(header[1:], start=2):
        if "-->" in line:
            raise InvalidInput(f"{what}: line {line_no}: a cue must be separated from the "
                               "WEBVTT header by a blank line")
    cues = []
    for line_no, lines in rest:
        keyword = lines[0].split(maxsplit=1)[0]
        if keyword in ("NOTE", "STYLE", "REGION") and "-->" not in lines[0]:
            continue
        timing_at = 0 if "-->" in lines[0] else 1  # an identifier line may come first
        if timing_at >= len(lines) or "-->" not in lines[timing_at]:
            raise InvalidInput(f"{what}: line {line_no + timing_at}: expected a cue timing line "
                               "'00:00:01.000 --> 00:00:02.000'")
        start, end, settings = _timing(lines[timing_at], _VTT_TIME, "hh:mm:ss.ttt", what, line_no + timing_at)
        body = lines[timing_at + 1:]
        _no_timing_in_text(body, what, line_no + timing_at + 1)
        if body:
            cues.append(Cue(start, end, "\n".join(body), settings))
    return WebVtt(tuple(header[1:]), tuple(cues))


def read_srt(text: str, what: str) -> list[Cue]:
    """The cues of an SRT document (decoded text), their text turned into WebVTT cue text."""
    cues = []
    for line_no, lines in _blocks(text):
        timing_at = 1 if _SRT_INDEX.fullmatch(lines[0].strip()) else 0
        if timing_at >= len(lines) or "-->" not in lines[timing_at]:
            raise InvalidInput(f"{what}: line {line_no + timing_at}: expected a timing line "
                               "'00:00:01,000 --> 00:00:02,000' (SRT and WebVTT are accepted)")
        start, end, _ = _timing(lines[timing_at], _SRT_TIME, "hh:mm:ss,ttt", what, line_no + timing_at)
        body = lines[timing_at + 1:]
        _no_timing_in_text(body, what, line_no + timing_at + 1)
        cue_text = "\n".join(filter(None, (_srt_line_to_vtt(line) for line in body)))
        if cue_text:
            cues.append(Cue(start, end, cue_text))
    return cues


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the number of its first line (1-based)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line.rstrip())
        else:
            current = []
    return [(number, lines) for number, lines in blocks if lines]


def _timing(line: str, stamp: re.Pattern[str], expected: str, what: str, line_no: int) -> tuple[int, int, str]:
    """(start, end, settings) of a timing line whose timestamps match *stamp* (*expected* says how)."""
    found = _TIMING.fullmatch(line.strip())
    if found is None:
        raise InvalidInput(f"{what}: line {line_no}: malformed timing line {line.strip()!r}")
    start, end = (_ms(stamp, expected, text, what, line_no) for text in (found[1], found[2]))
    if end < start:
        raise InvalidInput(f"{what}: line {line_no}: the cue ends ({found[2]}) before it starts ({found[1]})")
    if end == start:
        raise InvalidInput(f"{what}: line {line_no}: the cue ends when it starts ({found[1]}): it would never show")
    return start, end, (found[3] or "").strip()


def _ms(stamp: re.Pattern[str], expected: str, text: str, what: str, line_no: int) -> int:
    found = stamp.fullmatch(text)
    if found is None:
        raise InvalidInput(f"{what}: line {line_no}: malformed timestamp {text!r} (expected {expected})")
    hours, minutes, seconds, millis = (int(part or 0) for part in found.groups())
    if minutes > 59 or seconds > 59:
        raise InvalidInput(f"{what}: line {line_no}: timestamp {text!r} has minutes or seconds above 59")
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _no_timing_in_text(body: Sequence[str], what: str, first_line: int) -> None:
    for offset, line in enumerate(body):
        if "-->" in line:
            raise InvalidInput(f"{what}: line {first_line + offset}: a timing line inside a cue's text: "
                               "cues must be separated by a blank line")


def _srt_line_to_vtt(line: str) -> str:
    """One line of SRT text as WebVTT cue text: i/b/u kept, font and ASS overrides dropped, the rest escaped."""
    line = _ASS_OVERRIDE.sub("", line)
    out: list[str] = []
    position = 0
    for tag in _TAG.finditer(line):
        out.append(_escape(line[position:tag.start()]))
        name = tag[2].lower()
        if name in _KEPT_TAGS:
            out.append(f"<{tag[1]}{name}>")
        elif name not in _DROPPED_TAGS:
            out.append(_escape(tag[0]))
        position = tag.end()
    out.append(_escape(line[position:]))
    return "".join(out).strip()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- languages

#: Common languages: BCP 47 primary subtag → (name in the language itself, ISO 639-2 codes),
#: so a player's menu reads "한국어", and a track tagged "kor" in its container is "ko".
_LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ar": ("العربية", ("ara",)),
    "bn": ("বাংলা", ("ben",)),
    "cs": ("Čeština", ("cze", "ces")),
    "da": ("Dansk", ("dan",)),
    "de": ("Deutsch", ("ger", "deu")),
    "el": ("Ελληνικά", ("gre", "ell")),
    "en": ("English", ("eng",)),
    "es": ("Español", ("spa",)),
    "fa": ("فارسی", ("per", "fas")),
    "fi": ("Suomi", ("fin",)),
    "fr": ("Français", ("fre", "fra")),
    "he": ("עברית", ("heb",)),
    "hi": ("हिन्दी", ("hin",)),
    "hu": ("Magyar", ("hun",)),
    "id": ("Bahasa Indonesia", ("ind",)),
    "it": ("Italiano", ("ita",)),
    "ja": ("日本語", ("jpn",)),
    "ko": ("한국어", ("kor",)),
    "ms": ("Bahasa Melayu", ("may", "msa")),
    "nl": ("Nederlands", ("dut", "nld")),
    "no": ("Norsk", ("nor",)),
    "pl": ("Polski", ("pol",)),
    "pt": ("Português", ("por",)),
    "ro": ("Română", ("rum", "ron")),
    "ru": ("Русский", ("rus",)),
    "sv": ("Svenska", ("swe",)),
    "th": ("ไทย", ("tha",)),
    "tl": ("Tagalog", ("tgl",)),
    "tr": ("Türkçe", ("tur",)),
    "uk": ("Українська", ("ukr",)),
    "vi": ("Tiếng Việt", ("vie",)),
    "zh": ("中文", ("chi", "zho")),
}
_SHORTEST = {code: short for short, (_, codes) in _LANGUAGES.items() for code in codes}
UNDETERMINED = "und"
_UNDETERMINED_NAME = "Unknown language"

#: language[-script][-region][-variant…]: "ko", "en", "pt-BR", "zh-Hant-TW", "sl-rozaj".
_LANGUAGE_TAG = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*)")
_MAX_TAG = 35


def check_language(tag: str) -> str:
    """*tag* as a canonical BCP 47 tag ("pt-br" → "pt-BR", "kor" → "ko"), or InvalidInput."""
    found = _LANGUAGE_TAG.fullmatch(tag) if len(tag) <= _MAX_TAG else None
    if found is None:
        raise InvalidInput(f"{tag!r} is not a language tag: use a BCP 47 tag such as ko, en or pt-BR")
    language = found["language"].lower()
    parts = [_SHORTEST.get(language, language)]
    if found["script"]:
        parts.append(found["script"].title())
    if found["region"]:
        parts.append(found["region"].upper())
    parts += [variant.lower() for variant in found["variants"].split("-") if variant]
    return "-".join(parts)


def language_from_metadata(value: str | None) -> str:
    """The language a container's stream metadata names ("kor", "en-US"), else "und"."""
    try:
        return check_language((value or "").strip())
    except InvalidInput:
        return UNDETERMINED


def language_name(tag: str) -> str:
    """What a player's menu shows for a canonical tag: "한국어", "Português (BR)", or the tag itself."""
    language, _, rest = tag.partition("-")
    if language == UNDETERMINED:
        return _UNDETERMINED_NAME
    if language not in _LANGUAGES:
        return tag
    name = _LANGUAGES[language][0]
    return f"{name} ({rest})" if rest else name


# ---------------------------------------------------------------- writing and packaging


def write_webvtt(cues: Iterable[Cue], header: Sequence[str] = ()) -> str:
    """A WebVTT document of *cues*, with *header* lines (X-TIMESTAMP-MAP) after ``WEBVTT``."""
    lines = ["WEBVTT", *header, ""]
    for cue in cues:
        timing = f"{_stamp(cue.start_ms)} --> {_stamp(cue.end_ms)}"
        lines += [f"{timing} {cue.settings}" if cue.settings else timing, cue.text, ""]
    return "\n".join(lines)


def _stamp(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def timestamp_map(start_s: float) -> str:
    """The X-TIMESTAMP-MAP header putting LOCAL 0 (the source's start) at *start_s* on the ladder's clock."""
    mpegts = max(0, round(start_s * MPEGTS_HZ)) % _MPEGTS_WRAP
    return f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000"


def fit_to_duration(cues: Iterable[Cue], duration_ms: int) -> tuple[list[Cue], list[Cue]]:
    """(cues kept, cues dropped): one running past the end is cut at it; one starting at or after
    the end could never be shown and is dropped."""
    kept, dropped = [], []
    for cue in cues:
        if cue.start_ms >= duration_ms:
            dropped.append(cue)
        else:
            kept.append(replace(cue, end_ms=min(cue.end_ms, duration_ms)))
    return kept, dropped


def segment_windows(duration_ms: int, segment_ms: int) -> list[tuple[int, int]]:
    """[start, end) of each segment: *segment_ms* long, the last one what remains."""
    count = max(1, math.ceil(duration_ms / segment_ms))
    return [(n * segment_ms, min((n + 1) * segment_ms, duration_ms)) for n in range(count)]


def segment_cues(cues: Sequence[Cue], windows: Sequence[tuple[int, int]]) -> list[list[Cue]]:
    """The cues shown during each window; a cue spanning a boundary is in every window it touches."""
    return [[cue for cue in cues if cue.start_ms < end and cue.end_ms > start] for start, end in windows]


def media_playlist(segments: Sequence[tuple[str, float]]) -> str:
    """A VOD media playlist of (uri, duration in seconds) segments."""
    target = max(1, max(math.ceil(duration) for _, duration in segments))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD"]
    for uri, duration in segments:
        lines += [f"#EXTINF:{duration:.3f},", uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def playlist_path(language: str) -> str:
    return f"{SUBTITLES}{language}.m3u8"


def track_path(language: str) -> str:
    return f"{SUBTITLES}{language}.vtt"


def package_track(language: str, cues: Sequence[Cue], *, duration_ms: int, segment_ms: int,
                  start_s: float) -> dict[str, str]:
    """Every file of one language, by path relative to the attempt prefix: the HLS playlist
    ``subs/{lang}.m3u8``, its segments ``subs/{lang}/{n}.vtt`` and the whole track ``subs/{lang}.vtt``.

    *cues* must lie within the duration already (:func:`fit_to_duration`).
    """
    windows = segment_windows(duration_ms, segment_ms)
    header = [timestamp_map(start_s)]
    files = {track_path(language): write_webvtt(cues)}
    segments = []
    for number, (window, shown) in enumerate(zip(windows, segment_cues(cues, windows), strict=True)):
        uri = f"{language}/{number}.vtt"
        files[f"{SUBTITLES}{uri}"] = write_webvtt(shown, header)
        segments.append((uri, (window[1] - window[0]) / 1000))
    files[playlist_path(language)] = media_playlist(segments)
    return files
