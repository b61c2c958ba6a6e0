"""Chunked encoding of long sources: how a video is cut into chunks. Pure.

A source longer than ``VIDEOCTL_CHUNK_AFTER_SECONDS`` is encoded in K chunks of
``VIDEOCTL_CHUNK_SECONDS`` each, by K containers at once (a Batch array job, or local
processes), instead of one container from start to end. Chunks are counted in frames of the
ladder's constant output rate, never in seconds: a segment is ``gop_frames`` frames (120 at
29.97 fps for 4 s segments, i.e. 4.004 s), and every chunk is a whole number of segments, so
each chunk starts on a keyframe exactly where a single pass puts one, and its segments take the
numbers a single pass gives them. The last chunk runs to the end of the video, whatever the
probed duration said.

A plan with fewer than two chunks is no plan: the source is encoded in one pass. AWS Batch
takes an array job of 2 to 10,000 children, so a plan never has more than ``MAX_CHUNKS``
chunks: a video that would make more gets longer chunks (whole segments still), not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from videoctl.domain.ladder import gop_frames


class ChunkState(StrEnum):
    """Where one chunk of a chunked attempt stands (a job_chunk row)."""

    #: A try begun, not yet sent (or sent, its executor id not recorded yet).
    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    #: Its runner reported a failure; scan-stuck decides what follows, as for a job.
    FAILED = "FAILED"
    RETRY_WAIT = "RETRY_WAIT"
    #: Its attempt failed or was cancelled: nothing more happens to it.
    ABANDONED = "ABANDONED"


#: AWS Batch's bounds on ``arrayProperties.size`` (SubmitJob refuses others; moto does not):
#: an attempt's chunks are one array job, so a plan has this many chunks at most.
MIN_CHUNKS = 2
MAX_CHUNKS = 10_000


#: The job's progress (percent) over a chunked attempt: the lead's own part up to the first,
#: each chunk that succeeds its share of the way to the second (the fenced counter moves it),
#: the assembly the rest.
PROGRESS_CHUNKS_FROM = 25
PROGRESS_CHUNKS_TO = 94


#: The states of a chunk that still has a future.
UNFINISHED_CHUNK_STATES = frozenset({ChunkState.PENDING, ChunkState.SUBMITTED, ChunkState.RUNNING,
                                     ChunkState.FAILED, ChunkState.RETRY_WAIT})


#: How far before its first frame a chunk's source is opened. ffmpeg takes a seek in whole
#: microseconds, and a first frame that rounding put a fraction of a microsecond before the
#: seek would be dropped; this lead is far below what changes the frame the ``fps`` filter
#: picks for an output instant (a hundredth of a frame at 60 fps would be 170 µs).
SEEK_LEAD = Fraction(1, 100_000)
#: How much more of the source than its frames a chunk reads: the decoder and the ``fps``
#: filter see what follows its last frame, as in one pass, and the trim cuts the rest.
READ_MARGIN_S = 1


#: x264's ``rc-lookahead`` of each preset (``x264 --fullhelp``): how many frames ahead its
#: frame-type decisions and macroblock tree look.
X264_LOOKAHEAD = {"ultrafast": 0, "superfast": 0, "veryfast": 10, "faster": 20, "fast": 30, "medium": 40,
                  "slow": 50, "slower": 60, "veryslow": 60, "placebo": 60}


def tail_frames(preset: str, segment_frames: int) -> int:
    """How many frames past its end a chunk that is not the last encodes, then throws away.

    x264 codes a stream's last frames knowing nothing follows them; one pass codes the same
    frames seeing the next keyframe and its lookahead beyond. A chunk that ended with its own
    frames made its last frames worse than one pass's (measured on the suite's lecture at
    veryfast: the frame before a boundary 0.5 VMAF lower, 3.2 below its segment's median);
    fed the next segment's first ``rc-lookahead`` frames too, it codes them as one pass does.
    At least one frame (the next keyframe), the longest lookahead for an unknown preset; at
    most a segment, so that the tail is one segment, the one thrown away."""
    return min(segment_frames, max(1, X264_LOOKAHEAD.get(preset, max(X264_LOOKAHEAD.values()))))


#: How many frames before its first a chunk (not the first) starts encoding, then throws away.
RUNUP_FRAMES = 10


def runup_frames(chunk: Chunk, segment_frames: int) -> int:
    """The frames before ``chunk`` it encodes first and throws away: x264's rate control
    starts afresh with each encode, and a chunk that started on its own first frame coded its
    first keyframe with fewer bits than one pass gives it there (measured on the suite's
    lecture at veryfast: each chunk's first keyframe 1.0 to 2.2 VMAF below one pass's, its
    first segment's mean up to 0.5 lower). Ten frames of run-up (the keyframe it starts with,
    then one forced on the chunk's first frame) bring both within 0.55 and 0.15 of one pass,
    at 20 frames' encode per chunk with the tail: 1 % of a one-minute chunk. None for the first
    chunk, which starts where one pass starts; at most a segment, so that the run-up is one
    segment, the one thrown away."""
    return min(RUNUP_FRAMES, chunk.start_frame, segment_frames)


@dataclass(frozen=True)
class Seek:
    """How a chunk opens the source: decimal strings as ffmpeg takes them."""

    #: ``-ss`` of the input; None from the start.
    input_s: str | None
    #: The ``fps`` filter's ``start_time``: where the chunk's first frame lies after the seek.
    fps_start_s: str
    #: ``-t`` of the input; None to the end.
    read_s: str | None


def chunk_seconds_problem(chunk_s: int, segment_s: int) -> str | None:
    """Why ``chunk_s`` cannot be the chunk length with ``segment_s`` segments, or None."""
    if chunk_s < segment_s or chunk_s % segment_s:
        return (f"must be a multiple of VIDEOCTL_SEGMENT_SECONDS ({segment_s}), got {chunk_s}: "
                "a chunk is a whole number of segments, so every chunk starts on a segment's keyframe")
    return None


@dataclass(frozen=True)
class Chunk:
    """One chunk: the frames it encodes and the number of its first segment."""

    index: int
    start_frame: int
    #: None for the last chunk, which runs to the end of the video.
    frames: int | None
    first_segment: int

    def start_s(self, fps: Fraction) -> Fraction:
        """Where the chunk starts in the source, exactly (a multiple of a frame's duration)."""
        return self.start_frame / fps

    def duration_s(self, fps: Fraction) -> Fraction | None:
        return None if self.frames is None else self.frames / fps

    def seek(self, fps: Fraction, *, tail_frames: int = 0, runup_frames: int = 0) -> Seek:
        """Open the source just before the chunk's first frame, in whole microseconds, and
        start the ``fps`` filter's clock exactly at that frame: output frame n of the chunk is
        then the source frame one pass picks for frame ``start_frame + n``. ``tail_frames``:
        the frames after the chunk it reads too (:func:`tail_frames`); ``runup_frames``, the
        frames before it (:func:`runup_frames`): the source is opened at the first of those."""
        duration = self.duration_s(fps)
        read = None if duration is None else _decimal(duration + (tail_frames + runup_frames) / fps
                                                      + READ_MARGIN_S + SEEK_LEAD)
        start = Fraction(self.start_frame - runup_frames) / fps
        if start == 0:
            return Seek(None, "0", read)
        opened = Fraction(math.floor(max(start - SEEK_LEAD, 0) * 1_000_000), 1_000_000)
        return Seek(_decimal(opened), _decimal(start - opened, places=9), read)


@dataclass(frozen=True)
class ChunkPlan:
    """The chunks of one attempt, and the constants they were cut with."""

    fps: Fraction
    segment_frames: int
    chunk_frames: int
    chunks: tuple[Chunk, ...]

    @property
    def count(self) -> int:
        return len(self.chunks)

    def chunk(self, index: int) -> Chunk:
        if not 0 <= index < len(self.chunks):
            raise IndexError(f"chunk {index} is not one of the plan's {len(self.chunks)} chunks (0 to {len(self.chunks) - 1})")
        return self.chunks[index]

    def to_dict(self) -> dict[str, Any]:
        """The stored form (the job's ``chunking`` column): every chunk reads it back."""
        return {"fps": [self.fps.numerator, self.fps.denominator], "segment_frames": self.segment_frames,
                "chunk_frames": self.chunk_frames, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkPlan:
        numerator, denominator = data["fps"]
        return _plan(Fraction(numerator, denominator), int(data["segment_frames"]), int(data["chunk_frames"]),
                     int(data["count"]))


def plan_chunks(duration_s: float, fps: Fraction, *, segment_s: int, chunk_s: int,
                chunk_after_s: float) -> ChunkPlan | None:
    """The chunks of a ``duration_s`` video at ``fps`` (the ladder's output rate), or None for one pass.

    None when the video is not longer than ``chunk_after_s`` or would make fewer than two
    chunks (one chunk is one pass, never an array of one). Chunks are made longer than
    ``chunk_s`` (by whole multiples of it) when there would be more than ``MAX_CHUNKS``. A last chunk shorter than one segment is joined to the one before it, so a
    duration probed a frame too long never makes a chunk with nothing in it.
    """
    problem = chunk_seconds_problem(chunk_s, segment_s)
    if problem is not None:
        raise ValueError(f"chunk length {problem}")
    if not duration_s > chunk_after_s:
        return None
    segment_frames = gop_frames(fps, segment_s)
    chunk_frames = segment_frames * (chunk_s // segment_s)
    total_frames = round(duration_s * fps)
    count = math.ceil(total_frames / chunk_frames)
    if count > MAX_CHUNKS:  # longer chunks, by whole segments, rather than an array Batch refuses
        chunk_frames *= math.ceil(count / MAX_CHUNKS)
        count = math.ceil(total_frames / chunk_frames)
    if count > 1 and total_frames - (count - 1) * chunk_frames < segment_frames:
        count -= 1
    if count < MIN_CHUNKS:
        return None
    return _plan(fps, segment_frames, chunk_frames, count)


def _plan(fps: Fraction, segment_frames: int, chunk_frames: int, count: int) -> ChunkPlan:
    chunks = tuple(Chunk(index, index * chunk_frames, chunk_frames if index < count - 1 else None,
                         index * chunk_frames // segment_frames)
                   for index in range(count))
    return ChunkPlan(fps, segment_frames, chunk_frames, chunks)


def _decimal(value: Fraction, places: int = 6) -> str:
    """``value`` as a decimal string, rounded down to ``places`` places (ffmpeg's time syntax)."""
    scaled = math.floor(value * 10**places)
    return f"{scaled // 10**places}.{scaled % 10**places:0{places}d}"

