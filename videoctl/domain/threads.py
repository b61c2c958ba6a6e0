"""How many threads each part of the one-process ladder encode gets, for a CPU budget.

Pure policy, no IO: ``videoctl.media.cpus`` reads the budget (cgroup quota, affinity
mask) and the media layer puts the plan into the ffmpeg command.

The one ffmpeg process runs a decoder, one filter graph (frame rate, pixel format, split
and the cascade of scalers) and one x264 encoder per rung, all at the same time. An
encoder's work is close to proportional to its pixel rate (width × height × fps, and fps
is the same for every rung), so the top rung of the default ladder is 57 % of the
encoding work. Given too few threads it finishes last while the other CPUs idle; given
as many as the small rungs it starves them. The plan:

- x264: the rungs share ``X264_THREADS_PER_CPU`` threads per CPU, in proportion to their
  pixel rates, at least one each. More threads than CPUs because a frame-threaded x264
  thread often waits for rows of its reference frame; x264's own default is 1.5 per core.
- decoder: libavcodec's own automatic rule (one thread per CPU plus one, a single thread
  on one CPU, at most 16), applied to the real budget instead of the host's CPU count.
- filters: one thread per CPU (ffmpeg's default, again from the real budget).

On 2 CPUs that is x264 2/1/1/1, 3 decoder threads and 2 filter threads: exactly what the
encode used before the plan existed, measured in docs/encoding.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: x264 threads per CPU of budget, shared among the rungs.
X264_THREADS_PER_CPU = 2
#: libavcodec never picks more than this many decoder threads on its own (MAX_AUTO_THREADS).
MAX_DECODER_THREADS = 16


@dataclass(frozen=True)
class ThreadPlan:
    """Threads for the decoder, the filter graph, and each rung's encoder (highest rung first)."""

    decoder: int
    filters: int
    encoders: tuple[int, ...]


def whole_cpus(cpus: float) -> int:
    """CPUs a thread pool may spread over: a fractional quota still runs on ⌈quota⌉ CPUs at once."""
    if not math.isfinite(cpus) or cpus <= 0:
        raise ValueError(f"the CPU budget must be a positive number, got {cpus}")
    # A quota read as 2.0000001 from integer microseconds is 2 CPUs, not 3.
    return max(1, math.ceil(round(cpus, 3)))


def plan_threads(cpus: float, pixel_rates: Sequence[int]) -> ThreadPlan:
    """The plan for ``cpus`` (a fractional quota is fine) and the rungs' pixel rates."""
    whole = whole_cpus(cpus)
    if not pixel_rates or any(rate <= 0 for rate in pixel_rates):
        raise ValueError(f"every rung needs a positive pixel rate, got {list(pixel_rates)}")
    pool = X264_THREADS_PER_CPU * cpus
    total = sum(pixel_rates)
    # Rounded to nearest, halves up: an even split must not depend on float noise.
    encoders = tuple(max(1, math.floor(pool * rate / total + 0.5)) for rate in pixel_rates)
    decoder = 1 if whole == 1 else min(whole + 1, MAX_DECODER_THREADS)
    return ThreadPlan(decoder=decoder, filters=whole, encoders=encoders)
