"""The per-title ladder decision of one encode: reuse a stored one, derive it again, or probe.

``VIDEOCTL_LADDER_MODE=per-title`` probes the source once (``media.complexity``: a few short
pieces at a few CRFs, scored by VMAF) and derives each rung's CRF and the rungs to drop
(``domain.pertitle``). The decision goes into ``EncodeDecision.extra["ladder"]``, which run-job
stores on the job before the encode: a later attempt, a re-encode of the same source and the
chunks of a long video read it instead of probing again. A stored decision made under another
target is derived again from its measured points (no probe); one made for another ladder or
preset is probed again, since its points were measured with other encodes.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Sequence
from pathlib import Path

from videoctl.domain import pertitle
from videoctl.domain.ladder import Rung, gop_frames, output_fps, rung_size
from videoctl.domain.pertitle import LadderDecision
from videoctl.media import complexity
from videoctl.media.probe import SourceInfo

log = logging.getLogger(__name__)

#: Where a decision keeps its ladder in ``EncodeDecision.extra``.
KEY = "ladder"


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def decide_ladder(ffmpeg: str, src: Path, info: SourceInfo, rungs: Sequence[Rung], *, mode: str, target: float,
                  preset: str, segment_s: int, workdir: Path, stored: LadderDecision | None) -> LadderDecision:
    """The ladder for these ``rungs`` (highest first) of this source, probing only when nothing stored holds."""
    kind = pertitle.reuse_kind(stored, mode=mode, rungs=rungs, preset=preset, target=target)
    if kind == pertitle.REUSE and stored is not None:
        return stored
    if mode == pertitle.FIXED:
        return pertitle.fixed(rungs, preset)
    pixels = {rung.name: _pixels(info, rung) for rung in rungs}
    if kind == pertitle.REDERIVE and stored is not None:
        decision = pertitle.derive(stored.points, rungs, pixels, target=target, preset=preset,
                                   probe_cpu_s=stored.probe_cpu_s, probe_wall_s=stored.probe_wall_s,
                                   pieces=stored.pieces)
        log.info("per-title ladder derived again for a new target", extra={"target": target, "crf": decision.crf})
        return decision
    fps = output_fps(info.fps)
    ranges = pertitle.probe_ranges(info.duration_s, float(gop_frames(fps, segment_s) / fps))
    cpu_before, started = children_cpu_s(), time.monotonic()
    points = complexity.measure_crfs(ffmpeg, src, info, rungs[0], ranges, pertitle.PROBE_CRFS, preset=preset,
                                     segment_s=segment_s, workdir=workdir)
    cpu_s, wall_s = round(children_cpu_s() - cpu_before, 2), round(time.monotonic() - started, 2)
    decision = pertitle.derive(points, rungs, pixels, target=target, preset=preset, probe_cpu_s=cpu_s,
                               probe_wall_s=wall_s, pieces=ranges)
    log.info("per-title probe", extra={"probe_cpu_s": cpu_s, "probe_wall_s": wall_s, "pieces": len(ranges),
                                       "points": [p.to_dict() for p in points], "crf": decision.crf,
                                       "dropped": list(decision.dropped)})
    return decision


def _pixels(info: SourceInfo, rung: Rung) -> int:
    width, height = rung_size(info.width, info.height, rung.height)
    return width * height
