"""What a job decides about its source before encoding, kept so that it is decided once. Pure.

Measuring costs time (loudness is an audio pass over the whole source; the per-title probe
encodes samples), and its result depends on the source alone. So the decision is stored on
the job the moment it is made: a later attempt of the same job, a re-encode of the same
source, and every chunk of a long video reuse it instead of measuring again. A decision is
reused only for the same source object (key and size): a replaced source is measured anew.

What follows from a measurement under the current settings (a track's gain for the loudness
target) is derived again on reuse, so changing the target needs no new measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from videoctl.domain.audio import GainDecision, Loudness, LoudnessSettings, gain_for

#: Bumped when the stored form changes in a way older code cannot read.
DECISION_VERSION = 1


@dataclass(frozen=True)
class TrackLoudness:
    """One audio rendition's measured input loudness and what the encode does about it."""

    rendition: str
    stream_index: int
    measured: Loudness
    gain: GainDecision

    def to_dict(self) -> dict[str, Any]:
        return {"rendition": self.rendition, "stream_index": self.stream_index, "input": self.measured.to_dict(),
                "gain_db": self.gain.gain_db, "limiter_dbfs": self.gain.limiter_dbfs, "reason": self.gain.reason,
                "expected_lufs": self.gain.expected_lufs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackLoudness:
        return cls(data["rendition"], int(data["stream_index"]), Loudness.from_dict(data["input"]),
                   GainDecision(float(data["gain_db"]), data.get("limiter_dbfs"), data.get("reason", ""),
                                data.get("expected_lufs")))


@dataclass(frozen=True)
class EncodeDecision:
    #: The source it was made for: ``{key}#{size}[#{etag}]`` (``source_identity``).
    source: str
    #: None when loudness was off; else one entry per audio rendition.
    loudness: tuple[TrackLoudness, ...] | None = None
    #: Later sections (the per-title ladder) keep their own stored form here.
    extra: dict[str, Any] = field(default_factory=dict)

    def gains(self) -> dict[str, GainDecision]:
        return {track.rendition: track.gain for track in self.loudness or ()}

    def with_loudness_settings(self, settings: LoudnessSettings) -> EncodeDecision:
        """The same measurements, with each gain derived again under ``settings``."""
        if self.loudness is None:
            return self
        tracks = tuple(TrackLoudness(t.rendition, t.stream_index, t.measured, _same_or(t.gain, gain_for(t.measured, settings)))
                       for t in self.loudness)
        return EncodeDecision(self.source, tracks, self.extra)

    def with_expected(self, expected: dict[str, float]) -> EncodeDecision:
        """The same, with the loudness measured after gain and limiter for the tracks named."""
        tracks = tuple(t if t.rendition not in expected else TrackLoudness(
            t.rendition, t.stream_index, t.measured, replace(t.gain, expected_lufs=expected[t.rendition]))
            for t in self.loudness or ())
        return EncodeDecision(self.source, tracks, self.extra)

    def unmeasured_limiters(self) -> list[TrackLoudness]:
        """Tracks whose limiter's effect on their loudness is still to be measured."""
        return [t for t in self.loudness or () if t.gain.limiter_dbfs is not None and t.gain.expected_lufs is None]

    def to_dict(self) -> dict[str, Any]:
        return {"version": DECISION_VERSION, "source": self.source,
                "loudness": None if self.loudness is None else [track.to_dict() for track in self.loudness],
                **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EncodeDecision | None:
        """The stored decision, or None when there is none or it is of a form this code cannot read."""
        if not data or data.get("version") != DECISION_VERSION:
            return None
        loudness = data.get("loudness")
        extra = {key: value for key, value in data.items() if key not in ("version", "source", "loudness")}
        return cls(data["source"], None if loudness is None else tuple(TrackLoudness.from_dict(t) for t in loudness),
                   extra)


def _same_or(stored: GainDecision, derived: GainDecision) -> GainDecision:
    """The stored decision when it is the one derived now (its measured expectation still holds)."""
    same = (stored.gain_db, stored.limiter_dbfs) == (derived.gain_db, derived.limiter_dbfs)
    return stored if same else derived


def source_identity(source_key: str, size_bytes: int, etag: str | None = None) -> str:
    """The source object a decision is about: its key, size and (when recorded) ETag, so a
    source replaced under the same key and size is measured anew."""
    return f"{source_key}#{size_bytes}" + (f"#{etag}" if etag else "")


def reusable(decision: EncodeDecision | None, source: str) -> EncodeDecision | None:
    """``decision`` if it was made for this very source, else None."""
    return decision if decision is not None and decision.source == source else None
