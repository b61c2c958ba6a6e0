"""One chunk of a long video: its frames of every rung, encoded, put in place and described.

A chunk is encoded by the ladder's own command (``encode.build_ladder_args`` with the chunk),
from its own time 0 (its run-up's, below): every rung's init segment is then the one a single
pass writes, byte for byte (the edit list that hides the B-frame delay included). Its fragments
are then moved to where they belong on the video's timeline (``mp4.shift_fragment``: decode
time + the chunk's first frame in the track's ticks), and numbered as one pass numbers them
(the muxer's ``start_number``). So that a boundary's frames are coded as one pass codes them, a
chunk encodes a little more than its frames and throws the extra segments away
(:func:`drop_segment`): after the first, a run-up of the frames before it, in a segment of its
own that ends on the chunk's first frame, a forced keyframe (``domain.chunks.runup_frames``);
before the last, a tail past its end, from the next chunk's first keyframe
(``domain.chunks.tail_frames``). What the assembler needs of them is recorded as a
:class:`ChunkOutput`: each rung's segments with their size and exact timing, its codec string
and size, a digest of its init segment (every chunk's must be the same), and the storyboard
tiles it made.

Before anything is recorded the chunk checks itself: every rung complete, aligned with the
others, contiguous in time from the chunk's first frame, of the expected length (a chunk
that is not the last one holds exactly its frames), and its first segment of the right
codec and size. Anything else is ``verify_failed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videoctl.domain.chunks import Chunk, ChunkPlan, runup_frames
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, output_fps, rung_size
from videoctl.media import mp4
from videoctl.media.encode import FMP4, MASTER_PLAYLIST, MEDIA_PLAYLIST, encode_ladder
from videoctl.media.hls import check_alignment, check_video_segment, load_media_playlist, measure_video
from videoctl.media.m3u8 import MediaPlaylist
from videoctl.media.probe import SourceInfo
from videoctl.media.storyboard import TILE_PATTERN, TILES, choose_interval, frames_per_tile, tiles_of


@dataclass(frozen=True)
class SegmentPart:
    """One segment a chunk made: its file, size and timing in the track's ticks."""

    uri: str
    size: int
    decode_time: int
    duration: int


@dataclass(frozen=True)
class RungPart:
    """What one chunk made of one rung."""

    codec: str
    width: int
    height: int
    timescale: int
    init: str
    init_sha256: str
    segments: tuple[SegmentPart, ...]

    @property
    def end(self) -> int:
        last = self.segments[-1]
        return last.decode_time + last.duration


@dataclass(frozen=True)
class ChunkOutput:
    """Everything the assembler needs of one chunk (stored as the chunk's ``result``)."""

    index: int
    rungs: dict[str, RungPart]
    #: The storyboard tiles it made: numbers first … first + count − 1.
    first_tile: int
    tiles: int
    frames: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "first_tile": self.first_tile, "tiles": self.tiles, "frames": self.frames,
                "rungs": {name: {**asdict(part), "segments": [[s.uri, s.size, s.decode_time, s.duration]
                                                              for s in part.segments]}
                          for name, part in self.rungs.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkOutput:
        rungs = {name: RungPart(part["codec"], int(part["width"]), int(part["height"]), int(part["timescale"]),
                                part["init"], part["init_sha256"],
                                tuple(SegmentPart(uri, int(size), int(start), int(length))
                                      for uri, size, start, length in part["segments"]))
                 for name, part in data["rungs"].items()}
        return cls(int(data["index"]), rungs, int(data["first_tile"]), int(data["tiles"]), int(data["frames"]))


def encode_chunk(ffmpeg_bin: str, src: Path, out_dir: Path, info: SourceInfo, rungs: Sequence[Rung],
                 plan: ChunkPlan, chunk: Chunk, *, segment_s: int, preset: str, pictures: bool = True,
                 cpus: float | None = None, crfs: Mapping[str, int] | None = None,
                 on_progress: Callable[[float], None] | None = None) -> ChunkOutput:
    """Encode ``chunk`` of every rung into ``out_dir`` (new or empty), put its fragments in
    place on the video's timeline, check it, and describe it. ``crfs``: each rung's CRF (the
    job's per-title ladder), the same for every chunk."""
    out_dir = Path(out_dir)
    encode_ladder(ffmpeg_bin, src, out_dir, info, rungs, segment_s=segment_s, preset=preset,
                  segment_format=FMP4, pictures=pictures, cpus=cpus, crfs=crfs, on_progress=on_progress, chunk=chunk)
    (out_dir / MASTER_PLAYLIST).unlink(missing_ok=True)  # the assembler writes the video's own
    for rung in rungs:
        if runup_frames(chunk, plan.segment_frames):
            drop_segment(out_dir / rung.name, chunk, f"seg_{chunk.first_segment - 1:05d}.m4s", last=False)
        if chunk.frames is not None:
            drop_segment(out_dir / rung.name, chunk,
                         f"seg_{chunk.first_segment + chunk.frames // plan.segment_frames:05d}.m4s", last=True)
    return describe_chunk(out_dir, info, rungs, plan, chunk, pictures=pictures)


def drop_segment(directory: Path, chunk: Chunk, name: str, *, last: bool) -> None:
    """Remove the segment ``name`` from the rung in ``directory``, the file and its playlist
    entry: the tail a chunk encoded past its end (``last``, ``domain.chunks.tail_frames``: it
    starts with the next chunk's first keyframe), or the run-up before its start (the first,
    ``domain.chunks.runup_frames``: it ends where the chunk's first keyframe starts)."""
    playlist = directory / MEDIA_PLAYLIST
    lines = playlist.read_text(encoding="utf-8").splitlines()
    uris = [n for n, line in enumerate(lines) if line and not line.startswith("#")]
    at = uris[-1 if last else 0] if uris else None
    if at is None or lines[at] != name or not lines[at - 1].startswith("#EXTINF:"):
        raise VerifyFailed(f"chunk {chunk.index}, {directory.name}: its {'last' if last else 'first'} segment is "
                           f"{lines[at] if at is not None else 'missing'}, not the "
                           f"{'tail past its end' if last else 'run-up before its start'} {name}")
    del lines[at - 1:at + 1]
    playlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / name).unlink()


def describe_chunk(out_dir: Path, info: SourceInfo, rungs: Sequence[Rung], plan: ChunkPlan, chunk: Chunk, *,
                   pictures: bool) -> ChunkOutput:
    """Move the chunk's fragments in ``out_dir`` into place and describe them; VerifyFailed if
    the chunk is not what its plan says."""
    fps = output_fps(info.fps)
    playlists: dict[str, MediaPlaylist] = {}
    parts: dict[str, RungPart] = {}
    for rung in rungs:
        directory = out_dir / rung.name
        playlist = playlists[rung.name] = load_media_playlist(directory)
        parts[rung.name] = _rung_part(directory, rung, playlist, info, plan, chunk, fps)
    check_alignment(playlists)
    frames = sum(s.duration for s in parts[rungs[-1].name].segments) * fps // parts[rungs[-1].name].timescale
    first_tile, tiles = _check_tiles(out_dir, info, chunk, int(frames), fps) if pictures else (0, 0)
    return ChunkOutput(chunk.index, parts, first_tile, tiles, int(frames))


def _rung_part(directory: Path, rung: Rung, playlist: MediaPlaylist, info: SourceInfo, plan: ChunkPlan, chunk: Chunk,
               fps: Fraction) -> RungPart:
    where = f"chunk {chunk.index}, {rung.name}"
    if not playlist.ended or playlist.map_uri is None:
        raise VerifyFailed(f"{where}: the playlist is incomplete or not fragmented MP4")
    init = (directory / playlist.map_uri).read_bytes()
    timescale = mp4.track_timescale(init)
    ticks = Fraction(timescale) / fps
    if ticks.denominator != 1:
        raise VerifyFailed(f"{where}: a frame lasts {ticks} ticks of {timescale}: not a whole number")
    offset = chunk.start_frame * int(ticks)
    # Encoded from the run-up's first frame, its fragment numbered 1: the chunk's own follow it.
    runup = runup_frames(chunk, plan.segment_frames)
    default = mp4.trex_default_duration(init)
    segments = []
    for number, segment in enumerate(playlist.segments, start=chunk.first_segment):
        expected = f"seg_{number:05d}.m4s"
        if segment.uri != expected:
            raise VerifyFailed(f"{where}: segment {segment.uri} where {expected} belongs")
        path = directory / segment.uri
        data = bytearray(path.read_bytes())
        mp4.shift_fragment(data, offset - runup * int(ticks), chunk.first_segment - (1 if runup else 0))
        path.write_bytes(data)
        timing = mp4.fragment_timing(bytes(data), default)
        segments.append(SegmentPart(segment.uri, len(data), timing.decode_time, timing.duration))
    _check_timing(where, segments, offset, chunk, plan, int(ticks))
    width, height = rung_size(info.width, info.height, rung.height)
    check_video_segment(directory, playlist, rung.name, width, height)
    measured = measure_video(directory)
    return RungPart(measured.codec, measured.width, measured.height, timescale, playlist.map_uri,
                    hashlib.sha256(init).hexdigest(), tuple(segments))


def _check_timing(where: str, segments: list[SegmentPart], offset: int, chunk: Chunk, plan: ChunkPlan,
                  ticks_per_frame: int) -> None:
    """Back to back from the chunk's first frame; a chunk before the last holds exactly its frames."""
    position = offset
    for segment in segments:
        if segment.decode_time != position:
            raise VerifyFailed(f"{where}: {segment.uri} starts at tick {segment.decode_time}, "
                               f"not {position} where the one before it ends")
        position += segment.duration
    if chunk.frames is not None:
        wanted = chunk.frames * ticks_per_frame
        if position - offset != wanted or len(segments) != chunk.frames // plan.segment_frames:
            raise VerifyFailed(f"{where}: {len(segments)} segments of {(position - offset) // ticks_per_frame} "
                               f"frames, expected {chunk.frames // plan.segment_frames} of {chunk.frames}")


def _check_tiles(out_dir: Path, info: SourceInfo, chunk: Chunk, frames: int, fps: Fraction) -> tuple[int, int]:
    every = frames_per_tile(choose_interval(info.duration_s), fps)
    wanted = tiles_of(chunk.start_frame, frames, every)
    found = sorted((out_dir / TILES).glob("tile_*.jpg"))
    names = [path.name for path in found]
    if names != [TILE_PATTERN % n for n in wanted]:
        raise VerifyFailed(f"chunk {chunk.index} made storyboard tiles {names[:3]}…, expected "
                           f"{[TILE_PATTERN % n for n in wanted][:3]}… ({len(wanted)})")
    return wanted.start, len(wanted)
