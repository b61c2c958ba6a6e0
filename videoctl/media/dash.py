"""``manifest.mpd``: a static MPEG-DASH manifest over the very same CMAF segments as the HLS ladder.

Nothing is stored twice: the MPD names the init segments and fragments the fMP4 ladder
already has (``{rung}/init_{rung}.mp4``, ``{rung}/seg_00000.m4s`` …), in one video
AdaptationSet (a Representation per rung, ids the rung names), the audio AdaptationSet,
and one text AdaptationSet per caption language (WebVTT, its whole file as the BaseURL).
Every element's children come in the order of MPEG's schema (``DASH-MPD.xsd``, ISO/IEC
23009-1), against which the tests validate every MPD: lenient players accept another order,
a strict parser need not.

Why a small writer here rather than ffmpeg's ``dash`` muxer with ``hls_playlist`` (which
writes both manifests over one set of segments): that muxer refuses an AdaptationSet whose
rungs' aspect ratios differ by rounding (854x480 next to 1280x720, our default ladder, is
"Conflicting stream aspect ratios"), writes its HLS playlists without
``EXT-X-PLAYLIST-TYPE:VOD`` and with wall-clock ``PROGRAM-DATE-TIME`` tags, names them
``media_N.m3u8`` beside numbered folders, and relies on edit lists to line tracks up,
which MSE players ignore. The encode itself costs the same either way
(``benchmarks/encode_ladder.py`` (g) measures it); see docs/encoding.md.

The SegmentTimeline is written from each fragment's own ``tfdt`` and sample durations
(``media.mp4``), so DASH players place every segment exactly where its media is.

``verify_mpd`` parses the MPD back and checks it is static, describes the ladder, lasts as
long as the video, and that every file it names (templates expanded) exists and is not empty.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videoctl.domain.audio import AudioRendition
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, output_fps, rung_size
from videoctl.domain.outputs import MPD, SubtitleRendition
from videoctl.media import mp4
from videoctl.media.encode import MEDIA_PLAYLIST
from videoctl.media.hls import Rendition, load_media_playlist, measure_audio, measure_video
from videoctl.media.manifests import check_named_file, read_manifest
from videoctl.media.probe import SourceInfo

NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"
PROFILE = "urn:mpeg:dash:profile:isoff-live:2011"
_ROLE_SCHEME = "urn:mpeg:dash:role:2011"
_CHANNELS_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
_AUDIO_PURPOSE_SCHEME = "urn:tva:metadata:cs:AudioPurposeCS:2007"
#: A caption track's declared bandwidth: required by the schema, negligible next to the video.
TEXT_BANDWIDTH = 256

_SEGMENT = re.compile(r"^seg_(\d{5})\.m4s$")
_NUMBER = re.compile(r"\$Number(%0(\d+)d)?\$")
_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


@dataclass(frozen=True)
class TimelineEntry:
    """An ``<S t d r>``: ``repeat`` more segments of ``duration`` follow the first one at ``start``."""

    start: int
    duration: int
    repeat: int = 0


@dataclass(frozen=True)
class Representation:
    id: str
    codecs: str
    bandwidth: int
    timescale: int
    #: Paths relative to the MPD; ``media`` is a template with ``$Number%05d$``.
    initialization: str
    media: str
    start_number: int
    timeline: tuple[TimelineEntry, ...]
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0

    @property
    def end_s(self) -> float:
        last = self.timeline[-1]
        return (last.start + last.duration * (last.repeat + 1)) / self.timescale

    def to_dict(self) -> dict[str, Any]:
        """A stored form (a chunked video's lead keeps its audio's for the assembler)."""
        return {**asdict(self), "timeline": [[e.start, e.duration, e.repeat] for e in self.timeline]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Representation:
        return cls(**{**data, "timeline": tuple(TimelineEntry(*entry) for entry in data["timeline"])})


@dataclass(frozen=True)
class AudioTrackSet:
    """One source audio track: its own AdaptationSet, so players list it as a track to switch to."""

    rendition: AudioRendition
    representation: Representation


@dataclass(frozen=True)
class Presentation:
    video: tuple[Representation, ...]
    audio: tuple[AudioTrackSet, ...]
    frame_rate: Fraction
    subtitles: tuple[SubtitleRendition, ...] = ()

    @property
    def duration_s(self) -> float:
        return max(rep.end_s for rep in self.representations)

    @property
    def max_segment_s(self) -> float:
        return max(entry.duration / rep.timescale for rep in self.representations for entry in rep.timeline)

    @property
    def representations(self) -> tuple[Representation, ...]:
        return self.video + tuple(track.representation for track in self.audio)


# ------------------------------------------------------------------ pure: timeline and text


def timeline(fragments: Iterable[tuple[int, int]]) -> tuple[TimelineEntry, ...]:
    """Run-length ``<S>`` entries for (decode time, duration) fragments in order.

    A fragment that starts where the one before ended and lasts as long repeats it; any
    other starts a new entry with its own start time, so a gap is described, never hidden.
    """
    entries: list[TimelineEntry] = []
    for start, duration in fragments:
        if entries:
            last = entries[-1]
            end = last.start + last.duration * (last.repeat + 1)
            if start == end and duration == last.duration:
                entries[-1] = TimelineEntry(last.start, last.duration, last.repeat + 1)
                continue
        entries.append(TimelineEntry(start, duration))
    if not entries:
        raise VerifyFailed("a rendition has no segments to describe")
    return tuple(entries)


def segment_template(uris: Sequence[str]) -> tuple[str, int]:
    """(``seg_$Number%05d$.m4s``, first number) for consecutively numbered fragments."""
    numbers = []
    for uri in uris:
        match = _SEGMENT.match(uri)
        if match is None:
            raise VerifyFailed(f"segment {uri!r} is not named seg_NNNNN.m4s: the MPD cannot template it")
        numbers.append(int(match[1]))
    if not numbers or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise VerifyFailed("the segments are not numbered consecutively: the MPD cannot template them")
    return "seg_$Number%05d$.m4s", numbers[0]


def iso_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def parse_iso_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None or not any(match.groups()):
        raise VerifyFailed(f"{MPD}: {text!r} is not an ISO 8601 duration")
    days, hours, minutes, seconds = (float(group) if group else 0.0 for group in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def mpd_text(presentation: Presentation) -> str:
    """The MPD document for ``presentation``; names and languages are escaped by ElementTree."""
    root = ET.Element("MPD", {
        "xmlns": NAMESPACE,
        "profiles": PROFILE,
        "type": "static",
        "mediaPresentationDuration": iso_duration(presentation.duration_s),
        "maxSegmentDuration": iso_duration(presentation.max_segment_s),
        # The bandwidths are peaks over about one segment (as HLS's BANDWIDTH), so a buffer
        # of two segments is always enough at that rate.
        "minBufferTime": iso_duration(2 * presentation.max_segment_s),
    })
    period = ET.SubElement(root, "Period", {"id": "0", "start": "PT0S"})
    video = ET.SubElement(period, "AdaptationSet", {
        "id": "0", "contentType": "video", "mimeType": "video/mp4", "segmentAlignment": "true",
        "startWithSAP": "1", "frameRate": _rate(presentation.frame_rate),
        "maxWidth": str(max(rep.width for rep in presentation.video)),
        "maxHeight": str(max(rep.height for rep in presentation.video)),
    })
    for rep in sorted(presentation.video, key=lambda rep: rep.bandwidth, reverse=True):
        element = ET.SubElement(video, "Representation", {
            "id": rep.id, "codecs": rep.codecs, "bandwidth": str(rep.bandwidth),
            "width": str(rep.width), "height": str(rep.height), "sar": "1:1",
        })
        _segment_template(element, rep)
    for index, track in enumerate(presentation.audio, start=len(presentation.subtitles) + 2):
        rep, rendition = track.representation, track.rendition
        attributes = {"id": "1" if rendition.default else str(index), "contentType": "audio",
                      "mimeType": "audio/mp4", "segmentAlignment": "true", "startWithSAP": "1"}
        if rendition.language:
            attributes["lang"] = rendition.language
        audio = ET.SubElement(period, "AdaptationSet", attributes)
        # The schema's order: Label, then Accessibility, then Role.
        ET.SubElement(audio, "Label").text = rendition.label
        if rendition.track.describes_video:
            # DVB's and DASH-IF's signal of an audio description for the visually impaired.
            ET.SubElement(audio, "Accessibility", {"schemeIdUri": _AUDIO_PURPOSE_SCHEME, "value": "1"})
        ET.SubElement(audio, "Role", {"schemeIdUri": _ROLE_SCHEME,
                                      "value": "main" if rendition.default
                                      else "description" if rendition.track.describes_video else "alternate"})
        element = ET.SubElement(audio, "Representation", {
            "id": rep.id, "codecs": rep.codecs, "bandwidth": str(rep.bandwidth),
            "audioSamplingRate": str(rep.sample_rate),
        })
        ET.SubElement(element, "AudioChannelConfiguration", {"schemeIdUri": _CHANNELS_SCHEME,
                                                             "value": str(rep.channels)})
        _segment_template(element, rep)
    for index, subtitle in enumerate(presentation.subtitles, start=2):
        text = ET.SubElement(period, "AdaptationSet", {
            "id": str(index), "contentType": "text", "mimeType": "text/vtt", "lang": subtitle.language,
        })
        # Label before Role: the schema's sequence puts the elements every Representation may
        # have (RepresentationBaseType: … Label …) before the AdaptationSet's own (Role …).
        ET.SubElement(text, "Label").text = subtitle.name
        ET.SubElement(text, "Role", {"schemeIdUri": _ROLE_SCHEME, "value": "subtitle"})
        if subtitle.default:
            ET.SubElement(text, "Role", {"schemeIdUri": _ROLE_SCHEME, "value": "main"})
        element = ET.SubElement(text, "Representation", {"id": f"subs-{subtitle.language}",
                                                         "bandwidth": str(TEXT_BANDWIDTH)})
        ET.SubElement(element, "BaseURL").text = subtitle.vtt
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _segment_template(parent: ET.Element, rep: Representation) -> None:
    template = ET.SubElement(parent, "SegmentTemplate", {
        "timescale": str(rep.timescale), "initialization": rep.initialization, "media": rep.media,
        "startNumber": str(rep.start_number),
    })
    entries = ET.SubElement(template, "SegmentTimeline")
    for entry in rep.timeline:
        attributes = {"t": str(entry.start), "d": str(entry.duration)}
        if entry.repeat:
            attributes["r"] = str(entry.repeat)
        ET.SubElement(entries, "S", attributes)


def _rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


# ------------------------------------------------------------------ reading the ladder (IO)


def write_mpd(out_dir: Path, info: SourceInfo, rungs: Sequence[Rung],
              subtitles: Sequence[SubtitleRendition] = ()) -> Path:
    """Describe the fMP4 ladder in ``out_dir`` (and its captions) in ``out_dir/manifest.mpd``."""
    out_dir = Path(out_dir)
    video = tuple(representation(out_dir, rung.name, measure_video(out_dir / rung.name)) for rung in rungs)
    audio = tuple(AudioTrackSet(rendition, representation(out_dir, rendition.name, measure_audio(out_dir / rendition.name)))
                  for rendition in info.audio_renditions)
    presentation = Presentation(video, audio, output_fps(info.fps), tuple(subtitles))
    path = out_dir / MPD
    path.write_text(mpd_text(presentation), encoding="utf-8")
    return path


def representation(out_dir: Path, name: str, measured: Rendition) -> Representation:
    """The Representation of the rendition in ``out_dir/name``, from its fragments' own timing."""
    directory = out_dir / name
    playlist = load_media_playlist(directory)
    if playlist.map_uri is None:
        raise VerifyFailed(f"{name}/{MEDIA_PLAYLIST} has no init segment: DASH needs fragmented MP4 segments")
    init = (directory / playlist.map_uri).read_bytes()
    default = mp4.trex_default_duration(init)
    fragments = []
    for segment in playlist.segments:
        fragment = mp4.fragment_timing(mp4.read_fragment_head(directory / segment.uri), default)
        fragments.append((fragment.decode_time, fragment.duration))
    media, start_number = segment_template([segment.uri for segment in playlist.segments])
    return Representation(
        id=name, codecs=measured.codec, bandwidth=measured.peak_bps, timescale=mp4.track_timescale(init),
        initialization=f"{name}/{playlist.map_uri}", media=f"{name}/{media}", start_number=start_number,
        timeline=timeline(fragments), width=measured.width, height=measured.height,
        sample_rate=measured.sample_rate, channels=measured.channels,
    )


# ------------------------------------------------------------------ verification


@dataclass(frozen=True)
class ParsedMpd:
    duration_s: float
    #: contentType → the Representation elements of its AdaptationSet(s), in order.
    representations: dict[str, list[ET.Element]]
    #: Every file the MPD names, templates expanded, relative to it.
    files: tuple[str, ...]


def parse_mpd(text: str) -> ParsedMpd:
    """Read back what ``mpd_text`` writes; VerifyFailed for anything else or malformed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise VerifyFailed(f"{MPD} is not well-formed XML: {exc}") from None
    ns = {"d": NAMESPACE}
    if root.tag != f"{{{NAMESPACE}}}MPD":
        raise VerifyFailed(f"{MPD} is not an MPEG-DASH MPD (root {root.tag!r})")
    if root.get("type", "static") != "static":
        raise VerifyFailed(f"{MPD} is {root.get('type')!r}, expected a static (on-demand) presentation")
    duration = parse_iso_duration(root.get("mediaPresentationDuration", ""))
    periods = root.findall("d:Period", ns)
    if len(periods) != 1:
        raise VerifyFailed(f"{MPD} has {len(periods)} periods, expected 1")
    representations: dict[str, list[ET.Element]] = {}
    files: list[str] = []
    for adaptation in periods[0].findall("d:AdaptationSet", ns):
        kind = adaptation.get("contentType", "")
        for rep in adaptation.findall("d:Representation", ns):
            representations.setdefault(kind, []).append(rep)
            if not rep.get("id") or not rep.get("bandwidth", "").isdigit():
                raise VerifyFailed(f"{MPD}: a {kind} Representation lacks an id or a bandwidth")
            files += _named_files(rep, ns)
    return ParsedMpd(duration, representations, tuple(files))


def _named_files(rep: ET.Element, ns: dict[str, str]) -> list[str]:
    template = rep.find("d:SegmentTemplate", ns)
    base = rep.find("d:BaseURL", ns)
    if template is None and base is None:
        raise VerifyFailed(f"{MPD}: Representation {rep.get('id')!r} names no media")
    if template is None:
        return [(base.text or "").strip()]
    rep_id = rep.get("id", "")
    initialization = template.get("initialization", "").replace("$RepresentationID$", rep_id)
    media = template.get("media", "").replace("$RepresentationID$", rep_id)
    entries = template.findall("d:SegmentTimeline/d:S", ns)
    if not initialization or not media or not entries:
        raise VerifyFailed(f"{MPD}: Representation {rep_id!r} has an incomplete SegmentTemplate")
    try:
        count = sum(1 + int(entry.get("r", "0")) for entry in entries)
        first = int(template.get("startNumber", "1"))
    except ValueError:
        raise VerifyFailed(f"{MPD}: Representation {rep_id!r} has a malformed SegmentTimeline") from None
    if any(int(entry.get("r", "0")) < 0 for entry in entries):
        raise VerifyFailed(f"{MPD}: Representation {rep_id!r} repeats a segment a negative number of times")
    return [initialization] + [_NUMBER.sub(lambda m, n=n: _number(m, n), media) for n in range(first, first + count)]


def _number(match: re.Match[str], number: int) -> str:
    width = match[2]
    return f"{number:0{int(width)}d}" if width else str(number)


def verify_mpd(out_dir: Path, info: SourceInfo, rungs: Sequence[Rung], *, tolerance_s: float,
               subtitles: Sequence[SubtitleRendition] = ()) -> ParsedMpd:
    """``manifest.mpd`` parses, describes this ladder, lasts as long as the video, and every
    file it names exists under ``out_dir`` and is not empty."""
    out_dir = Path(out_dir)
    parsed = parse_mpd(read_manifest(out_dir / MPD, MPD))
    videos = parsed.representations.get("video", [])
    expected = {rung.name: rung_size(info.width, info.height, rung.height) for rung in rungs}
    found = {rep.get("id"): (rep.get("width"), rep.get("height")) for rep in videos}
    if sorted(found) != sorted(expected) or len(videos) != len(expected):
        raise VerifyFailed(f"{MPD} has video Representations {sorted(map(str, found))}, expected {sorted(expected)}")
    for name, (width, height) in expected.items():
        if found[name] != (str(width), str(height)):
            raise VerifyFailed(f"{MPD}: {name} is {found[name][0]}x{found[name][1]}, expected {width}x{height}")
    audio = sorted(str(rep.get("id")) for rep in parsed.representations.get("audio", []))
    expected_audio = sorted(rendition.name for rendition in info.audio_renditions)
    if audio != expected_audio:
        raise VerifyFailed(f"{MPD} has audio Representations {audio}, expected one per source track: {expected_audio}")
    text_files = sorted(_named_files(rep, {"d": NAMESPACE})[0] for rep in parsed.representations.get("text", []))
    if text_files != sorted(subtitle.vtt for subtitle in subtitles):
        raise VerifyFailed(f"{MPD} has text tracks {text_files}, expected {sorted(s.vtt for s in subtitles)}")
    if abs(parsed.duration_s - info.duration_s) > tolerance_s:
        raise VerifyFailed(f"{MPD} lasts {parsed.duration_s:.2f} s but the video lasts {info.duration_s:.2f} s "
                           f"(tolerance {tolerance_s:.2f} s)")
    for name in parsed.files:
        check_named_file(out_dir, name, MPD)
    return parsed
