"""Caption tracks: read sidecar files, extract the text subtitles of a source, package them beside the ladder.

At encode time :func:`package_captions` collects one track per language, the sidecars
given at ``video add`` first (in their order) and then the text subtitle streams of the
source (SRT/ASS in Matroska, mov_text in MP4, WebVTT), extracted as WebVTT by one ffmpeg
process that decodes no video. A sidecar wins over an embedded track of the same language,
and of several embedded tracks of one language the first is taken. Bitmap subtitles (DVD,
Blu-ray PGS, DVB) are not text and are left out.

Each language is written into the ladder's output directory as ``subs/{lang}.m3u8`` with
its segments ``subs/{lang}/{n}.vtt`` (HLS) and the whole track ``subs/{lang}.vtt`` (DASH),
and described by a :class:`~videoctl.domain.outputs.SubtitleRendition` for the master and
MPD writers; the first sidecar is the DEFAULT, and without sidecars no track is.

Cues must lie within the video: one running past the end is cut at the end, and one
starting at or after the end, which no player could ever show, is dropped with a warning
(a credits line after the picture ends is common and no reason to fail an encode). A track
left without cues is not packaged. :func:`verify_captions` then reads back what was
written: every playlist complete and covering the duration, every segment readable WebVTT
with its timestamp map, every cue within [0, duration]; anything else is ``verify_failed``.
"""

from __future__ import annotations

import io
import logging
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import av
import av.error

from videoctl.domain import captions
from videoctl.domain.captions import Cue
from videoctl.domain.errors import InvalidInput, MediaError, VerifyFailed
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.m3u8 import parse_attributes, parse_media_playlist
from videoctl.media.manifests import read_manifest
from videoctl.media.probe import SourceInfo
from videoctl.media.source_input import input_args, open_source
from videoctl.media.text_encoding import decode_caption_bytes

log = logging.getLogger(__name__)

#: A caption file larger than this is not captions (a feature film's SRT is about 100 KiB).
MAX_CAPTION_BYTES = 10 * 1024 * 1024
#: Subtitle codecs (as PyAV names them) that carry text ffmpeg can write as WebVTT.
TEXT_SUBTITLE_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"})
#: What a caption file is uploaded as.
CONTENT_TYPE = "text/vtt"
#: How many leading video packets are read to find the first presentation time (with B-frames
#: the first picture shown is not the first decoded).
_START_SAMPLE = 16
#: The playlists' durations are written to the millisecond.
_DURATION_TOLERANCE_S = 0.002
_STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class Track:
    """One language's cues and where they came from."""

    language: str
    cues: tuple[Cue, ...]
    #: "sidecar", or "stream N" of the source.
    origin: str

    @property
    def is_sidecar(self) -> bool:
        return self.origin == "sidecar"


@dataclass(frozen=True)
class EmbeddedStream:
    """A text subtitle stream of the source."""

    index: int
    codec: str
    language: str


def read_caption_file(path: Path, what: str) -> list[Cue]:
    """The cues of a local SRT or WebVTT file in any encoding :mod:`~videoctl.media.text_encoding`
    decides; InvalidInput saying what is wrong with it."""
    if not path.exists():
        raise InvalidInput(f"{what}: file not found")
    if not path.is_file():
        raise InvalidInput(f"{what}: not a regular file")
    size = path.stat().st_size
    if size > MAX_CAPTION_BYTES:
        raise InvalidInput(f"{what}: {size} bytes is too large for captions (at most {MAX_CAPTION_BYTES})")
    decoded = decode_caption_bytes(path.read_bytes(), what)
    if decoded.encoding != "UTF-8":
        log.info("caption file converted to UTF-8", extra={"file": what, "encoding": decoded.encoding})
    return captions.parse_captions(decoded.text, what)


# ---------------------------------------------------------------- collecting


def embedded_text_streams(src: Path) -> list[EmbeddedStream]:
    """The source's text subtitle streams, in stream order, each with its language ("und" if unnamed)."""
    try:
        with open_source(src) as container:
            return [EmbeddedStream(stream.index, stream.codec_context.name,
                                   captions.language_from_metadata(stream.metadata.get("language")))
                    for stream in container.streams.subtitles
                    if stream.codec_context is not None and stream.codec_context.name in TEXT_SUBTITLE_CODECS]
    except av.error.FFmpegError as exc:
        raise MediaError(f"the source's subtitle streams cannot be listed ({exc.strerror})") from None


def extract_streams(ffmpeg_bin: str, src: Path, streams: list[EmbeddedStream], workdir: Path) -> dict[int, Path]:
    """Each stream written as WebVTT by one ffmpeg process: stream index → file."""
    if not streams:
        return {}
    outputs = {stream.index: workdir / f"stream-{stream.index}.vtt" for stream in streams}
    args = [ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-y", *input_args(src)]
    for index, path in outputs.items():
        args += ["-map", f"0:{index}", "-c:s", "webvtt", "-f", "webvtt", str(path)]
    try:
        result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    except OSError as exc:
        raise MediaError(f"cannot start ffmpeg {ffmpeg_bin!r}: {exc.strerror}") from None
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-_STDERR_TAIL_LINES:])
        raise MediaError(f"ffmpeg could not extract the source's subtitles (exit {result.returncode}):\n{tail}")
    return outputs


def collect_tracks(ffmpeg_bin: str, src: Path, sidecars: Mapping[str, Path], workdir: Path) -> list[Track]:
    """One track per language: the sidecars in their order, then the source's own text subtitles."""
    tracks = [Track(language, tuple(read_caption_file(path, f"captions {language!r}")), "sidecar")
              for language, path in sidecars.items()]
    taken = {track.language for track in tracks}
    wanted = []
    for stream in embedded_text_streams(src):
        if stream.language in taken:
            log.info("subtitle stream left out: its language has a track already",
                     extra={"stream": stream.index, "language": stream.language})
            continue
        taken.add(stream.language)
        wanted.append(stream)
    extracted = extract_streams(ffmpeg_bin, src, wanted, workdir)
    for stream in wanted:
        what = f"subtitle stream {stream.index} ({stream.codec}, {stream.language})"
        try:
            cues = read_caption_file(extracted[stream.index], what)
        except InvalidInput as exc:
            # The upload was accepted and plays; a subtitle stream ffmpeg made nothing of is left out.
            log.warning("subtitle stream left out", extra={"stream": stream.index, "reason": exc.message})
            continue
        tracks.append(Track(stream.language, tuple(cues), f"stream {stream.index}"))
    return tracks


# ---------------------------------------------------------------- packaging


def ladder_start_s(video_playlist: Path) -> float:
    """When the ladder shows its first picture, on its own clock: the instant the source's time 0
    became. Read from the first segment of *video_playlist* (one video rendition's media playlist).

    MPEG-TS: the first picture's presentation time. ffmpeg's muxer starts the programme at
    1.4 s and shifts the video by the AAC encoder's priming too (about 1.421 s, MPEGTS 127920),
    and hls.js puts the first picture at 0 by subtracting it. fMP4 (``EXT-X-MAP``): the first
    fragment's decode time. ffmpeg writes an edit list that takes the B-frame reordering delay
    back out, so browsers show the first picture at that decode time, and hls.js anchors its
    timeline on it too (a player honouring the whole edit list shows it two frames later).
    """
    text = video_playlist.read_text(encoding="utf-8")
    playlist = parse_media_playlist(text, video_playlist.name)
    if not playlist.segments:
        raise VerifyFailed(f"{video_playlist.name} lists no segment to read the ladder's start from")
    init = [parse_attributes(line.partition(":")[2]).get("URI", "") for line in text.splitlines()
            if line.startswith("#EXT-X-MAP:")]
    data = (video_playlist.parent / init[0]).read_bytes() if init else b""
    data += (video_playlist.parent / playlist.segments[0].uri).read_bytes()
    try:
        with av.open(io.BytesIO(data), options={"ignore_editlist": "1"} if init else {}) as container:
            if not container.streams.video:
                raise VerifyFailed(f"{video_playlist.name}: its first segment holds no video")
            stream = container.streams.video[0]
            packets = [packet for packet in islice(container.demux(stream), _START_SAMPLE)
                       if packet.pts is not None and packet.dts is not None]
    except av.error.FFmpegError as exc:
        raise VerifyFailed(f"{video_playlist.name}: its first segment cannot be read ({exc.strerror})") from None
    if not packets:
        raise VerifyFailed(f"{video_playlist.name}: its first segment holds no timed video packet")
    if init:
        return float(packets[0].dts * packets[0].time_base)
    return float(min(packet.pts * packet.time_base for packet in packets))


def package_captions(ffmpeg_bin: str, src: Path, sidecars: Mapping[str, Path], out_dir: Path, info: SourceInfo, *,
                     segment_s: int, video_playlist: Path | None = None,
                     start_s: float | None = None) -> list[SubtitleRendition]:
    """Collect the caption tracks (sidecars, then the source's own), write them into *out_dir*
    beside the ladder, verify them, and describe them for the master playlist and the MPD.

    *sidecars* maps language → local WebVTT/SRT file, in the order given (the first is the
    DEFAULT). *video_playlist* is one video rendition's media playlist in *out_dir*, already
    encoded: its first segment says where the source's time 0 is on the ladder's clock.
    *start_s* says it instead when the ladder is not encoded yet (a chunked video's fMP4
    ladder starts at decode time 0, as its first chunk is encoded from the source's start).
    Call it while *src* still exists. No tracks → no files, an empty list.
    """
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="captions-", dir=out_dir.parent) as tmp:
        tracks = collect_tracks(ffmpeg_bin, src, sidecars, Path(tmp))
    if not tracks:
        return []
    if start_s is None:
        if video_playlist is None:
            raise ValueError("package_captions needs the ladder's video playlist or its start")
        start_s = ladder_start_s(video_playlist)
    duration_ms = round(info.duration_s * 1000)
    renditions: list[SubtitleRendition] = []
    for track in tracks:
        cues, dropped = captions.fit_to_duration(track.cues, duration_ms)
        if dropped:
            log.warning("captions starting after the end of the video dropped",
                        extra={"language": track.language, "origin": track.origin, "dropped": len(dropped),
                               "first_dropped_s": dropped[0].start_ms / 1000, "duration_s": duration_ms / 1000})
        if not cues:
            log.warning("caption track left out: no cue within the video",
                        extra={"language": track.language, "origin": track.origin})
            continue
        files = captions.package_track(track.language, cues, duration_ms=duration_ms, segment_ms=segment_s * 1000,
                                       start_s=start_s)
        for relative, text in files.items():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        default = track.is_sidecar and not renditions
        renditions.append(SubtitleRendition(
            language=track.language, name=captions.language_name(track.language), default=default,
            playlist=captions.playlist_path(track.language), vtt=captions.track_path(track.language)))
    verify_captions(out_dir, renditions, info.duration_s)
    log.info("captions packaged", extra={"languages": [r.language for r in renditions], "start_s": start_s})
    return renditions


# ---------------------------------------------------------------- verification


def verify_captions(out_dir: Path, renditions: list[SubtitleRendition], duration_s: float) -> None:
    """Read back every caption file of *renditions*; VerifyFailed unless each playlist is complete
    and covers *duration_s*, and every segment and whole track is WebVTT with cues inside it."""
    out_dir = Path(out_dir)
    duration_ms = round(duration_s * 1000)
    for rendition in renditions:
        playlist_file = out_dir / rendition.playlist
        playlist = parse_media_playlist(read_manifest(playlist_file, rendition.playlist), rendition.playlist)
        if not playlist.ended or not playlist.segments:
            raise VerifyFailed(f"{rendition.playlist}: incomplete (no segments or no #EXT-X-ENDLIST)")
        if abs(playlist.duration_s - duration_s) > _DURATION_TOLERANCE_S * len(playlist.segments):
            raise VerifyFailed(f"{rendition.playlist}: its segments last {playlist.duration_s:.3f} s, "
                               f"the video {duration_s:.3f} s")
        for segment in playlist.segments:
            name = f"{rendition.playlist} segment {segment.uri}"
            vtt = _read_vtt(playlist_file.parent / segment.uri, name)
            if not any(line.startswith("X-TIMESTAMP-MAP=") for line in vtt.header):
                raise VerifyFailed(f"{name}: no X-TIMESTAMP-MAP header, so players cannot place its cues")
            _check_within(vtt.cues, duration_ms, name)
        whole = _read_vtt(out_dir / rendition.vtt, rendition.vtt)
        if not whole.cues:
            raise VerifyFailed(f"{rendition.vtt} holds no cue")
        _check_within(whole.cues, duration_ms, rendition.vtt)


def _read_vtt(path: Path, what: str) -> captions.WebVtt:
    try:
        return captions.read_webvtt(read_manifest(path, what), what)
    except InvalidInput as exc:
        raise VerifyFailed(exc.message) from None


def _check_within(cues: tuple[Cue, ...], duration_ms: int, what: str) -> None:
    for cue in cues:
        if cue.start_ms < 0 or cue.end_ms > duration_ms:
            raise VerifyFailed(f"{what}: a cue from {cue.start_ms / 1000:.3f} s to {cue.end_ms / 1000:.3f} s lies "
                               f"outside the video (0 to {duration_ms / 1000:.3f} s)")
