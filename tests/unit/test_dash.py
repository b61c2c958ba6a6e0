"""The MPD writer and reader of media/dash.py on hand-made presentations (pure: no ffmpeg, no files)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpd_schema import assert_valid_mpd, schema_errors
from videoctl.domain.audio import AudioTrack, renditions
from videoctl.domain.captions import check_language, language_name
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.dash import (
    NAMESPACE,
    AudioTrackSet,
    Presentation,
    Representation,
    TimelineEntry,
    iso_duration,
    mpd_text,
    parse_iso_duration,
    parse_mpd,
    segment_template,
    timeline,
)

NS = {"d": NAMESPACE}


def video(name: str, width: int, height: int, bandwidth: int) -> Representation:
    return Representation(id=name, codecs="avc1.64001f", bandwidth=bandwidth, timescale=15360,
                          initialization=f"{name}/init_{name}.mp4", media=f"{name}/seg_$Number%05d$.m4s",
                          start_number=0, timeline=(TimelineEntry(0, 61440, 1), TimelineEntry(122880, 30720)),
                          width=width, height=height)


AUDIO = Representation(id="audio", codecs="mp4a.40.2", bandwidth=130_000, timescale=48000,
                       initialization="audio/init_audio.mp4", media="audio/seg_$Number%05d$.m4s", start_number=0,
                       timeline=(TimelineEntry(0, 192512), TimelineEntry(192512, 191488), TimelineEntry(384000, 96000)),
                       sample_rate=48000, channels=2)
KOREAN = SubtitleRendition(language="ko", name="한국어", default=True, playlist="subs/ko.m3u8", vtt="subs/ko.vtt")
ENGLISH = SubtitleRendition(language="en", name="English & <more>", default=False, playlist="subs/en.m3u8",
                            vtt="subs/en.vtt")
MAIN_AUDIO = AudioTrackSet(renditions([AudioTrack(1, channels=2, sample_rate=48000, default=True)])[0], AUDIO)
PRESENTATION = Presentation(video=(video("480p", 854, 480, 1_600_000), video("720p", 1280, 720, 3_100_000)),
                            audio=(MAIN_AUDIO,), frame_rate=Fraction(30000, 1001), subtitles=(KOREAN, ENGLISH))


def test_timeline_runs_length_encodes_and_keeps_gaps() -> None:
    assert timeline([(0, 100), (100, 100), (200, 100), (300, 40)]) == (TimelineEntry(0, 100, 2), TimelineEntry(300, 40))
    # A fragment that does not start where the previous ended gets its own start time.
    assert timeline([(0, 100), (150, 100), (250, 100)]) == (TimelineEntry(0, 100), TimelineEntry(150, 100, 1))
    with pytest.raises(VerifyFailed, match="no segments"):
        timeline([])


def test_segment_template_needs_consecutive_numbered_fragments() -> None:
    assert segment_template(["seg_00003.m4s", "seg_00004.m4s"]) == ("seg_$Number%05d$.m4s", 3)
    with pytest.raises(VerifyFailed, match="not numbered consecutively"):
        segment_template(["seg_00000.m4s", "seg_00002.m4s"])
    with pytest.raises(VerifyFailed, match="is not named seg_NNNNN.m4s"):
        segment_template(["seg_00000.ts"])


@pytest.mark.parametrize(("seconds", "text"), [(8.021333, "PT8.021S"), (3600.5, "PT3600.500S"), (0, "PT0.000S")])
def test_iso_durations_round_trip(seconds: float, text: str) -> None:
    assert iso_duration(seconds) == text
    assert parse_iso_duration(text) == pytest.approx(seconds, abs=0.0005)


def test_iso_durations_with_hours_and_minutes_are_read() -> None:
    assert parse_iso_duration("PT1H2M3.5S") == 3723.5
    assert parse_iso_duration("P1DT1S") == 86401
    for bad in ("8.0", "PT", "P", "PTS", "T8S"):
        with pytest.raises(VerifyFailed, match="not an ISO 8601 duration"):
            parse_iso_duration(bad)


def test_the_mpd_is_static_and_describes_every_representation() -> None:
    root = ET.fromstring(mpd_text(PRESENTATION))
    assert root.tag == f"{{{NAMESPACE}}}MPD"
    assert root.get("type") == "static"
    assert root.get("mediaPresentationDuration") == "PT10.000S"  # the audio's 480000 / 48000
    assert root.get("maxSegmentDuration") == "PT4.011S"
    sets = root.findall("d:Period/d:AdaptationSet", NS)
    assert [s.get("contentType") for s in sets] == ["video", "audio", "text", "text"]
    video_set = sets[0]
    assert video_set.get("frameRate") == "30000/1001" and video_set.get("maxHeight") == "720"
    reps = video_set.findall("d:Representation", NS)
    assert [(r.get("id"), r.get("width"), r.get("height"), r.get("bandwidth")) for r in reps] == [
        ("720p", "1280", "720", "3100000"), ("480p", "854", "480", "1600000")]
    template = reps[0].find("d:SegmentTemplate", NS)
    assert template.attrib == {"timescale": "15360", "initialization": "720p/init_720p.mp4",
                               "media": "720p/seg_$Number%05d$.m4s", "startNumber": "0"}
    assert [s.attrib for s in template.findall("d:SegmentTimeline/d:S", NS)] == [
        {"t": "0", "d": "61440", "r": "1"}, {"t": "122880", "d": "30720"}]
    audio = sets[1].find("d:Representation", NS)
    assert audio.get("audioSamplingRate") == "48000"
    assert audio.find("d:AudioChannelConfiguration", NS).get("value") == "2"


def test_each_caption_language_is_a_text_adaptation_set_over_its_whole_vtt() -> None:
    sets = ET.fromstring(mpd_text(PRESENTATION)).findall("d:Period/d:AdaptationSet", NS)
    korean, english = sets[2], sets[3]
    assert (korean.get("contentType"), korean.get("mimeType"), korean.get("lang")) == ("text", "text/vtt", "ko")
    assert [role.get("value") for role in korean.findall("d:Role", NS)] == ["subtitle", "main"]  # the default one
    # In the schema's order: the Label (of every Representation's kind) before the set's Roles.
    assert [child.tag.removeprefix(f"{{{NAMESPACE}}}") for child in korean] == ["Label", "Role", "Role",
                                                                                   "Representation"]
    assert [role.get("value") for role in english.findall("d:Role", NS)] == ["subtitle"]
    assert korean.find("d:Label", NS).text == "한국어"
    assert english.find("d:Label", NS).text == "English & <more>"  # escaped in the XML, intact when read
    [representation] = korean.findall("d:Representation", NS)
    assert representation.find("d:BaseURL", NS).text == "subs/ko.vtt"
    assert int(representation.get("bandwidth")) > 0


def test_the_mpd_with_captions_is_valid_against_mpegs_schema() -> None:
    assert schema_errors(mpd_text(PRESENTATION)) == []
    assert_valid_mpd(mpd_text(Presentation(video=PRESENTATION.video, audio=(), frame_rate=Fraction(25),
                                           subtitles=(ENGLISH,))))


def test_the_schema_refuses_a_label_after_a_role() -> None:
    """What the MPD writer did before: dash.js and Shaka Player played it, the schema does not."""
    root = ET.fromstring(mpd_text(PRESENTATION))
    korean = root.findall("d:Period/d:AdaptationSet", NS)[2]
    label = korean.find("d:Label", NS)
    korean.remove(label)
    korean.insert(2, label)  # after its two Roles
    [error] = schema_errors(ET.tostring(root))
    assert "Label': This element is not expected" in error


LANGUAGE_TAGS = st.builds(
    lambda language, script, region: check_language("-".join(filter(None, (language, script, region)))),
    st.from_regex(r"[a-z]{2,3}", fullmatch=True), st.sampled_from(["", "Hant", "Latn"]),
    st.sampled_from(["", "BR", "TW", "419"]))


@st.composite
def presentations(draw: st.DrawFn) -> Presentation:
    """Any ladder the writer may be given: rungs, frame rates, gaps in timelines, audio or not,
    captions in any language tag (their names from the same table the packager uses)."""
    def rendition(name: str, **size: int) -> Representation:
        durations = draw(st.lists(st.integers(1, 10**7), min_size=1, max_size=6))
        gaps = draw(st.lists(st.integers(0, 3), min_size=len(durations), max_size=len(durations)))
        fragments, start = [], draw(st.integers(0, 10**6))
        for duration, gap in zip(durations, gaps, strict=True):
            fragments.append((start, duration))
            start += duration + gap
        return Representation(id=name, codecs=draw(st.sampled_from(["avc1.64001f", "hvc1.1.6.L93.B0", "mp4a.40.2"])),
                              bandwidth=draw(st.integers(1, 2**32 - 1)), timescale=draw(st.integers(1, 10**6)),
                              initialization=f"{name}/init_{name}.mp4", media=f"{name}/seg_$Number%05d$.m4s",
                              start_number=draw(st.integers(0, 10**5)), timeline=timeline(fragments), **size)

    heights = draw(st.lists(st.integers(2, 4320), min_size=1, max_size=5, unique=True))
    video = tuple(rendition(f"{height}p", width=height * 16 // 9, height=height) for height in heights)
    # 0 to 3 source tracks, any languages, any of them the default or an audio description.
    tracks = [AudioTrack(index, channels=draw(st.integers(1, 8)), sample_rate=draw(st.sampled_from([22050, 44100, 96000])),
                         language=draw(st.none() | LANGUAGE_TAGS), title=draw(st.none() | st.text(max_size=12) | st.just("\x1b\x00 <&>")),
                         default=draw(st.booleans()), describes_video=draw(st.booleans()))
              for index in range(draw(st.integers(0, 3)))]
    audio = tuple(AudioTrackSet(r, rendition(r.name, sample_rate=r.sample_rate, channels=r.channels))
                  for r in renditions(tracks))
    languages = draw(st.lists(LANGUAGE_TAGS, max_size=4, unique=True))
    default = draw(st.sampled_from(languages)) if languages and draw(st.booleans()) else None
    subtitles = tuple(SubtitleRendition(language=tag, name=language_name(tag), default=tag == default,
                                        playlist=f"subs/{tag}.m3u8", vtt=f"subs/{tag}.vtt") for tag in languages)
    rate = Fraction(draw(st.integers(1, 240_000)), draw(st.sampled_from([1, 1001, 3])))
    return Presentation(video=video, audio=audio, frame_rate=rate, subtitles=subtitles)


@settings(max_examples=60, deadline=None)
@given(presentations())
def test_every_mpd_the_writer_can_produce_is_valid_against_mpegs_schema(presentation: Presentation) -> None:
    assert_valid_mpd(mpd_text(presentation))


def test_parse_mpd_expands_every_file_it_names() -> None:
    parsed = parse_mpd(mpd_text(PRESENTATION))
    assert parsed.duration_s == 10.0
    assert sorted(parsed.representations) == ["audio", "text", "video"]
    assert parsed.files[:4] == ("720p/init_720p.mp4", "720p/seg_00000.m4s", "720p/seg_00001.m4s", "720p/seg_00002.m4s")
    assert "audio/seg_00002.m4s" in parsed.files and "audio/seg_00003.m4s" not in parsed.files
    assert parsed.files[-2:] == ("subs/ko.vtt", "subs/en.vtt")
    assert len(parsed.files) == 2 * 4 + 4 + 2


def test_without_audio_or_captions_there_are_no_such_sets() -> None:
    text = mpd_text(Presentation(video=(video("360p", 640, 360, 900_000),), audio=(), frame_rate=Fraction(25)))
    sets = ET.fromstring(text).findall("d:Period/d:AdaptationSet", NS)
    assert [s.get("contentType") for s in sets] == ["video"]
    assert sets[0].get("frameRate") == "25"
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<MPD", "not well-formed XML"),
        ("<html/>", "not an MPEG-DASH MPD"),
        (f'<MPD xmlns="{NAMESPACE}" type="dynamic" mediaPresentationDuration="PT1S"/>', "expected a static"),
        (f'<MPD xmlns="{NAMESPACE}" type="static"/>', "not an ISO 8601 duration"),
        (f'<MPD xmlns="{NAMESPACE}" mediaPresentationDuration="PT1S"/>', "has 0 periods"),
        (f'<MPD xmlns="{NAMESPACE}" mediaPresentationDuration="PT1S"><Period><AdaptationSet contentType="video">'
         '<Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>', "names no media"),
        (f'<MPD xmlns="{NAMESPACE}" mediaPresentationDuration="PT1S"><Period><AdaptationSet contentType="video">'
         '<Representation id="a"><BaseURL>x</BaseURL></Representation></AdaptationSet></Period></MPD>',
         "lacks an id or a bandwidth"),
        (f'<MPD xmlns="{NAMESPACE}" mediaPresentationDuration="PT1S"><Period><AdaptationSet contentType="video">'
         '<Representation id="a" bandwidth="1"><SegmentTemplate media="s$Number$" initialization="i">'
         '<SegmentTimeline><S t="0" d="x"/><S d="1" r="q"/></SegmentTimeline></SegmentTemplate></Representation>'
         '</AdaptationSet></Period></MPD>', "malformed SegmentTimeline"),
    ],
)
def test_parse_mpd_refuses_what_it_cannot_trust(text: str, message: str) -> None:
    with pytest.raises(VerifyFailed, match=message):
        parse_mpd(text)


def test_each_audio_track_is_its_own_adaptation_set_with_language_role_and_accessibility() -> None:
    english, korean, described = renditions([
        AudioTrack(1, channels=2, sample_rate=48000, language="eng", default=True),
        AudioTrack(2, channels=2, sample_rate=48000, language="kor"),
        AudioTrack(3, channels=2, sample_rate=48000, language="eng", describes_video=True),
    ])
    tracks = tuple(AudioTrackSet(rendition, replace(AUDIO, id=rendition.name,
                                                    initialization=f"{rendition.name}/init_{rendition.name}.mp4",
                                                    media=f"{rendition.name}/seg_$Number%05d$.m4s"))
                   for rendition in (english, korean, described))
    root = ET.fromstring(mpd_text(replace(PRESENTATION, audio=tracks, subtitles=())))
    sets = [s for s in root.findall("d:Period/d:AdaptationSet", NS) if s.get("contentType") == "audio"]
    assert [s.get("lang") for s in sets] == ["en", "ko", "en"]
    assert len({s.get("id") for s in root.findall("d:Period/d:AdaptationSet", NS)}) == 4  # ids unique
    roles = [s.find("d:Role", NS).get("value") for s in sets]
    assert roles == ["main", "alternate", "description"]
    assert [s.find("d:Label", NS).text for s in sets] == ["English", "한국어", "English (audio description)"]
    assert [s.find("d:Accessibility", NS) is not None for s in sets] == [False, False, True]
    assert sets[2].find("d:Accessibility", NS).get("schemeIdUri") == "urn:tva:metadata:cs:AudioPurposeCS:2007"
    # The schema's sequence: Label before Accessibility before Role before Representation.
    assert [child.tag.split("}")[1] for child in sets[2]] == ["Label", "Accessibility", "Role", "Representation"]
    parsed = parse_mpd(ET.tostring(root, encoding="unicode"))
    assert [rep.get("id") for rep in parsed.representations["audio"]] == ["audio", "audio_1", "audio_2"]
