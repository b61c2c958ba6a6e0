"""Audio policy: renditions of every track, their format, and the loudness decision. Pure."""

from __future__ import annotations

import math

import pytest

from videoctl.domain.audio import (
    MAX_GAIN_DB,
    AudioTrack,
    GainDecision,
    Loudness,
    LoudnessSettings,
    gain_for,
    language_tag,
    output_problem,
    renditions,
)
from videoctl.domain.decision import EncodeDecision, TrackLoudness, reusable, source_identity
from videoctl.domain.errors import InvalidInput
from videoctl.media.hls import audio_media_line
from videoctl.media.loudness import parse_summaries

NORMALIZE = LoudnessSettings("normalize", -16.0, -1.5)


def test_the_default_track_comes_first_named_audio_and_the_rest_keep_their_order() -> None:
    commentary = AudioTrack(1, channels=1, sample_rate=48_000, language="eng")
    programme = AudioTrack(2, channels=2, sample_rate=48_000, language="kor", default=True)
    described = AudioTrack(3, channels=2, sample_rate=48_000, language="eng", describes_video=True)
    result = renditions([commentary, programme, described])
    assert [(r.name, r.track.index, r.default) for r in result] == [
        ("audio", 2, True), ("audio_1", 1, False), ("audio_2", 3, False)]
    assert [r.label for r in result] == ["한국어", "English", "English (audio description)"]
    assert [r.language for r in result] == ["ko", "en", "en"]
    # Without a default flag the first track is the default.
    assert renditions([commentary, described])[0].track is commentary
    assert renditions([]) == ()


@pytest.mark.parametrize(("rate", "channels", "out_rate", "out_channels"), [
    (96_000, 1, 48_000, 1), (44_100, 2, 44_100, 2), (48_000, 6, 48_000, 2), (22_050, 2, 48_000, 2),
    (32_000, 1, 48_000, 1), (0, 2, 48_000, 2)])
def test_aac_at_48_khz_or_44_1_kept_mono_or_stereo(rate, channels, out_rate, out_channels) -> None:
    rendition = renditions([AudioTrack(1, channels=channels, sample_rate=rate)])[0]
    assert (rendition.sample_rate, rendition.channels) == (out_rate, out_channels)


def test_menu_names_are_unique_and_come_from_title_language_or_name() -> None:
    tracks = [AudioTrack(1, 2, 48_000, "eng", default=True), AudioTrack(2, 2, 48_000, "eng"),
              AudioTrack(3, 2, 48_000, None, title="Director's commentary"), AudioTrack(4, 2, 48_000, "und"),
              AudioTrack(5, 2, 48_000, None, describes_video=True)]
    labels = [r.label for r in renditions(tracks)]
    assert labels == ["English", "English (audio_1)", "Director's commentary", "audio_3", "Audio description"]
    assert len(set(labels)) == len(labels)
    assert [language_tag(code) for code in ("kor", "en-US", "und", "", None, "??")] == ["ko", "en-US", None, None, None, None]


def test_hls_media_line_marks_the_default_and_the_audio_description() -> None:
    main, described = renditions([AudioTrack(1, 2, 48_000, "kor", title='Korean "live"', default=True),
                                  AudioTrack(2, 1, 48_000, "eng", describes_video=True)])
    assert audio_media_line(main, 2) == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Korean \'live\'",LANGUAGE="ko",DEFAULT=YES,AUTOSELECT=YES,'
        'CHANNELS="2",URI="audio/index.m3u8"')
    assert audio_media_line(described, 1) == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English (audio description)",LANGUAGE="en",DEFAULT=NO,'
        'AUTOSELECT=NO,CHARACTERISTICS="public.accessibility.describes-video",CHANNELS="1",URI="audio_1/index.m3u8"')


def test_a_quiet_track_gets_one_linear_gain_to_the_target_and_no_limiter() -> None:
    decision = gain_for(Loudness(-30.0, -24.0), NORMALIZE)
    assert (decision.gain_db, decision.limiter_dbfs) == (14.0, None)
    assert output_problem(Loudness(-30.0, -24.0), decision, Loudness(-16.4, -10.0)) is None
    assert "expected -16.0" in output_problem(Loudness(-30.0, -24.0), decision, Loudness(-17.2, -10.0))
    # A loud track is turned down, never limited.
    assert gain_for(Loudness(-9.0, -0.5), NORMALIZE) == GainDecision(-7.0, None, "-9.0 → -16.0 LUFS")


def test_a_limiter_only_where_the_peaks_demand_one_and_never_more_than_6_db_of_it() -> None:
    decision = gain_for(Loudness(-24.0, -12.0), NORMALIZE)  # peaks after +8 dB: -4 dBTP, under -1.5
    assert decision.limiter_dbfs is None
    decision = gain_for(Loudness(-24.0, -6.0), NORMALIZE)  # peaks after +8 dB: +2 dBTP
    assert (decision.gain_db, decision.limiter_dbfs) == (8.0, -2.5)
    assert "limiter" in decision.reason
    held = gain_for(Loudness(-28.0, -3.0), NORMALIZE)  # +12 dB would need 10.5 dB of limiting
    assert held.gain_db == pytest.approx(-1.5 + 6.0 + 3.0) and held.limiter_dbfs == -2.5
    assert "held back" in held.reason


def test_silence_and_near_silence_are_left_alone_and_the_gain_is_capped() -> None:
    for silent in (Loudness(-math.inf, -math.inf), Loudness(-55.0, -40.0)):
        decision = gain_for(silent, NORMALIZE)
        assert (decision.gain_db, decision.limiter_dbfs) == (0.0, None) and "silence" in decision.reason
        assert output_problem(silent, decision, Loudness(-math.inf, -math.inf)) is None
    assert gain_for(Loudness(-45.0, -40.0), NORMALIZE).gain_db == MAX_GAIN_DB


def test_measure_and_off_change_nothing() -> None:
    for mode in ("measure", "off"):
        assert gain_for(Loudness(-30.0, -20.0), LoudnessSettings(mode)).gain_db == 0.0
    with pytest.raises(InvalidInput, match="loudness mode"):
        LoudnessSettings("loud")


def test_the_limiters_measured_effect_is_what_the_output_is_held_to() -> None:
    measured = Loudness(-28.0, -3.0)
    decision = GainDecision(7.5, -2.5, "limiter", expected_lufs=-22.1)
    assert output_problem(measured, decision, Loudness(-22.4, -1.9)) is None
    assert output_problem(measured, decision, Loudness(-20.5, -1.9)) is not None


def test_ebur128_summaries_are_read_per_instance() -> None:
    stderr = """[ebur128@t1 @ 0x1] t: 5.9  TARGET:-23 LUFS  M: -35.8 S: -35.8  I: -35.8 LUFS
[ebur128@t1 @ 0x1] Summary:
  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS
  Loudness range:
    LRA:         0.0 LU
  True peak:
    Peak:       -inf dBFS
[ebur128@t0 @ 0x2] Summary:
  Integrated loudness:
    I:         -23.4 LUFS
    Threshold: -33.4 LUFS
  Loudness range:
    LRA:         4.5 LU
  True peak:
    Peak:       -1.2 dBFS
"""
    first, second = parse_summaries(stderr, 2)
    assert first == Loudness(-23.4, -1.2, 4.5)
    assert second.integrated_lufs == -math.inf and second.true_peak_dbtp == -math.inf
    with pytest.raises(Exception, match=r"no loudness summary for audio track\(s\) \[2\]"):
        parse_summaries(stderr, 3)


def test_a_decision_round_trips_and_is_reused_only_for_the_same_source() -> None:
    track = TrackLoudness("audio", 1, Loudness(-30.0, -24.0, 3.0), gain_for(Loudness(-30.0, -24.0, 3.0), NORMALIZE))
    decision = EncodeDecision(source_identity("videos/1/source/a.mp4", 1234), (track,), {"ladder": {"crf": [23]}})
    stored = decision.to_dict()
    assert EncodeDecision.from_dict(stored) == decision
    assert EncodeDecision.from_dict({**stored, "version": 99}) is None
    assert EncodeDecision.from_dict(None) is None
    assert reusable(decision, "videos/1/source/a.mp4#1234") is decision
    assert reusable(decision, "videos/1/source/a.mp4#1235") is None
    # A recorded ETag is part of the identity: a source replaced with the same size is another.
    assert source_identity("k", 5, '"abc"') != source_identity("k", 5, '"abd"') != source_identity("k", 5)
    # A new target derives new gains from the same measurement: nothing is measured again.
    louder = decision.with_loudness_settings(LoudnessSettings("normalize", -14.0, -1.5))
    assert louder.loudness[0].measured == track.measured and louder.gains()["audio"].gain_db == 16.0
    silenced = EncodeDecision("x#1", (TrackLoudness("audio", 1, Loudness(-math.inf, -math.inf), track.gain),))
    assert EncodeDecision.from_dict(silenced.to_dict()).loudness[0].measured.integrated_lufs == -math.inf


def test_a_title_from_the_uploads_metadata_is_shown_without_control_characters_and_cut() -> None:
    hostile = AudioTrack(1, 2, 48_000, "eng", title="Lecture\x1b[31m\x00 one\n" + "x" * 200, default=True)
    label = renditions([hostile])[0].label
    assert label.startswith("Lecture[31m one") and len(label) == 80 and label.isprintable()
    assert renditions([AudioTrack(1, 2, 48_000, "kor", title="\x07\x00", default=True)])[0].label == "한국어"
