"""Every audio track of a lecture becomes its own rendition, AAC-LC at 48 kHz (44.1 kept), at the
loudness target, in HLS, DASH and the download. Real ffmpeg on a generated three-track lecture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from videoctl.domain.decision import EncodeDecision
from videoctl.domain.ladder import choose_rungs, parse_ladder
from videoctl.media import dash, loudness
from videoctl.media.m3u8 import parse_master_playlist
from videoctl.media.probe import probe
from videoctl.services.encode import OutputPlan, check_loudness, decide, make_outputs
from videoctl.settings import Settings

pytestmark = pytest.mark.slow

LADDER = parse_ladder("180:400,144:200")
KEY = "videos/7/source/lecture.mkv"


def _encode(clip: Callable[[str], Path], ffmpeg_bin: str, out_dir: Path, **env: str):
    source = clip("lecture_tracks")
    info = probe(source)
    decision = decide(ffmpeg_bin, source, KEY, info, Settings.from_env(env), None)
    rungs = choose_rungs(LADDER, info.short_side)
    make_outputs(ffmpeg_bin, source, out_dir, info, rungs, OutputPlan(segment_s=1, download_height=180),
                 gains=decision.gains())
    return info, decision, check_loudness(ffmpeg_bin, out_dir, info, decision)


@pytest.fixture(scope="module")
def normalized(clip, ffmpeg_bin, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("normalized") / "hls"
    return (out_dir, *_encode(clip, ffmpeg_bin, out_dir))


def test_every_track_is_a_rendition_with_its_language_the_source_default_first(normalized) -> None:
    out_dir, info, _, _ = normalized
    master = parse_master_playlist((out_dir / "master.m3u8").read_text())
    audio = [media for media in master.media if media.get("TYPE") == "AUDIO"]
    assert [(m["URI"], m["NAME"], m.get("LANGUAGE"), m["DEFAULT"]) for m in audio] == [
        ("audio/index.m3u8", "한국어 통역", "ko", "YES"),
        ("audio_1/index.m3u8", "English", "en", "NO"),
        ("audio_2/index.m3u8", "English (audio description)", "en", "NO"),
    ]
    assert audio[2]["CHARACTERISTICS"] == "public.accessibility.describes-video"
    assert "CHARACTERISTICS" not in audio[0] and "CHARACTERISTICS" not in audio[1]
    assert all(variant.attributes["AUDIO"] == "audio" for variant in master.variants)
    mpd = dash.parse_mpd((out_dir / "manifest.mpd").read_text())
    assert sorted(rep.get("id") for rep in mpd.representations["audio"]) == ["audio", "audio_1", "audio_2"]


@pytest.mark.parametrize(("name", "rate", "channels"), [("audio", 44_100, 2), ("audio_1", 48_000, 1),
                                                        ("audio_2", 48_000, 1)])
def test_each_rendition_is_aac_lc_at_48_khz_or_44_1_kept(normalized, name, rate, channels) -> None:
    out_dir = normalized[0]
    directory = out_dir / name
    init = next(directory.glob("init_*.mp4"))
    first = sorted(directory.glob("seg_*.m4s"))[0]
    joined = directory.parent / f"{name}-first.mp4"
    joined.write_bytes(init.read_bytes() + first.read_bytes())
    with av.open(str(joined)) as container:
        context = container.streams.audio[0].codec_context
        assert (context.name, context.profile, context.sample_rate, context.channels) == ("aac", "LC", rate, channels)


def test_the_download_carries_the_default_track(normalized) -> None:
    with av.open(str(normalized[0] / "download.mp4")) as container:
        assert len(container.streams.audio) == 1
        context = container.streams.audio[0].codec_context
        assert (context.sample_rate, context.channels) == (44_100, 2)  # the Korean default, not the 96 kHz English


def test_every_track_reaches_the_target_within_1_lu_the_limiter_only_where_peaks_demand(normalized) -> None:
    _, _, decision, out = normalized
    tracks = {track.rendition: track for track in decision.loudness}
    # The quiet English (-32 LUFS) and the Korean (-21 LUFS) are gained linearly to -16 LUFS.
    for name in ("audio", "audio_1"):
        assert tracks[name].gain.limiter_dbfs is None
        assert out[name].integrated_lufs == pytest.approx(-16.0, abs=1.0)
        assert out[name].true_peak_dbtp <= -1.5
    assert tracks["audio_1"].gain.gain_db > 14  # it was far too quiet
    # The description's clicks would pass 0 dBTP: a limiter, and the gain held to 6 dB of limiting.
    limited = tracks["audio_2"]
    assert limited.gain.limiter_dbfs is not None and limited.gain.expected_lufs is not None
    assert out["audio_2"].integrated_lufs == pytest.approx(limited.gain.expected_lufs, abs=1.0)
    assert out["audio_2"].true_peak_dbtp <= -1.0
    assert out["audio_2"].integrated_lufs > limited.measured.integrated_lufs + 3  # louder than it came


def test_measure_mode_records_the_loudness_and_changes_nothing(clip, ffmpeg_bin, tmp_path, normalized) -> None:
    out_dir = tmp_path / "hls"
    _, decision, out = _encode(clip, ffmpeg_bin, out_dir, VIDEOCTL_LOUDNESS="measure")
    assert all(track.gain.gain_db == 0 and track.gain.limiter_dbfs is None for track in decision.loudness)
    for track in decision.loudness:
        assert out[track.rendition].integrated_lufs == pytest.approx(track.measured.integrated_lufs, abs=1.0)
    # The same measurement as the normalising encode made: it is the source's.
    assert [t.measured for t in decision.loudness] == [t.measured for t in normalized[2].loudness]


def test_off_measures_nothing(clip, ffmpeg_bin, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("loudness off must not measure")

    monkeypatch.setattr(loudness, "measure_tracks", refuse)
    source = clip("lecture_tracks")
    decision = decide(ffmpeg_bin, source, KEY, probe(source), Settings.from_env({"VIDEOCTL_LOUDNESS": "off"}), None)
    assert decision.loudness is None and decision.gains() == {}


def test_a_stored_decision_for_the_same_source_is_reused_without_measuring(clip, ffmpeg_bin, monkeypatch,
                                                                           normalized) -> None:
    stored = EncodeDecision.from_dict(normalized[2].to_dict())

    def refuse(*args, **kwargs):
        raise AssertionError("a stored decision must not be measured again")

    monkeypatch.setattr(loudness, "measure_tracks", refuse)
    source = clip("lecture_tracks")
    again = decide(ffmpeg_bin, source, KEY, probe(source), Settings.from_env({}), stored)
    assert again == stored
