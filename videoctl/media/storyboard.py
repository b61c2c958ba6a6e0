"""The storyboard: thumbnails every N seconds for a player's seek bar, from the ladder's decode.

Tiles are ``TILE_WIDTH`` px wide, one every N seconds, N chosen from the duration so that
there are at most about ``MAX_TILES`` (``choose_interval``). They are packed row by row into
sprite sheets of at most ``COLUMNS`` x ``ROWS`` tiles: ``storyboard.jpg``, or
``storyboard-1.jpg``, ``storyboard-2.jpg`` … when one sheet is not enough. ``storyboard.vtt``
has one cue per tile, ``storyboard.jpg#xywh=x,y,w,h``, the format Mux, Video.js and Vidstack
read; together the cues cover the video from 0 to its end, without a gap.

A tile is every K-th frame of the ladder's constant-rate frames (K = N × fps, rounded), so
the tiles are known exactly from the number of frames the ladder has, not guessed from
timestamps: tile i shows frame i × K, at i × K / fps seconds. The tiles branch off the
lowest rung's frames (the cheapest to scale down to 160 px) in the one ffmpeg process. A
sheet is only complete when its last tile is in, so a sheet of the first frame alone is
written at once as ``storyboard-0.jpg`` (ffmpeg reports no progress before; see
``media.jpeg``) and removed afterwards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.outputs import STORYBOARD
from videoctl.media.jpeg import first_then, jpeg_output, read_picture
from videoctl.media.manifests import check_local_uri, read_manifest

TILE_WIDTH = 160
MAX_TILES = 200
COLUMNS = 10
ROWS = 10
#: Intervals a storyboard uses, in seconds: round numbers a viewer can count in.
INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600)
JPEG_QUALITY = 5
#: What ffmpeg writes: sheet 0 is the placeholder, 1 … the storyboard (renamed storyboard.jpg when alone).
SHEET_PATTERN = "storyboard-%d.jpg"
#: A chunked video's tiles, each chunk's laid out in the sheets after them all (``tile_outputs``).
TILES = "tiles"
TILE_PATTERN = "tile_%06d.jpg"
TILE_QUALITY = 2
#: How far the last cue may end from the duration (the cues are written to the millisecond).
END_TOLERANCE_S = 0.01

_TIMESTAMP = r"(\d{2,}):(\d{2}):(\d{2})\.(\d{3})"
_CUE_TIMES = re.compile(rf"^{_TIMESTAMP} --> {_TIMESTAMP}$")
_CUE_IMAGE = re.compile(r"^([^#\s]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


@dataclass(frozen=True)
class Layout:
    """Tiles per sheet, and each tile's size."""

    columns: int
    rows: int
    tile_width: int
    tile_height: int

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    sheet: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Storyboard:
    vtt: Path
    sheets: tuple[Path, ...]
    tiles: int


# ------------------------------------------------------------------ pure rules


def choose_interval(duration_s: float) -> int:
    """The shortest interval in INTERVALS giving at most MAX_TILES tiles (longer for very long videos)."""
    for interval in INTERVALS:
        if math.ceil(duration_s / interval) <= MAX_TILES:
            return interval
    return math.ceil(duration_s / MAX_TILES)


def frames_per_tile(interval_s: float, fps: Fraction) -> int:
    return max(1, round(interval_s * fps))


def tile_count(frames: int, every: int) -> int:
    """Tiles made from ``frames`` frames, one every ``every`` frames (the first frame is a tile)."""
    return math.ceil(frames / every) if frames > 0 else 0


def layout(width: int, height: int, expected_tiles: int) -> Layout:
    """Sheets of up to COLUMNS x ROWS tiles of TILE_WIDTH px wide at the video's aspect ratio.

    A storyboard that fits one sheet gets a sheet just big enough for ``expected_tiles``.
    """
    tile_width = min(TILE_WIDTH, width - width % 2)
    tile_height = max(2, 2 * round(height * tile_width / width / 2))
    columns = max(1, min(COLUMNS, expected_tiles))
    rows = max(1, min(ROWS, math.ceil(expected_tiles / columns)))
    return Layout(columns, rows, tile_width, tile_height)


def sheet_names(sheets: int) -> list[str]:
    """``storyboard.jpg`` alone, or ``storyboard-1.jpg`` … for several sheets."""
    stem = STORYBOARD.removesuffix(".vtt")
    return [f"{stem}.jpg"] if sheets == 1 else [f"{stem}-{n}.jpg" for n in range(1, sheets + 1)]


def make_cues(tiles: int, seconds_per_tile: float, duration_s: float, grid: Layout) -> list[Cue]:
    """One cue per tile, back to back from 0; the last one ends at ``duration_s``.

    Tiles that would start at or after the end (a video stream longer than the duration
    recorded) get no cue; the last cue stretches to the end when the video stream is shorter.
    """
    names = sheet_names(math.ceil(tiles / grid.per_sheet)) if tiles else []
    end_ms = round(duration_s * 1000)
    cues = []
    for index in range(tiles):
        start = round(index * seconds_per_tile * 1000)
        if start >= end_ms:
            break
        sheet, place = divmod(index, grid.per_sheet)
        row, column = divmod(place, grid.columns)
        cues.append(Cue(start, 0, names[sheet], column * grid.tile_width, row * grid.tile_height,
                        grid.tile_width, grid.tile_height))
    ends = [cue.start_ms for cue in cues[1:]] + [end_ms]
    return [Cue(cue.start_ms, end, cue.sheet, cue.x, cue.y, cue.width, cue.height) for cue, end in zip(cues, ends, strict=True)]


def vtt_text(cues: Sequence[Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in cues:
        blocks.append(f"{_timestamp(cue.start_ms)} --> {_timestamp(cue.end_ms)}\n"
                      f"{cue.sheet}#xywh={cue.x},{cue.y},{cue.width},{cue.height}")
    return "\n\n".join(blocks) + "\n"


def _timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a storyboard WebVTT (time line, then ``sheet#xywh=…``); VerifyFailed if malformed."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())]
    if not blocks or not blocks[0].startswith("WEBVTT"):
        raise VerifyFailed(f"{STORYBOARD} does not start with WEBVTT")
    cues = []
    for block in blocks[1:]:
        lines = block.splitlines()
        times = _CUE_TIMES.match(lines[0])
        if times is None and len(lines) > 1:  # a cue may start with an identifier
            lines = lines[1:]
            times = _CUE_TIMES.match(lines[0])
        image = _CUE_IMAGE.match(lines[1]) if times is not None and len(lines) == 2 else None
        if times is None or image is None:
            raise VerifyFailed(f"{STORYBOARD}: malformed cue {block[:80]!r}")
        start = _milliseconds(times.groups()[:4])
        end = _milliseconds(times.groups()[4:])
        x, y, width, height = (int(value) for value in image.groups()[1:])
        cues.append(Cue(start, end, image[1], x, y, width, height))
    return cues


def _milliseconds(parts: Sequence[str]) -> int:
    hours, minutes, seconds, millis = (int(part) for part in parts)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def check_cues(cues: Sequence[Cue], duration_s: float, sheet_sizes: dict[str, tuple[int, int]]) -> None:
    """Cues cover 0 … duration back to back, and each tile lies inside its sheet."""
    if not cues:
        raise VerifyFailed(f"{STORYBOARD} has no cues")
    if cues[0].start_ms != 0:
        raise VerifyFailed(f"{STORYBOARD} starts at {cues[0].start_ms / 1000:.3f} s, not at 0")
    for before, cue in zip(cues, cues[1:], strict=False):
        if cue.start_ms != before.end_ms:
            kind = "a gap" if cue.start_ms > before.end_ms else "an overlap"
            raise VerifyFailed(f"{STORYBOARD} has {kind} between {before.end_ms / 1000:.3f} s and {cue.start_ms / 1000:.3f} s")
    for cue in cues:
        if cue.end_ms <= cue.start_ms:
            raise VerifyFailed(f"{STORYBOARD}: the cue at {cue.start_ms / 1000:.3f} s ends before it starts")
    if abs(cues[-1].end_ms / 1000 - duration_s) > END_TOLERANCE_S:
        raise VerifyFailed(f"{STORYBOARD} ends at {cues[-1].end_ms / 1000:.3f} s but the video lasts {duration_s:.3f} s")
    for cue in cues:
        if cue.sheet not in sheet_sizes:
            raise VerifyFailed(f"{STORYBOARD} names {cue.sheet}, which is not one of its sprite sheets")
        sheet_width, sheet_height = sheet_sizes[cue.sheet]
        if cue.width <= 0 or cue.height <= 0 or cue.x + cue.width > sheet_width or cue.y + cue.height > sheet_height:
            raise VerifyFailed(f"{STORYBOARD}: tile {cue.x},{cue.y},{cue.width},{cue.height} lies outside "
                               f"{cue.sheet} ({sheet_width}x{sheet_height})")


# ------------------------------------------------------------------ ffmpeg graph


def storyboard_outputs(tap: Any, out_dir: Path, duration_s: float, fps: Fraction, width: int, height: int) -> list[Any]:
    """The storyboard branch on ``tap`` (frames of ``width`` x ``height`` at ``fps``): one JPEG output."""
    interval = choose_interval(duration_s)
    every = frames_per_tile(interval, fps)
    grid = layout(width, height, tile_count(round(duration_s * fps), every))
    split = tap.split()
    size, shape = (grid.tile_width, grid.tile_height), f"{grid.columns}x{grid.rows}"
    placeholder = split[0].filter("trim", end_frame=1).filter("scale", *size).filter("tile", shape)
    sheets = split[1].filter("select", f"not(mod(n,{every}))").filter("scale", *size).filter("tile", shape)
    return [jpeg_output(first_then(placeholder, sheets), out_dir / SHEET_PATTERN, quality=JPEG_QUALITY, single=False)]


def tile_outputs(tap: Any, out_dir: Path, duration_s: float, fps: Fraction, width: int, height: int, *,
                 first_frame: int) -> Any:
    """A chunk's storyboard tiles: one JPEG per tile, ``tiles/tile_NNNNNN.jpg`` numbered across the video.

    ``tap`` carries the chunk's frames, the first being the video's frame ``first_frame``;
    the tiles are the video's every K-th frames that fall in the chunk, as one pass picks them,
    so the assembler lays the chunks' tiles out in sheets exactly as one pass does
    (``assemble_sheets``). They are kept at a better JPEG quality than the sheets, which
    encode them once more.
    """
    every = frames_per_tile(choose_interval(duration_s), fps)
    grid = layout(width, height, tile_count(round(duration_s * fps), every))
    (out_dir / TILES).mkdir(parents=True, exist_ok=True)
    return (tap.filter("select", f"not(mod(n+{first_frame},{every}))")
            .filter("scale", grid.tile_width, grid.tile_height).filter("scale", out_range="pc")
            .output(str(out_dir / TILES / TILE_PATTERN), **{"c:v": "mjpeg", "q:v": TILE_QUALITY,
                                                           "fps_mode": "passthrough", "map_metadata": -1,
                                                           "start_number": first_tile(first_frame, every)}))


def first_tile(first_frame: int, every: int) -> int:
    """The number of the first tile at or after ``first_frame``."""
    return -(-first_frame // every)


def tiles_of(first_frame: int, frames: int, every: int) -> range:
    """The numbers of the tiles among frames ``first_frame`` … ``first_frame + frames - 1``."""
    return range(first_tile(first_frame, every), first_tile(first_frame + frames, every))


# ------------------------------------------------------------------ after ffmpeg


def finalize_storyboard(out_dir: Path, *, duration_s: float, video_duration_s: float, fps: Fraction,
                        width: int, height: int) -> Storyboard:
    """Name the sheets ffmpeg wrote and write ``storyboard.vtt`` for them.

    ``video_duration_s`` is the ladder's video length (its frames, at ``fps``); ``duration_s``
    the video's recorded duration, which the cues cover. ``width`` x ``height`` is the size
    of the frames the tiles came from, as given to ``storyboard_outputs``.
    """
    out_dir = Path(out_dir)
    interval = choose_interval(duration_s)
    every = frames_per_tile(interval, fps)
    grid = layout(width, height, tile_count(round(duration_s * fps), every))
    tiles = tile_count(round(video_duration_s * fps), every)
    (out_dir / (SHEET_PATTERN % 0)).unlink(missing_ok=True)
    written = sorted(out_dir.glob(SHEET_PATTERN.replace("%d", "*")), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
    names = sheet_names(math.ceil(tiles / grid.per_sheet))
    if len(written) != len(names):
        raise VerifyFailed(f"ffmpeg wrote {len(written)} storyboard sheet(s) for {tiles} tiles, expected {len(names)}")
    sheets = []
    for path, name in zip(written, names, strict=True):
        sheets.append(path.replace(out_dir / name) if path.name != name else path)
    vtt = out_dir / STORYBOARD
    vtt.write_text(vtt_text(make_cues(tiles, every / fps, duration_s, grid)), encoding="utf-8")
    return Storyboard(vtt, tuple(sheets), tiles)


def verify_storyboard(out_dir: Path, duration_s: float) -> None:
    """The WebVTT parses, its cues cover the whole duration, every tile lies inside a sheet that decodes."""
    out_dir = Path(out_dir)
    cues = parse_vtt(read_manifest(out_dir / STORYBOARD, STORYBOARD))
    sizes = {}
    for name in sorted({cue.sheet for cue in cues}):
        check_local_uri(name, STORYBOARD)
        frame = read_picture(out_dir / name)
        sizes[name] = (frame.width, frame.height)
    check_cues(cues, duration_s, sizes)
