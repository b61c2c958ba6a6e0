"""The poster: a representative frame of the video, from the ladder's own decode.

``poster.jpg`` is at the top rung's size and ``poster-320.jpg`` 320 px wide (or the top
rung's width when that is narrower: a poster is never upscaled). Both come off the top
rung's scaled frames in the one ffmpeg process, so they are upright and tone-mapped as the
ladder is.

How the frame is picked:

1. Candidates: at most ``MAX_CANDIDATES`` frames spread evenly over the whole video.
2. Black, uniform and deeply faded frames are dropped: their average luma is below
   ``MIN_LUMA_AVERAGE`` (``signalstats``) or their luma histogram's normalised entropy is
   below ``MIN_ENTROPY`` (``entropy``; a solid colour has 0, a picture 0.4–0.95).
3. ffmpeg's ``thumbnail`` filter picks, among the rest, the frame whose histogram is closest
   to their average: a typical frame, never a half-faded one, which stands out from the rest.

``thumbnail`` holds its candidates in memory, so their number is bounded by the frame size
(``candidate_count``). A video with no frame that passes step 2 (a black screen with sound)
gets its first frame instead, and its poster may then be uniform: it shows what the video
shows. Both ways are one chain (see ``media.jpeg``): the first frame is written at once,
and the chosen frame, which ``thumbnail`` can only give at the end, overwrites it. The
chosen frame's metadata is printed to ``POSTER_CHOICE``, which tells afterwards which way
it went.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.outputs import POSTER, POSTER_SMALL
from videoctl.media.jpeg import first_then, jpeg_output, read_picture

MAX_CANDIDATES = 30
#: Memory the ``thumbnail`` filter may hold in candidate frames (8-bit 4:2:0: 1.5 bytes a pixel).
CANDIDATE_BYTES = 100 * 1024 * 1024
MIN_LUMA_AVERAGE = 24  # 8-bit limited range: black is 16
MIN_ENTROPY = 0.25
SMALL_WIDTH = 320
#: Luma spread (95th minus 5th percentile) at or below which a picture counts as uniform.
UNIFORM_SPREAD = 8
JPEG_QUALITY = 3

#: The chosen frame's metadata (time, luma statistics, entropy); empty when none was chosen.
POSTER_CHOICE = "poster-choice.txt"

log = logging.getLogger(__name__)

#: How ffmpeg's ``metadata=mode=print`` starts a frame: ``frame:0 pts:36352 pts_time:2.366667``.
_PTS_TIME = re.compile(r"pts_time:(-?\d+(?:\.\d+)?)")
_ENTROPY_KEY = "lavfi.entropy.normalized_entropy.normal.Y"
_LUMA_AVERAGE_KEY = "lavfi.signalstats.YAVG"


@dataclass(frozen=True)
class Poster:
    path: Path
    small_path: Path
    #: False when no frame passed the content filters and the first frame was used.
    representative: bool
    #: When the chosen frame is in the video (seconds), None for the first frame.
    time_s: float | None = None


# ------------------------------------------------------------------ pure rules


def candidate_count(width: int, height: int) -> int:
    """How many candidate frames ``thumbnail`` may hold at this size: ≤ MAX_CANDIDATES, ≥ 2."""
    frame_bytes = width * height * 3 // 2
    return max(2, min(MAX_CANDIDATES, CANDIDATE_BYTES // max(frame_bytes, 1)))


def candidate_step(duration_s: float, count: int) -> float:
    """Seconds between candidates so that ``count`` of them span the video."""
    return max(duration_s, 0.0) / max(count, 1)


def small_size(width: int, height: int) -> tuple[int, int]:
    """``poster-320.jpg``'s size: 320 px wide at the poster's aspect ratio, height even, never upscaled."""
    small_width = min(SMALL_WIDTH, width - width % 2)
    small_height = max(2, 2 * round(height * small_width / width / 2))
    return small_width, small_height


def luma_spread(plane: bytes, width: int, height: int, stride: int) -> int:
    """The 95th minus the 5th percentile of a luma plane's values: 0 for a uniform picture."""
    counts = Counter(b"".join(plane[row * stride : row * stride + width] for row in range(height)))
    histogram = [counts.get(value, 0) for value in range(256)]
    total = width * height

    def percentile(share: float) -> int:
        target, seen = math.ceil(share * total), 0
        for value, count in enumerate(histogram):
            seen += count
            if seen >= target:
                return value
        return 255

    return percentile(0.95) - percentile(0.05)


# ------------------------------------------------------------------ ffmpeg graph


def poster_outputs(tap: Any, out_dir: Path, duration_s: float, width: int, height: int) -> list[Any]:
    """The poster branch on ``tap`` (the top rung's frames, ``width`` x ``height``): two JPEG outputs."""
    count = candidate_count(width, height)
    step = candidate_step(duration_s, count)
    split = tap.split()
    # The select expression keeps a frame when none was kept yet or ``step`` has passed since.
    chosen = (
        split[0].filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{step:.6f})")
        .filter("signalstats")
        .filter("metadata", mode="select", key=_LUMA_AVERAGE_KEY, value=MIN_LUMA_AVERAGE, function="greater")
        .filter("entropy")
        .filter("metadata", mode="select", key=_ENTROPY_KEY, value=MIN_ENTROPY, function="greater")
        .filter("thumbnail", n=count)
        .filter("metadata", mode="print", file=str(out_dir / POSTER_CHOICE))
    )
    first = split[1].filter("trim", end_frame=1)
    picture = first_then(first, chosen).split()
    small = picture[1].filter("scale", *small_size(width, height))
    return [jpeg_output(picture[0], out_dir / POSTER, quality=JPEG_QUALITY, single=True),
            jpeg_output(small, out_dir / POSTER_SMALL, quality=JPEG_QUALITY, single=True)]


# ------------------------------------------------------------------ after ffmpeg


def finalize_poster(out_dir: Path) -> Poster:
    """Say which frame the poster is (and log it), and remove the note ffmpeg wrote about it."""
    out_dir = Path(out_dir)
    note = out_dir / POSTER_CHOICE
    try:
        choice = note.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        choice = ""
    note.unlink(missing_ok=True)
    representative = bool(choice.strip())
    time = _PTS_TIME.search(choice)
    time_s = float(time[1]) if time else None
    if representative:
        log.info("poster chosen", extra={"time_s": time_s})
    else:
        log.warning("no frame of the video passed the poster's content filters: the poster is its first frame")
    return Poster(out_dir / POSTER, out_dir / POSTER_SMALL, representative, time_s)


def verify_poster(poster: Poster, width: int, height: int) -> None:
    """Both pictures decode at their sizes and, unless the video had no usable frame, are not uniform."""
    expected = {poster.path: (width, height), poster.small_path: small_size(width, height)}
    for path, size in expected.items():
        frame = read_picture(path)
        if (frame.width, frame.height) != size:
            raise VerifyFailed(f"{path.name} is {frame.width}x{frame.height}, expected {size[0]}x{size[1]}")
        if poster.representative:
            plane = frame.planes[0]
            spread = luma_spread(bytes(plane), frame.width, frame.height, plane.line_size)
            if spread <= UNIFORM_SPREAD:
                raise VerifyFailed(f"{path.name} is a uniform picture (luma spread {spread}), not a frame of the video")
