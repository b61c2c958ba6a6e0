"""Probe an uploaded source with PyAV before spending CPU on it.

``probe`` answers two questions: is this a video we can encode (if not, ``InvalidInput``
with a reason an operator can act on — the job goes straight to DEAD, retrying cannot
help), and what does the encoder need to know about it (``SourceInfo``).

It never loads the file: it reads the header, demuxes (without decoding) the first
packets and the last couple of seconds, and decodes one video frame. Decoding a frame
catches files whose header is fine but whose data is not; reading the tail catches
uploads cut off after a front-loaded MP4 index.

Decisions:

- Audio-only uploads are refused ("audio-only uploads are not supported: no video
  stream"). The platform serves video; an audio-only HLS ladder would need its own player
  and poster handling. A cover image attached to an audio file does not count as video.
- The source is opened only as one of the allowed containers (``media.source_input``,
  ``domain.containers``): a playlist or a list of other files (HLS, DASH, concat, an image
  sequence) is refused, and so are still images (PNG, JPEG, … demuxers), which have no
  duration to play.
- A container that does not declare its duration (e.g. WebM written by a browser's
  MediaRecorder, Matroska written to a pipe) is accepted: the duration is measured by
  demuxing the whole file, which reads it once but decodes nothing.
- Formats whose timestamps may jump (MPEG-TS and MPEG-PS: two recordings joined, a
  camcorder's clips concatenated) declare the span from first to last timestamp, which
  for a jump of an hour is an hour. ffmpeg closes such jumps when it encodes, so their
  duration is measured from every packet the way ffmpeg will see them (``TIMESTAMP_JUMP_S``):
  the real content length, which the ladder then matches.
- Displayed dimensions take the sample aspect ratio and the rotation into account, so the
  ladder is computed for what the viewer sees.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import av.error
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from videoctl.domain.audio import AudioRendition, AudioTrack, renditions
from videoctl.domain.errors import InvalidInput
from videoctl.media.source_input import open_source

MIN_SIDE = 16
MAX_SIDE = 8192

#: How many leading video packets are sampled to guess whether the frame rate varies.
_VFR_SAMPLE = 120
#: Packets at the end of the sample may be missing neighbours that B-frame reordering put
#: after the sample; their gaps would look like a frame-rate change.
_REORDER_SLACK = 8
#: How much of the end of the file is read back to check that it is all there.
_TAIL_S = 2.0
#: How far the data may end before the declared duration without counting as truncated:
#: muxers round durations and streams end a few frames apart, but a cut-off upload loses far more.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_RATIO = 0.01
#: Rates above this from the container's guess are timebase artefacts, not frame rates.
_MAX_PLAUSIBLE_FPS = 240.0
#: Transfer characteristics of HDR video (SMPTE ST 2084 / PQ and ARIB STD-B67 / HLG).
_HDR_TRANSFERS = frozenset({16, 18})
#: A gap between two packets of a stream longer than this, in a format whose timestamps
#: may jump, is a discontinuity, not content: ffmpeg's ``-dts_delta_threshold`` (its
#: default; the encoder passes it explicitly so both sides agree).
TIMESTAMP_JUMP_S = 10.0
#: ffmpeg also treats a stream's timestamps going back by more than this as a discontinuity.
_TIMESTAMP_STEP_BACK_S = 0.1
#: AVFMT_TS_DISCONT: the format allows timestamp discontinuities (mpegts, mpeg, hls).
_AVFMT_TS_DISCONT = 0x0200
#: A format that allows discontinuities has jumped when its timestamps span more (or less)
#: than its content by this much: far above a frame, far below ``TIMESTAMP_JUMP_S``.
_JUMPED_SPAN_S = 1.0


@dataclass(frozen=True)
class SourceInfo:
    """What the encoder needs to know about a source. Dimensions are as displayed."""

    duration_s: float
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int
    #: Nominal frame rate: the average rate, or for variable-frame-rate sources the
    #: container's base rate when plausible, so fast passages keep their motion.
    fps: float
    is_vfr: bool
    has_audio: bool
    video_codec: str
    pix_fmt: str
    bit_depth: int
    audio_codec: str | None
    size_bytes: int
    audio_channels: int = 0
    #: PQ or HLG transfer: the encoder tone-maps to SDR BT.709 for the 8-bit ladder.
    is_hdr: bool = False
    #: Absolute stream indexes, so the encoder maps the stream probed here, not a cover image.
    video_stream_index: int = 0
    audio_stream_index: int | None = None
    #: Its timestamps jump (recordings joined in an MPEG-TS): the encode closes the jumps, so a
    #: time in the ladder is not the same time in the file, and cannot be found by seeking to it.
    timestamps_jump: bool = False
    #: Every audio stream, in the source's order (``domain.audio`` makes each a rendition).
    audio_tracks: tuple[AudioTrack, ...] = ()
    #: A container whose timestamps may jump (MPEG-TS, MPEG-PS): its time cannot be sought
    #: reliably, so a long one is encoded in one pass, never in chunks.
    timestamps_may_jump: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A stored form: a chunked video's chunks and assembler use the lead's probe."""
        return {**asdict(self), "audio_tracks": [asdict(track) for track in self.audio_tracks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceInfo:
        return cls(**{**data, "audio_tracks": tuple(AudioTrack(**track) for track in data["audio_tracks"])})

    @property
    def audio_renditions(self) -> tuple[AudioRendition, ...]:
        """The ladder's audio renditions, the default track's first (none for a silent source)."""
        if not self.has_audio:
            return ()
        tracks = self.audio_tracks or (AudioTrack(index=self.audio_stream_index or 0, channels=self.audio_channels,
                                                  sample_rate=0, default=True),)
        return renditions(tracks)

    @property
    def short_side(self) -> int:
        """The displayed short side, on which the ladder's rungs are keyed (720 for 720x1280)."""
        return min(self.width, self.height)


def probe(path: Path | str) -> SourceInfo:
    """Inspect ``path``; raise InvalidInput if it is not an encodable video."""
    path = Path(path)
    size = source_size(path)
    with open_source(path) as container:  # InvalidInput for a container that is not allowed
        return _inspect(container, path, size)


def source_size(path: Path) -> int:
    """The size of a file that can be a source, or InvalidInput saying why it cannot."""
    if not path.exists():
        raise InvalidInput(f"source file not found: {path.name}")
    if not path.is_file():
        raise InvalidInput(f"source is not a regular file: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise InvalidInput("the source file is empty (0 bytes): the upload has no content")
    return size


def _inspect(container: InputContainer, path: Path, size: int) -> SourceInfo:
    video = _video_stream(container)
    audio = _audio_stream(container)
    head = _read_head(container, video)
    frame = head.frame
    jumps_possible = bool(container.format.flags & _AVFMT_TS_DISCONT)
    timestamps_jump = False
    if jumps_possible:
        duration_s = continuous_duration(path, [stream.index for stream in (video, audio) if stream is not None])
        # The span of the timestamps is the content's, give or take a frame, unless they jump.
        span_s = container.duration / av.time_base if container.duration else None
        timestamps_jump = span_s is None or abs(span_s - duration_s) > _JUMPED_SPAN_S
    else:
        duration_s = _duration(container, head.end_s)

    coded_w, coded_h = frame.width, frame.height
    _check_dimensions(coded_w, coded_h)
    rotation = round((frame.rotation or 0) / 90) * 90 % 360
    displayed_w = round(coded_w * _sample_aspect_ratio(video))
    width, height = (coded_h, displayed_w) if rotation in (90, 270) else (displayed_w, coded_h)
    _check_dimensions(width, height)

    # In a format whose timestamps may jump, a jump is not a frame interval.
    max_delta = _ticks(TIMESTAMP_JUMP_S, video) if jumps_possible else None
    is_vfr = _looks_vfr(head.pts, max_delta)
    fps = _nominal_fps(video, head.pts, is_vfr, max_delta)
    audio_ctx = audio.codec_context if audio is not None else None
    return SourceInfo(
        duration_s=duration_s,
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        fps=fps,
        is_vfr=is_vfr,
        has_audio=audio is not None,
        video_codec=video.codec_context.name,
        pix_fmt=frame.format.name,
        bit_depth=frame.format.components[0].bits,
        audio_codec=audio_ctx.name if audio_ctx is not None else None,
        size_bytes=size,
        audio_channels=audio_ctx.channels if audio_ctx is not None else 0,
        is_hdr=frame.color_trc in _HDR_TRANSFERS,
        video_stream_index=video.index,
        audio_stream_index=audio.index if audio is not None else None,
        timestamps_jump=timestamps_jump,
        audio_tracks=tuple(_audio_track(track, track is audio) for track in container.streams.audio),
        timestamps_may_jump=jumps_possible,
    )


def _video_stream(container: InputContainer) -> VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    if container.streams.audio:
        raise InvalidInput("audio-only uploads are not supported: no video stream")
    raise InvalidInput("the file contains no video stream")


def _audio_stream(container: InputContainer) -> AudioStream | None:
    """The track a player would pick: the one flagged default (a second language or a
    commentary may come first), else the first. It is the ladder's default audio track."""
    tracks = container.streams.audio
    return next((t for t in tracks if t.disposition & Disposition.default), tracks[0] if tracks else None)


def _audio_track(stream: AudioStream, default: bool) -> AudioTrack:
    context = stream.codec_context
    tags = stream.metadata or {}
    title = (tags.get("title") or "").strip() or None
    return AudioTrack(index=stream.index, channels=context.channels, sample_rate=context.sample_rate,
                      language=(tags.get("language") or "").strip() or None, title=title, default=default,
                      describes_video=bool(stream.disposition & Disposition.visual_impaired))


@dataclass
class _Head:
    """What reading the start of the video stream found."""

    frame: VideoFrame
    pts: list[int]
    end_s: float


def _read_head(container: InputContainer, video: VideoStream) -> _Head:
    """Decode the first video frame and collect the first packets' timestamps."""
    pts: list[int] = []
    end_s = 0.0
    frame: VideoFrame | None = None
    try:
        for packet in container.demux(video):
            end_s = max(end_s, _packet_end(packet))
            if packet.pts is not None:
                pts.append(packet.pts)
            if frame is None:
                # The empty packet demux yields at end of file flushes the decoder.
                decoded = packet.decode()
                frame = decoded[0] if decoded else None
            if frame is not None and len(pts) >= _VFR_SAMPLE:
                break
    except av.error.FFmpegError as exc:
        raise InvalidInput(f"the video data cannot be decoded, the file is damaged ({exc.strerror})") from None
    if frame is None:
        raise InvalidInput("no video frame could be decoded: the file is truncated or damaged")
    return _Head(frame=frame, pts=pts, end_s=end_s)


def _duration(container: InputContainer, head_end_s: float) -> float:
    """Declared duration, verified against the tail; measured when nothing is declared.

    An MP4 with its index in front declares the full duration even when the upload was
    cut off, so the last seconds are demuxed to prove the data is really there. Without
    a declared duration the whole file is demuxed (read, not decoded) to measure it.
    """
    start = (container.start_time or 0) / av.time_base
    declared = container.duration / av.time_base if container.duration else None
    resume_at = start + max(0.0, declared - _TAIL_S) if declared is not None else start
    try:
        container.seek(int(resume_at * av.time_base))
    except av.error.FFmpegError:
        pass  # not seekable: keep demuxing from where the head left off
    measured = max(head_end_s, _last_timestamp(container)) - start
    if declared is None:
        if measured <= 0:
            raise InvalidInput("the video has zero or unknown duration")
        return measured
    if declared <= 0:
        raise InvalidInput("the video has zero duration")
    if measured < declared - max(_TRUNCATION_SLACK_S, _TRUNCATION_SLACK_RATIO * declared):
        raise InvalidInput(
            f"the file is truncated: it declares {declared:.1f} s but its data ends at "
            f"{max(measured, 0.0):.1f} s, typically because the upload was cut off"
        )
    return declared


def _last_timestamp(container: InputContainer) -> float:
    """End time in seconds of the last packet read from here to the end of the file."""
    end_s = 0.0
    try:
        for packet in container.demux():
            end_s = max(end_s, _packet_end(packet))
    except av.error.FFmpegError as exc:
        raise InvalidInput(f"the file is damaged near its end ({exc.strerror})") from None
    return end_s


def _packet_end(packet: av.Packet) -> float:
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None or packet.time_base is None:
        return 0.0
    return float((ts + (packet.duration or 0)) * packet.time_base)


def _check_dimensions(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidInput(
            f"unsupported dimensions {width}x{height}: each side must be between {MIN_SIDE} and {MAX_SIDE} pixels"
        )


def _sample_aspect_ratio(video: VideoStream) -> Fraction:
    # Like ffmpeg: the container's value wins over the bitstream's; 0/unset means square.
    for sar in (video.sample_aspect_ratio, video.codec_context.sample_aspect_ratio):
        if sar:
            return Fraction(sar)
    return Fraction(1)


def _ticks(seconds: float, video: VideoStream) -> int | None:
    return int(seconds / video.time_base) if video.time_base else None


def _sorted_deltas(pts: list[int], max_delta: int | None = None) -> list[int]:
    ordered = sorted(set(pts))
    if len(ordered) > 2 * _REORDER_SLACK:
        ordered = ordered[:-_REORDER_SLACK]
    deltas = [b - a for a, b in pairwise(ordered)]
    return [delta for delta in deltas if max_delta is None or delta <= max_delta]


def _looks_vfr(pts: list[int], max_delta: int | None = None) -> bool:
    """Best effort: frame intervals in the first packets differ by more than rounding."""
    deltas = _sorted_deltas(pts, max_delta)
    return len(deltas) >= 2 and max(deltas) > 1.5 * min(deltas)


def _nominal_fps(video: VideoStream, head_pts: list[int], is_vfr: bool, max_delta: int | None = None) -> float:
    average = float(video.average_rate) if video.average_rate else 0.0
    guessed = float(video.guessed_rate) if video.guessed_rate else 0.0
    if is_vfr and average <= guessed <= _MAX_PLAUSIBLE_FPS:
        return guessed
    if 0 < average <= _MAX_PLAUSIBLE_FPS:
        return average
    if 0 < guessed <= _MAX_PLAUSIBLE_FPS:
        return guessed
    deltas = _sorted_deltas(head_pts, max_delta)
    if deltas and video.time_base:
        return 1.0 / float(statistics.median(deltas) * video.time_base)
    raise InvalidInput("the video's frame rate cannot be determined")


@dataclass(frozen=True)
class PacketTiming:
    """A packet's stream and its timestamps and duration in seconds, in file order."""

    stream: int
    dts: float
    pts: float | None
    duration: float


def continuous_duration(path: Path, stream_indexes: list[int]) -> float:
    """The content duration of ``path``'s streams with timestamp jumps closed, as ffmpeg closes them.

    ffmpeg's demuxer, for formats that allow discontinuities, compares each packet's
    decoding timestamp with the one it predicted for its stream (the previous packet's
    plus its duration). A difference above ``TIMESTAMP_JUMP_S``, or a step back of more
    than 0.1 s, shifts that packet and every later one of the file onto the prediction, so
    the recordings play back to back. The same arithmetic here, over every packet of the
    streams the ladder maps (read, not decoded), gives the length of the ladder ffmpeg makes.
    """
    try:
        with open_source(path) as container:
            streams = [container.streams[index] for index in stream_indexes]
            return close_timestamp_jumps(_timings(container.demux(streams)))
    except av.error.FFmpegError as exc:
        raise InvalidInput(f"the file is damaged ({exc.strerror})") from None


def _timings(packets: Iterable[av.Packet]) -> Iterator[PacketTiming]:
    for packet in packets:
        if packet.dts is None or packet.time_base is None:
            continue  # the empty packet that ends each stream, or one without timing
        base = packet.time_base
        yield PacketTiming(
            stream=packet.stream.index,
            dts=float(packet.dts * base),
            pts=float(packet.pts * base) if packet.pts is not None else None,
            duration=float((packet.duration or 0) * base),
        )


def close_timestamp_jumps(packets: Iterable[PacketTiming]) -> float:
    """Duration of packets played as ffmpeg plays them, every timestamp jump closed (pure)."""
    offset = 0.0
    next_dts: dict[int, float] = {}
    last_dts: dict[int, float] = {}
    last_any: float | None = None
    start, end = math.inf, -math.inf
    for packet in packets:
        dts = packet.dts + offset
        predicted = next_dts.get(packet.stream)
        if predicted is not None:
            if abs(dts - predicted) > TIMESTAMP_JUMP_S or dts + _TIMESTAMP_STEP_BACK_S < last_dts[packet.stream]:
                offset -= dts - predicted
                dts = predicted
        elif last_any is not None and abs(dts - last_any) > TIMESTAMP_JUMP_S:
            # A stream's first packet far from the file's last one: the same jump.
            offset -= dts - last_any
            dts = last_any
        pts = packet.pts + offset if packet.pts is not None else dts
        next_dts[packet.stream], last_dts[packet.stream], last_any = dts + packet.duration, dts, dts
        start, end = min(start, pts), max(end, pts + packet.duration)
    if end <= start:
        raise InvalidInput("the video has zero or unknown duration")
    return end - start
