"""Audio policy: which renditions a source's audio tracks become, in what format, at what gain. Pure.

Every audio track of the source becomes its own rendition (its own HLS ``EXT-X-MEDIA`` in the
one audio group, its own DASH AdaptationSet), because a lecture recorded with a translation or
an audio description must keep both. The default track is the one the source flags default
(else the first); it is named ``audio``, as the single track always was, so the MP4 download
(which carries the default track) and older ladders read the same. The others follow in the
source's order as ``audio_1``, ``audio_2`` …

Format, so that every player and Apple's HLS authoring rules accept it:

- AAC-LC, always (never HE-AAC, which some TVs refuse, nor the source's codec).
- 48 kHz; a 44.1 kHz source stays 44.1 kHz (resampling it gains nothing). A 96 kHz source
  is resampled: HLS authoring allows 32, 44.1 and 48 kHz only, and decoders refuse more.
- Mono stays mono; anything with two or more channels becomes stereo (surround downmixed
  is what browsers and phones play anyway).

Loudness (EBU R128): ``off`` measures nothing; ``measure`` records the input loudness and
changes nothing; ``normalize`` applies one linear gain that brings the track's integrated
loudness to the target, and a true-peak limiter only when that gain would push the peaks
above the ceiling. Speech is never compressed: a linear gain keeps a lecturer's dynamics.
Silence and near-silence (below ``NEAR_SILENCE_LUFS``) are left alone, since the gain would
only raise the noise floor; so is the rest of a gain beyond ``MAX_GAIN_DB``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from videoctl.domain.captions import UNDETERMINED, language_from_metadata, language_name
from videoctl.domain.errors import InvalidInput

#: The name of the default track's rendition (directory and HLS NAME fallback).
DEFAULT_AUDIO_NAME = "audio"

#: Sample rates a source may keep; anything else is resampled to ``OUTPUT_SAMPLE_RATE``.
KEPT_SAMPLE_RATES = frozenset({44_100, 48_000})
OUTPUT_SAMPLE_RATE = 48_000

LOUDNESS_MODES = ("off", "measure", "normalize")
DEFAULT_LOUDNESS_TARGET = -16.0
DEFAULT_TRUE_PEAK = -1.5
#: Integrated loudness targets an operator may choose (streaming services use −14 to −24).
LOUDNESS_TARGET_RANGE = (-36.0, -10.0)
#: Below this the track is silence or room noise: no gain at all.
NEAR_SILENCE_LUFS = -50.0
#: A track quieter than the target by more than this gets this much, no more.
MAX_GAIN_DB = 20.0
#: The most the limiter may take off the loudest peak: the gain is held back rather than
#: squash more, since heavy limiting is audible and lowers the loudness it aimed at.
MAX_LIMITING_DB = 6.0
#: The limiter's sample-peak ceiling sits this far under the true-peak ceiling, because the
#: true peak between samples (and the AAC encode) can exceed the sample peak.
LIMITER_MARGIN_DB = 1.0
#: How far the output's integrated loudness may be from what the gain aimed at.
OUTPUT_TOLERANCE_LU = 1.0


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream of the source, as probed."""

    #: The absolute stream index in the source (what ffmpeg maps).
    index: int
    channels: int
    sample_rate: int
    #: ISO 639 code as tagged (``eng``, ``kor``), or None.
    language: str | None = None
    title: str | None = None
    default: bool = False
    #: Flagged as an audio description for blind and low-vision viewers.
    describes_video: bool = False


@dataclass(frozen=True)
class AudioRendition:
    """What one source track becomes in the ladder."""

    name: str
    track: AudioTrack
    default: bool
    channels: int
    sample_rate: int
    #: What a player's menu shows (HLS NAME, DASH Label); unique within the ladder.
    label: str

    @property
    def language(self) -> str | None:
        return language_tag(self.track.language)


#: A menu name longer than this is cut: it comes from the upload's metadata.
MAX_LABEL = 80


def _printable(title: str | None) -> str | None:
    """A title from the source's metadata as a menu may show it: no control characters (XML and
    HLS quoted-strings cannot carry them), at most ``MAX_LABEL`` characters."""
    text = "".join(char for char in title or "" if char.isprintable()).strip()[:MAX_LABEL]
    return text or None


def _label(track: AudioTrack, name: str) -> str:
    """The track's title, else its language, else its name; a description says so."""
    tag = language_tag(track.language)
    base = _printable(track.title) or (language_name(tag) if tag else None) or (None if track.describes_video else name)
    if track.describes_video and not _printable(track.title):
        return f"{base} (audio description)" if base else "Audio description"
    return base or name


def output_channels(channels: int) -> int:
    return 1 if channels == 1 else 2


def output_sample_rate(sample_rate: int) -> int:
    return sample_rate if sample_rate in KEPT_SAMPLE_RATES else OUTPUT_SAMPLE_RATE


def renditions(tracks: tuple[AudioTrack, ...] | list[AudioTrack]) -> tuple[AudioRendition, ...]:
    """The audio renditions of a source's tracks, the default one first and named ``audio``."""
    if not tracks:
        return ()
    default = next((track for track in tracks if track.default), tracks[0])
    others = [track for track in tracks if track is not default]
    named = [(DEFAULT_AUDIO_NAME, default)] + [(f"{DEFAULT_AUDIO_NAME}_{n}", t) for n, t in enumerate(others, 1)]
    result, labels = [], set()
    for name, track in named:
        label = _label(track, name)
        if label in labels:  # two English tracks: players need names that differ
            label = f"{label} ({name})"
        labels.add(label)
        result.append(AudioRendition(name, track, track is default, output_channels(track.channels),
                                     output_sample_rate(track.sample_rate), label))
    return tuple(result)


def language_tag(code: str | None) -> str | None:
    """A canonical BCP 47 tag (HLS LANGUAGE, DASH @lang) from a stream's language tag; None when unknown."""
    tag = language_from_metadata(code)
    return None if tag == UNDETERMINED else tag


# ------------------------------------------------------------------ loudness


@dataclass(frozen=True)
class LoudnessSettings:
    mode: str = "normalize"
    target_lufs: float = DEFAULT_LOUDNESS_TARGET
    true_peak_dbtp: float = DEFAULT_TRUE_PEAK

    def __post_init__(self) -> None:
        if self.mode not in LOUDNESS_MODES:
            raise InvalidInput(f"loudness mode {self.mode!r} is not one of {', '.join(LOUDNESS_MODES)}")


@dataclass(frozen=True)
class Loudness:
    """An EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU).
    ``-inf`` where the track is silent."""

    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float = 0.0

    def to_dict(self) -> dict[str, float | None]:
        return {"integrated_lufs": _finite(self.integrated_lufs), "true_peak_dbtp": _finite(self.true_peak_dbtp),
                "range_lu": _finite(self.range_lu)}

    @classmethod
    def from_dict(cls, data: dict) -> Loudness:
        return cls(*(-math.inf if data.get(key) is None else float(data[key])
                     for key in ("integrated_lufs", "true_peak_dbtp", "range_lu")))


@dataclass(frozen=True)
class GainDecision:
    """What the encode does to one track's level, and why."""

    gain_db: float
    #: The limiter's sample-peak ceiling in dBFS, or None for no limiter.
    limiter_dbfs: float | None
    reason: str
    #: Where a limiter is needed, the loudness measured after gain and limiter (what limiting
    #: takes off depends on the material, so it is measured, not guessed); else None.
    expected_lufs: float | None = None



def gain_for(measured: Loudness, settings: LoudnessSettings) -> GainDecision:
    """The linear gain (and limiter, if the peaks demand one) that takes ``measured`` to the target."""
    if settings.mode != "normalize":
        return GainDecision(0.0, None, f"loudness {settings.mode}: level unchanged")
    if not math.isfinite(measured.integrated_lufs) or measured.integrated_lufs < NEAR_SILENCE_LUFS:
        return GainDecision(0.0, None, f"silence or near-silence (below {NEAR_SILENCE_LUFS:g} LUFS): left alone")
    wanted = settings.target_lufs - measured.integrated_lufs
    gain = min(wanted, MAX_GAIN_DB)
    reason = ""
    if gain < wanted:
        reason = f" (gain capped at +{MAX_GAIN_DB:g} dB)"
    peak_room = settings.true_peak_dbtp + MAX_LIMITING_DB - measured.true_peak_dbtp
    if math.isfinite(peak_room) and gain > peak_room:
        gain, reason = peak_room, f" (gain held back: the peaks allow {MAX_LIMITING_DB:g} dB of limiting at most)"
    gain = round(gain, 2)
    reason = f"{measured.integrated_lufs:.1f} → {measured.integrated_lufs + gain:.1f} LUFS" + reason
    peak_after = measured.true_peak_dbtp + gain
    if math.isfinite(peak_after) and peak_after > settings.true_peak_dbtp:
        return GainDecision(gain, round(settings.true_peak_dbtp - LIMITER_MARGIN_DB, 2),
                            reason + f"; limiter, the peaks would reach {peak_after:.1f} dBTP")
    return GainDecision(gain, None, reason)


def expected_output(measured: Loudness, decision: GainDecision) -> float:
    """The integrated loudness the output should have after ``decision``."""
    if decision.expected_lufs is not None:
        return decision.expected_lufs
    return measured.integrated_lufs + decision.gain_db


def output_problem(measured: Loudness, decision: GainDecision, output: Loudness) -> str | None:
    """Why the output's loudness is not what the decision aimed at (±1 LU), or None when it is.

    A track left alone as near-silence is not checked: its loudness is noise.
    """
    expected = expected_output(measured, decision)
    if not math.isfinite(expected) or expected < NEAR_SILENCE_LUFS:
        return None
    if not math.isfinite(output.integrated_lufs) or abs(output.integrated_lufs - expected) > OUTPUT_TOLERANCE_LU:
        return (f"the output's loudness is {output.integrated_lufs:.1f} LUFS, expected {expected:.1f} "
                f"± {OUTPUT_TOLERANCE_LU:g} LU")
    return None


def _finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None
