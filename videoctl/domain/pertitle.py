"""The per-title ladder: which CRF each rung gets for this source, from a few measured test encodes. Pure.

A fixed CRF spends the same quality setting on every video: a lecture (still slides, a small
moving inset) reaches a VMAF far above what anyone sees at CRF 23, while grainy, fast content
falls below it. The per-title probe (services/encode.py, media/complexity.py) encodes a few
short pieces sampled across the video (:func:`probe_ranges`: their number and length do not
grow with the video; each starts on one of the ladder's keyframes) with the top rung's size,
preset, filters and cap, at a few CRFs (:data:`PROBE_CRFS`), and scores them against the source
(only a source at least two minutes long by default, :func:`mode_for`). This module turns those measured
points into the ladder:

- The top rung's CRF (:func:`crf_for_target`) is where the pieces' **mean** VMAF reaches the
  target, on a line drawn between the two measured points around it (outside them, the
  nearest two). The mean, because it is the figure the target is stated in (the issue's
  "scores 90.5 at CRF 23" and `videoctl quality`'s headline are means); the 5th percentile is
  stored beside each point and shown, so a ladder whose worst stretches sag is visible. The
  CRF is the largest whole CRF whose interpolated VMAF still reaches the target (the line is
  falling, so that is the fractional CRF rounded down: rounding up would miss the target on
  the probe's own figures), clamped to :data:`CRF_RANGE`, so an odd probe never asks for a
  wasteful or a ruinous setting.
- Lower rungs (:func:`rung_crfs`) take the top rung's CRF. A lower rung is scored against the
  full-size source, so its VMAF is bounded by what the scaling takes away, not by the CRF; a
  CRF that reaches the target on the top rung leaves each lower rung within a point or two of
  its own ceiling (the benchmark measures both ladders per rung), and raising it further
  saves few bits on rungs that carry few.
- A piece's bits are counted as the ladder would spend them (:func:`amortised_kbps`): each 2 s
  piece opens with a keyframe of its own, where the ladder has one per segment, so the piece's
  keyframe bits are spread over the segment's length instead (a still lecture's keyframe is
  most of its bits: counted whole, it overstated the bitrate by a fifth; grain's keyframe is a
  small share, so a hard source's prediction hardly moves).
- Each rung's bitrate is predicted (:func:`predict_kbps`) from the pieces' measured bitrate at
  that CRF (log-linear between the points, as x264's bitrate roughly halves every 6 CRF),
  scaled by the rung's share of the top rung's pixels to the power :data:`PIXEL_EXPONENT`
  (a smaller picture carries more detail per pixel, so bits fall slower than pixels), and
  capped at the rung's maxrate: the cap binds whatever the CRF asks.
- A rung whose predicted bitrate comes within :data:`DROP_WITHIN` (15 %) of the rung kept
  above it adds nothing a player could switch to, and is dropped (:func:`drop_close_rungs`).
  The top rung is never dropped.

The decision records what it was made with (target, preset, the ladder's rungs) beside the
points, so a later encode under another target derives the CRFs again from the same points,
and only another ladder or preset needs a new probe (:func:`reuse_kind`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from videoctl.domain.ladder import Rung
from videoctl.domain.quality import TimeRange

#: VIDEOCTL_LADDER_MODE's values.
PER_TITLE, FIXED = "per-title", "fixed"
MODES = (PER_TITLE, FIXED)
#: The CRF of the fixed ladder (every rung).
FIXED_CRF = 23
#: VIDEOCTL_PER_TITLE_AFTER_SECONDS's default: a shorter source takes the fixed ladder (:func:`mode_for`).
DEFAULT_PER_TITLE_AFTER_S = 120.0
#: VIDEOCTL_VMAF_TARGET: its default and accepted range.
DEFAULT_VMAF_TARGET = 94.0
VMAF_TARGET_RANGE = (80.0, 99.0)
#: The CRFs the probe encodes the pieces at, and the range a derived CRF is held to.
PROBE_CRFS = (22, 27, 32)
CRF_RANGE = (18, 34)
#: How many pieces the probe samples, and how long each is: fixed, whatever the video's length.
PROBE_PIECES = 4
PIECE_S = 2.0
#: A rung within this share of the bitrate of the rung above it is dropped.
DROP_WITHIN = 0.15
#: Bits ∝ pixels ** this, between rungs of one source at one CRF.
PIXEL_EXPONENT = 0.75


def mode_for(mode: str, duration_s: float, per_title_after_s: float) -> str:
    """The ladder mode this source gets: ``per-title`` only for a source at least ``per_title_after_s``
    long. The probe costs the same for any length (a few fixed pieces, each encoded at every
    probe CRF and scored): on a 10-minute source it is a few percent of the encode's CPU, on a
    20-second one it is several times the encode, to save a few hundred kilobytes. A shorter
    source (or one whose length is unknown) is encoded with the fixed ladder."""
    if mode != PER_TITLE:
        return mode
    return PER_TITLE if math.isfinite(duration_s) and duration_s >= per_title_after_s else FIXED


def probe_ranges(duration_s: float, keyframe_s: float, pieces: int = PROBE_PIECES,
                 piece_s: float = PIECE_S) -> list[TimeRange]:
    """``pieces`` stretches of ``piece_s`` seconds, one in each of ``pieces`` equal parts of the video
    (neither the title card nor the credits weigh more than the middle), each starting on the
    ladder's keyframe (a multiple of ``keyframe_s``, the ladder's GOP in seconds: its segment's
    length at 30 fps, 120/29.97 s at 29.97) at or before the middle of its part. A piece
    opens with a keyframe of its own: started where the ladder has one, its frames are coded as
    the ladder codes them. Started anywhere else, a change of picture (a new slide, a cut) that
    the ladder's keyframe carries fell on a P-frame in the piece and read a point or two lower
    in VMAF for the rest of it (a lecture whose slides change on the segments' keyframes: 93.1
    on a piece at CRF 25 where the same seconds of the whole encode score about 94.7). Pieces that
    land on the same keyframe (a short video) are one. A video too short for ``pieces`` pieces
    is one piece: all of it."""
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    if not keyframe_s > 0:
        raise ValueError(f"keyframe_s must be positive, got {keyframe_s}")
    if duration_s <= pieces * piece_s:
        return [TimeRange(0.0, duration_s)]
    part = duration_s / pieces
    starts: list[float] = []
    for i in range(pieces):
        middle = part * (i + 0.5) - piece_s / 2
        start = float(round(math.floor(middle / keyframe_s + 1e-9) * keyframe_s, 6))
        if start not in starts:
            starts.append(start)
    return [TimeRange(start, piece_s) for start in starts]


@dataclass(frozen=True)
class ProbePoint:
    """The probe's pieces encoded at one CRF: their pooled frames' VMAF, and their video bitrate."""

    crf: int
    vmaf_mean: float
    vmaf_p5: float
    kbps: float

    def to_dict(self) -> dict[str, Any]:
        return {"crf": self.crf, "vmaf": self.vmaf_mean, "vmaf_p5": self.vmaf_p5, "kbps": self.kbps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbePoint:
        return cls(int(data["crf"]), float(data["vmaf"]), float(data["vmaf_p5"]), float(data["kbps"]))


def _line(x0: float, y0: float, x1: float, y1: float, x: float) -> float:
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def amortised_kbps(total_bytes: int, keyframe_bytes: int, keyframes: int, seconds: float, segment_s: float) -> float:
    """A piece's video bitrate with its keyframes' cost as the ladder has it: one keyframe (of the
    piece's mean keyframe size) every ``segment_s`` seconds, whatever the piece opened with."""
    if seconds <= 0 or segment_s <= 0:
        raise ValueError("seconds and segment_s must be positive")
    inter_bytes = total_bytes - keyframe_bytes
    mean_keyframe = keyframe_bytes / keyframes if keyframes else 0.0
    return (inter_bytes + mean_keyframe * seconds / segment_s) * 8 / seconds / 1000


def crf_for_target(points: Sequence[ProbePoint], target: float) -> int:
    """The highest whole CRF whose interpolated mean VMAF still reaches ``target``, in :data:`CRF_RANGE`."""
    if len(points) < 2:
        raise ValueError("the probe needs at least two measured CRFs")
    ordered = sorted(points, key=lambda p: p.crf)
    # VMAF falls as the CRF rises; the segment that brackets the target, else the nearest end's.
    pairs = list(zip(ordered, ordered[1:], strict=False))
    chosen = next(((a, b) for a, b in pairs if a.vmaf_mean >= target >= b.vmaf_mean),
                  pairs[0] if target > ordered[0].vmaf_mean else pairs[-1])
    a, b = chosen
    if a.vmaf_mean <= b.vmaf_mean:
        # Flat or rising (the maxrate cap binds: a grainy source scored 89.4 at CRF 22 and 90.0 at
        # 27): the line says nothing about the CRF. Followed out to an unreachable target it ran to
        # the highest CRF and starved the source; the lowest CRF is the safe side instead.
        crf = float(b.crf if min(a.vmaf_mean, b.vmaf_mean) >= target else CRF_RANGE[0])
    else:
        crf = _line(a.vmaf_mean, a.crf, b.vmaf_mean, b.crf, target)
    return clamp_crf(math.floor(crf + 1e-9))


def clamp_crf(crf: float) -> int:
    low, high = CRF_RANGE
    return int(min(high, max(low, crf)))


def kbps_at(points: Sequence[ProbePoint], crf: float) -> float:
    """The pieces' bitrate at ``crf``: log-linear between the measured points (outside, the nearest two's line)."""
    ordered = sorted(points, key=lambda p: p.crf)
    pairs = list(zip(ordered, ordered[1:], strict=False))
    a, b = next(((a, b) for a, b in pairs if a.crf <= crf <= b.crf), pairs[0] if crf < ordered[0].crf else pairs[-1])
    return math.exp(_line(a.crf, math.log(max(a.kbps, 1e-3)), b.crf, math.log(max(b.kbps, 1e-3)), crf))


def rung_crfs(rungs: Sequence[Rung], top_crf: int) -> dict[str, int]:
    """Every rung's CRF: the top rung's (see the module's note on lower rungs)."""
    return {rung.name: top_crf for rung in rungs}


def predict_kbps(top_kbps: float, top_pixels: int, pixels: int, maxrate_kbps: int) -> float:
    """A rung's predicted video bitrate from the top rung's at the same CRF, capped at the rung's maxrate."""
    return min(float(maxrate_kbps), top_kbps * (pixels / top_pixels) ** PIXEL_EXPONENT)


def drop_close_rungs(predicted: Sequence[tuple[str, float]]) -> list[str]:
    """The names of the rungs (highest first, with their predicted kbps) that come within
    :data:`DROP_WITHIN` of the rung kept above them; never the top one."""
    dropped: list[str] = []
    kept_kbps: float | None = None
    for name, kbps in predicted:
        if kept_kbps is not None and kbps >= (1 - DROP_WITHIN) * kept_kbps:
            dropped.append(name)
            continue
        kept_kbps = kbps
    return dropped


@dataclass(frozen=True)
class LadderDecision:
    """What the ladder does for one source, and what it was decided with. Serialisable (the job row)."""

    mode: str
    #: The rungs it was made for (``height:maxrate`` of each, highest first) and the x264 preset.
    ladder: str
    preset: str
    #: The VMAF target (None for the fixed ladder).
    target: float | None = None
    points: tuple[ProbePoint, ...] = ()
    #: The CRF of every rung, kept or dropped, by name.
    crf: dict[str, int] = field(default_factory=dict)
    #: Each rung's predicted video bitrate, by name (per-title only).
    predicted_kbps: dict[str, float] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    #: The probe's CPU seconds (its ffmpeg children, user + system) and wall seconds.
    probe_cpu_s: float | None = None
    probe_wall_s: float | None = None
    pieces: tuple[TimeRange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "ladder": self.ladder, "preset": self.preset, "target": self.target,
                "points": [p.to_dict() for p in self.points], "crf": dict(self.crf),
                "predicted_kbps": dict(self.predicted_kbps), "dropped": list(self.dropped),
                "probe_cpu_s": self.probe_cpu_s, "probe_wall_s": self.probe_wall_s,
                "pieces": [[p.start_s, p.duration_s] for p in self.pieces]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LadderDecision | None:
        """The stored form, or None when there is none or it cannot be read (it is then made again)."""
        if not isinstance(data, dict) or data.get("mode") not in MODES:
            return None
        try:
            return cls(data["mode"], str(data["ladder"]), str(data["preset"]),
                       None if data.get("target") is None else float(data["target"]),
                       tuple(ProbePoint.from_dict(p) for p in data.get("points") or ()),
                       {str(k): int(v) for k, v in (data.get("crf") or {}).items()},
                       {str(k): float(v) for k, v in (data.get("predicted_kbps") or {}).items()},
                       tuple(data.get("dropped") or ()), data.get("probe_cpu_s"), data.get("probe_wall_s"),
                       tuple(TimeRange(float(s), float(d)) for s, d in data.get("pieces") or ()))
        except (KeyError, TypeError, ValueError):
            return None

    def kept(self, rungs: Sequence[Rung]) -> tuple[Rung, ...]:
        return tuple(rung for rung in rungs if rung.name not in self.dropped)


def ladder_spec(rungs: Sequence[Rung]) -> str:
    return ",".join(f"{rung.height}:{rung.maxrate_kbps}" for rung in rungs)


def fixed(rungs: Sequence[Rung], preset: str) -> LadderDecision:
    return LadderDecision(FIXED, ladder_spec(rungs), preset, crf={rung.name: FIXED_CRF for rung in rungs})


def derive(points: Sequence[ProbePoint], rungs: Sequence[Rung], pixels: dict[str, int], *, target: float,
           preset: str, probe_cpu_s: float | None = None, probe_wall_s: float | None = None,
           pieces: Sequence[TimeRange] = ()) -> LadderDecision:
    """The per-title ladder of ``rungs`` (highest first; ``pixels``: each one's picture size) from the
    top rung's measured ``points``."""
    top_crf = crf_for_target(points, target)
    crfs = rung_crfs(rungs, top_crf)
    top = rungs[0]
    predicted = {rung.name: round(predict_kbps(kbps_at(points, crfs[rung.name]), pixels[top.name],
                                               pixels[rung.name], rung.maxrate_kbps), 1) for rung in rungs}
    dropped = drop_close_rungs([(rung.name, predicted[rung.name]) for rung in rungs])
    return LadderDecision(PER_TITLE, ladder_spec(rungs), preset, target, tuple(sorted(points, key=lambda p: p.crf)),
                          crfs, predicted, tuple(dropped), probe_cpu_s, probe_wall_s, tuple(pieces))


#: What a stored decision is good for now (:func:`reuse_kind`).
REUSE, REDERIVE, REPROBE = "reuse", "rederive", "reprobe"


def reuse_kind(stored: LadderDecision | None, *, mode: str, rungs: Sequence[Rung], preset: str,
               target: float) -> str:
    """``reuse`` the stored decision as it is, ``rederive`` its CRFs from its points (only the target
    changed), or ``reprobe`` (none stored, another mode, ladder or preset: the points no longer hold)."""
    if stored is None or stored.mode != mode or stored.ladder != ladder_spec(rungs) or stored.preset != preset:
        return REPROBE
    if mode == PER_TITLE and stored.target != target:
        return REDERIVE if len(stored.points) >= 2 else REPROBE
    return REUSE
