"""Encode a source into an HLS ladder with ONE ffmpeg process.

Why one process (docs/encoding.md has the measurements): the source is decoded once,
``split`` feeds a cascade of scalers (1080 → 720 → 480 → 360, each rung scaled from the
one above, which costs no quality), and audio is encoded once into a shared audio group.
On 2 CPUs that is about 1.6× faster than one ffmpeg per rendition, whose argv
``build_rendition_args`` still builds as the benchmark's baseline.

Threads follow the CPU budget of the container (``media.cpus``): ``domain.threads`` gives
each rung's x264 threads in proportion to its pixel rate, plus the decoder's and the
filter graph's. On 2 CPUs that is x264 2/1/1/1.

Output rules, whatever the source:

- Progressive: frames flagged interlaced are deinterlaced (``bwdif``), others untouched.
- H.264 8-bit 4:2:0 (``format=yuv420p``); HDR (PQ/HLG) sources are tone-mapped to SDR
  BT.709 first, since an 8-bit H.264 ladder is for SDR screens.
- Upright: ffmpeg's default autorotation applies the source's display matrix in the
  decoder's filter input, and MPEG-TS carries no rotation side data, so players cannot
  rotate a second time.
- Continuous: a source whose timestamps jump (recordings joined in an MPEG-TS) is played
  back to back, jumps closed (``-dts_delta_threshold``, as probe measured its duration).
- Constant frame rate from an ``fps`` filter ahead of the split: ``domain.ladder.output_fps``
  (above 60 fps the rate is divided by a whole factor, e.g. 120 → 60). Because every
  encoder then sees CFR frames, ``-g N -keyint_min N -sc_threshold 0`` with
  N = fps × segment seconds puts a keyframe at the same timestamp in every rendition,
  also for variable-frame-rate sources, so segments line up for switching.
- Capped CRF: ``-crf`` with each rung's maxrate/bufsize; with a per-title decision
  (``domain.pertitle``) each rung its own ``-crf:v:N``, and only the rungs it keeps.
- Audio: every track of the source is its own rendition (``domain.audio``): the default
  one in ``audio/``, the others in ``audio_1/`` …, each encoded once for every rung, as
  AAC-LC at 48 kHz (44.1 kHz kept), mono or stereo; no audio output for a silent source.
  A track's loudness decision (``domain.audio.gain_for``) is a ``volume`` gain, and an
  ``alimiter`` only when the peaks demand one.
- Audio and video start together at 0: the ``fps`` filter pads (or trims) the video's start
  and ``aresample`` the audio's to timestamp 0, so a source whose audio starts after its
  video keeps them in sync even where each track's timeline begins at 0 (fMP4, below).
- Metadata and chapters are dropped: phone uploads carry GPS positions in them.
- The source is opened as one of the allowed containers and nothing else
  (``media.source_input``): never as a playlist or a list of other files.

Segments (``segment_format``): ``fmp4`` (the default) is CMAF, fragmented MP4 with an init
segment per rendition named by the playlist's ``EXT-X-MAP``, which HLS and DASH players
both read (``media.dash`` writes the MPD over the same files). Both tracks' fragments start
at decode time 0 and each init segment has a single edit whose media time skips what comes
before presentation time 0: the B-frame delay of the video (2 frames) and the AAC encoder's
priming (1024 samples), so video and audio both start at exactly 0, in hls.js, dash.js and
Safari alike. (ffmpeg's default would shift both tracks by the video's lead and write empty
edits instead; negative composition offsets are misread by ffmpeg's own MP4 demuxer, which
the download's remux uses.) ``ts`` is MPEG-TS segments, as before.

With ``pictures``, the same decode also yields the poster (off the top rung's frames,
``media.poster``) and the storyboard sheets (off the lowest rung's, ``media.storyboard``),
as extra outputs of the one process.

Layout: ``out_dir/master.m3u8``, ``out_dir/{rung.name}/index.m3u8`` + ``seg_00000.m4s`` (or
``.ts``) … + ``init_{rung.name}.mp4``, ``out_dir/audio/…``, the pictures at the top.
``hls.finalize_master`` rewrites the master afterwards.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import ffmpeg

from videoctl.domain.audio import DEFAULT_AUDIO_NAME, AudioRendition, GainDecision
from videoctl.domain.chunks import Chunk, runup_frames, tail_frames
from videoctl.domain.errors import MediaError
from videoctl.domain.ladder import Rung, gop_frames, output_fps, rung_size
from videoctl.domain.threads import ThreadPlan, plan_threads
from videoctl.media import child
from videoctl.media.cpus import cpu_budget
from videoctl.media.poster import poster_outputs
from videoctl.media.probe import TIMESTAMP_JUMP_S, SourceInfo
from videoctl.media.source_input import ffmpeg_input
from videoctl.media.storyboard import storyboard_outputs, tile_outputs

log = logging.getLogger(__name__)

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"
AUDIO_NAME = DEFAULT_AUDIO_NAME  # the default track's rendition (domain.audio)
AUDIO_GROUP = "audio"

#: Segment formats (``VIDEOCTL_SEGMENT_FORMAT``).
FMP4 = "fmp4"
TS = "ts"
SEGMENT_FORMATS = (FMP4, TS)
_SEGMENT_EXTENSIONS = {FMP4: "m4s", TS: "ts"}

#: How many lines of ffmpeg's stderr an error message carries.
STDERR_TAIL_LINES = 20

#: ``-v warning`` keeps stderr to problems, so its tail is the useful part on failure.
#: ``-dts_delta_threshold``: timestamp jumps longer than this are closed (MPEG-TS/PS of joined
#: recordings), the same threshold probe used to measure the source's duration.
COMMON_ARGS = ("-hide_banner", "-nostdin", "-v", "warning", "-nostats", "-y",
               "-dts_delta_threshold", f"{TIMESTAMP_JUMP_S:g}")

# Tone mapping for PQ/HLG sources via zimg: linearise, convert BT.2020 → BT.709 primaries,
# compress highlights with Hable, then back to a BT.709 transfer. Primaries and matrix of
# the input are stated because HDR files often leave them unset.
_TONEMAP_FILTERS: tuple[tuple[str, dict[str, str]], ...] = (
    ("zscale", {"transfer": "linear", "npl": "100", "primariesin": "bt2020", "matrixin": "bt2020nc"}),
    ("format", {"pix_fmts": "gbrpf32le"}),
    ("zscale", {"primaries": "bt709"}),
    ("tonemap", {"tonemap": "hable", "desat": "0"}),
    ("zscale", {"transfer": "bt709", "matrix": "bt709", "range": "tv"}),
)


def build_ladder_args(
    ffmpeg_bin: str,
    src: Path,
    out_dir: Path,
    info: SourceInfo,
    rungs: Sequence[Rung],
    *,
    threads: ThreadPlan,
    segment_s: int = 4,
    preset: str = "veryfast",
    crf: int = 23,
    segment_format: str = FMP4,
    pictures: bool = False,
    gains: Mapping[str, GainDecision] | None = None,
    chunk: Chunk | None = None,
    crfs: Mapping[str, int] | None = None,
) -> list[str]:
    """Full argv of the one-process ladder encode with ``threads`` (see ``ladder_threads``), progress on stdout.

    ``pictures`` adds the poster and storyboard outputs, branched off the ladder's frames.
    ``gains`` (audio rendition name → loudness decision) sets each track's level; none: as is.
    ``chunk``: only that chunk's frames of every rung (``domain.chunks``; with its run-up and
    its tail, in segments of their own that ``media.chunks`` throws away), its segments
    numbered as one pass numbers them, no audio (a chunked video's audio is encoded whole, once),
    and for pictures its storyboard tiles alone (``media.storyboard.tile_outputs``).
    ``crfs`` (rung name → CRF) overrides ``crf`` for the rungs it names (the per-title ladder).
    """
    rungs = _ordered(rungs)
    out_dir = Path(out_dir)
    fps = output_fps(info.fps)
    # A chunk before the last encodes a tail it throws away: its last frames are then coded as
    # one pass codes them (domain.chunks.tail_frames); media.chunks drops the tail's segment.
    # A chunk after the first starts with a run-up it throws away too (domain.chunks.runup_frames).
    gop = gop_frames(fps, segment_s)
    tail = tail_frames(preset, gop) if chunk is not None and chunk.frames is not None else 0
    runup = runup_frames(chunk, gop) if chunk is not None else 0
    seek = chunk.seek(fps, tail_frames=tail, runup_frames=runup) if chunk is not None else None
    window = {} if seek is None else {k: v for k, v in (("ss", seek.input_s), ("t", seek.read_s)) if v is not None}
    source = ffmpeg_input(src, threads=threads.decoder, **window)
    video = prepared_video(source, info, fps, start_s=seek.fps_start_s if seek else "0",
                           frames=runup + chunk.frames + tail if chunk is not None and chunk.frames is not None else None)
    streams: list[Any] = _cascade(video, info, rungs)
    if chunk is not None:
        extra_outputs = _tile_outputs(streams, out_dir, info, rungs, fps, chunk, runup) if pictures else []
    else:
        extra_outputs = _picture_outputs(streams, out_dir, info, rungs, fps) if pictures else []
    audio = info.audio_renditions if chunk is None else ()
    # With one variant stream, ffmpeg does not expand %v in the init segment's name.
    variants = len(rungs) + len(audio)
    init_name = "init_%v.mp4" if variants > 1 else f"init_{rungs[0].name}.mp4"
    options: dict[str, Any] = {
        **_hls_options(segment_s, str(out_dir / "%v"), segment_format, init_name),
        **_video_options(preset, crf, fps, segment_s),
    }
    agroup = f"agroup:{AUDIO_GROUP}," if audio else ""
    stream_map = []
    for index, (rung, encoder_threads) in enumerate(zip(rungs, threads.encoders, strict=True)):
        options[f"maxrate:v:{index}"] = f"{rung.maxrate_kbps}k"
        options[f"bufsize:v:{index}"] = f"{rung.bufsize_kbps}k"
        options[f"threads:v:{index}"] = encoder_threads
        if crfs and rung.name in crfs:
            options[f"crf:v:{index}"] = crfs[rung.name]
        stream_map.append(f"v:{index},{agroup}name:{rung.name}")
    for index, rendition in enumerate(audio):
        streams.append(prepared_audio(source, rendition, (gains or {}).get(rendition.name)))
        # One AAC encode per track serves every rung, at the top rung's audio bitrate.
        options.update(_audio_options(rendition, rungs[0].audio_kbps, index))
        stream_map.append(f"a:{index},{agroup}name:{rendition.name}")
    options["var_stream_map"] = " ".join(stream_map)
    options["master_pl_name"] = MASTER_PLAYLIST
    if chunk is not None:
        options["start_number"] = chunk.first_segment - (1 if runup else 0)
    if runup:
        # The chunk's first frame is a keyframe, the run-up's segment ends there: the muxer cuts
        # at every keyframe (only each segment's first frame is one), however short the run-up.
        options["force_key_frames"] = f"expr:eq(n,{runup})"
        options["hls_time"] = float(Fraction(runup, 2) / fps)
    output = ffmpeg.output(*streams, str(out_dir / "%v" / MEDIA_PLAYLIST), **options)
    if extra_outputs:
        output = ffmpeg.merge_outputs(output, *extra_outputs)
    global_args = ["-filter_complex_threads", str(threads.filters), "-progress", "pipe:1"]
    return ffmpeg.compile(output, cmd=[ffmpeg_bin, *COMMON_ARGS, *global_args])


def build_audio_args(ffmpeg_bin: str, src: Path, out_dir: Path, info: SourceInfo, *, segment_s: int = 4,
                     segment_format: str = FMP4, audio_kbps: int = 128,
                     gains: Mapping[str, GainDecision] | None = None) -> list[str]:
    """Argv of the audio renditions alone, as the ladder encode makes them (same filters, encoder
    and segmenting: each track is a variant of its own there too), for a chunked video, whose
    audio is encoded whole, once, while its chunks encode the pictures."""
    out_dir = Path(out_dir)
    renditions = info.audio_renditions
    if not renditions:
        raise ValueError("the source has no audio to encode")
    source = ffmpeg_input(src)
    init_name = "init_%v.mp4" if len(renditions) > 1 else f"init_{renditions[0].name}.mp4"
    options: dict[str, Any] = {**_hls_options(segment_s, str(out_dir / "%v"), segment_format, init_name)}
    streams, stream_map = [], []
    for index, rendition in enumerate(renditions):
        streams.append(prepared_audio(source, rendition, (gains or {}).get(rendition.name)))
        options.update(_audio_options(rendition, audio_kbps, index))
        stream_map.append(f"a:{index},agroup:{AUDIO_GROUP},name:{rendition.name}")
    options["var_stream_map"] = " ".join(stream_map)
    output = ffmpeg.output(*streams, str(out_dir / "%v" / MEDIA_PLAYLIST), **options)
    return ffmpeg.compile(output, cmd=[ffmpeg_bin, *COMMON_ARGS, "-progress", "pipe:1"])


def encode_audio(ffmpeg_bin: str, src: Path, out_dir: Path, info: SourceInfo, *, segment_s: int = 4,
                 segment_format: str = FMP4, audio_kbps: int = 128, gains: Mapping[str, GainDecision] | None = None,
                 on_progress: Callable[[float], None] | None = None) -> None:
    """Encode the audio renditions into ``out_dir/{rendition}/`` (see ``build_audio_args``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = build_audio_args(ffmpeg_bin, src, out_dir, info, segment_s=segment_s, segment_format=segment_format,
                            audio_kbps=audio_kbps, gains=gains)
    run_ffmpeg(args, ProgressParser(info.duration_s), on_progress)


def build_poster_args(ffmpeg_bin: str, src: Path, out_dir: Path, info: SourceInfo, rung: Rung) -> list[str]:
    """Argv of the poster alone, for a chunked video: candidates from the source's keyframes
    (only those are decoded), made upright, tone-mapped and scaled to ``rung`` as the ladder's
    frames are, then ``media.poster``'s choice among them."""
    source = ffmpeg_input(src, skip_frame="nokey")
    video = prepared_video(source, info, None)
    width, height = rung_size(info.width, info.height, rung.height)
    tap = video.filter("scale", width, height).filter("setsar", "1")
    output = ffmpeg.merge_outputs(*poster_outputs(tap, Path(out_dir), info.duration_s, width, height))
    return ffmpeg.compile(output, cmd=[ffmpeg_bin, *COMMON_ARGS])


def _picture_outputs(streams: list[Any], out_dir: Path, info: SourceInfo, rungs: Sequence[Rung],
                     fps: Fraction) -> list[Any]:
    """Tap the top rung's frames for the poster and the lowest rung's for the storyboard.

    ``streams`` (one per rung, highest first) is changed in place: a tapped rung's encoder
    gets one side of a split. With a single rung both taps come off it.
    """
    top = streams[0].split()
    streams[0] = top[0]
    bottom = streams[-1].split()
    streams[-1] = bottom[0]
    top_size = rung_size(info.width, info.height, rungs[0].height)
    bottom_size = rung_size(info.width, info.height, rungs[-1].height)
    return [*poster_outputs(top[1], out_dir, info.duration_s, *top_size),
            *storyboard_outputs(bottom[1], out_dir, info.duration_s, fps, *bottom_size)]


def _tile_outputs(streams: list[Any], out_dir: Path, info: SourceInfo, rungs: Sequence[Rung], fps: Fraction,
                  chunk: Chunk, runup: int) -> list[Any]:
    """Tap the lowest rung's frames for the chunk's storyboard tiles (see ``_picture_outputs``),
    its own frames only: neither its ``runup`` frames nor its tail."""
    bottom = streams[-1].split()
    streams[-1] = bottom[0]
    size = rung_size(info.width, info.height, rungs[-1].height)
    tap = bottom[1]
    if runup or chunk.frames is not None:
        ends = {} if chunk.frames is None else {"end_frame": runup + chunk.frames}
        tap = tap.filter("trim", start_frame=runup, **ends) if runup else tap.filter("trim", **ends)
    return [tile_outputs(tap, out_dir, info.duration_s, fps, *size, first_frame=chunk.start_frame)]


def ladder_threads(info: SourceInfo, rungs: Sequence[Rung], cpus: float) -> ThreadPlan:
    """The thread plan for these rungs (highest first) of this source on ``cpus`` CPUs."""
    sizes = [rung_size(info.width, info.height, rung.height) for rung in _ordered(rungs)]
    return plan_threads(cpus, [width * height for width, height in sizes])


def build_rendition_args(
    ffmpeg_bin: str,
    src: Path,
    out_dir: Path,
    info: SourceInfo,
    rungs: Sequence[Rung],
    *,
    segment_s: int = 4,
    preset: str = "veryfast",
    crf: int = 23,
    segment_format: str = FMP4,
) -> list[list[str]]:
    """Baseline for the benchmark: the naive ladder, one complete rendition per ffmpeg.

    Each process decodes the source itself, scales its rung straight from it and muxes its
    own AAC audio, as a per-rendition script does (docs/encoding.md measures it).
    Encoder settings are the ladder's, except that x264 picks its own thread count (each
    process runs alone, so limiting it would handicap the baseline). Writes media
    playlists only, into ``out_dir/{name}/`` (which must exist) — no master.
    """
    out_dir = Path(out_dir)
    fps = output_fps(info.fps)
    commands = []
    for rung in _ordered(rungs):
        source = ffmpeg_input(src)
        streams: list[Any] = _cascade(prepared_video(source, info, fps), info, (rung,))
        options = {
            **_hls_options(segment_s, str(out_dir / rung.name), segment_format, f"init_{rung.name}.mp4"),
            **_video_options(preset, crf, fps, segment_s),
            "maxrate": f"{rung.maxrate_kbps}k",
            "bufsize": f"{rung.bufsize_kbps}k",
        }
        if info.has_audio:
            default_track = info.audio_renditions[0]
            streams.append(prepared_audio(source, default_track))
            options.update(_audio_options(default_track, rung.audio_kbps))
        output = ffmpeg.output(*streams, str(out_dir / rung.name / MEDIA_PLAYLIST), **options)
        commands.append(ffmpeg.compile(output, cmd=[ffmpeg_bin, *COMMON_ARGS]))
    return commands


def _ordered(rungs: Iterable[Rung]) -> tuple[Rung, ...]:
    ordered = tuple(sorted(rungs, key=lambda rung: rung.height, reverse=True))
    if not ordered:
        raise ValueError("no rungs to encode")
    return ordered


def prepared_video(source: Any, info: SourceInfo, fps: Fraction | None, *, start_s: str = "0",
                   frames: int | None = None) -> Any:
    """The source video, CFR at the output rate from timestamp 0, 8-bit 4:2:0 and progressive, before any scaling.

    The ladder's rungs are scaled from it, and a quality measurement (``media.quality``) takes
    it as the reference, so a score counts only what scaling and compression lost.
    A chunk's input is opened just before its first frame: ``start_s`` puts the rate's clock
    on that frame (``Chunk.seek``), and ``frames`` keeps the chunk's frames and no more.
    ``fps`` None keeps the frames as decoded (the poster's sampled keyframes).
    """
    video = source[str(info.video_stream_index)]
    if fps is not None:
        video = video.filter("fps", fps=str(fps), start_time=start_s)
    if frames is not None:
        video = video.filter("trim", end_frame=frames)
    if info.is_hdr:
        for name, params in _TONEMAP_FILTERS:
            video = video.filter(name, **params)
    # bwdif touches only frames flagged interlaced (broadcast and camcorder uploads);
    # progressive frames pass through at no measurable cost. It goes after the format
    # conversion: placed before it, ffmpeg 9's negotiation left the fields woven
    # (ffmpeg's idet still saw every frame as top-field-first).
    return video.filter("format", "yuv420p").filter("bwdif", mode="send_frame", parity="auto",
                                                    deint="interlaced")


def _cascade(video: Any, info: SourceInfo, rungs: Sequence[Rung]) -> list[Any]:
    """One output per rung, each rung scaled from the one above it."""
    outputs = []
    for index, rung in enumerate(rungs):
        width, height = rung_size(info.width, info.height, rung.height)
        # Explicit sizes (not -2): they are computed from the displayed aspect ratio, so
        # non-square-pixel sources come out right with square pixels.
        scaled = video.filter("scale", width, height).filter("setsar", "1")
        if index == len(rungs) - 1:
            outputs.append(scaled)
        else:
            split = scaled.split()
            outputs.append(split[0])
            video = split[1]
    return outputs


def prepared_audio(source: Any, rendition: AudioRendition, gain: GainDecision | None = None) -> Any:
    """One audio track of the source as its rendition is encoded (a quality measurement reads it too)."""
    # Sample-accurate timestamps: where joined recordings overlap or leave a gap at the
    # join (their audio rarely ends with their video), samples are trimmed or silence is
    # padded so the audio playlist's timestamps only go forward; audio that starts after the
    # video is padded with silence from 0 (first_pts), as the video is by its fps filter.
    # The same resampler brings the track to its output rate (48 kHz, or 44.1 kHz kept).
    audio = source[str(rendition.track.index)].filter("aresample", rendition.sample_rate,
                                                      **{"async": 1, "first_pts": 0})
    for name, params in gain_filters(gain):
        audio = audio.filter(name, **params)
    return audio


def gain_filters(gain: GainDecision | None) -> list[tuple[str, dict[str, Any]]]:
    """The filters of a loudness decision: a linear ``volume``, then ``alimiter`` only if decided.

    ``level=0``: no automatic make-up gain (the volume set the level); ``latency=1``: the
    lookahead's delay is compensated, so the audio stays in sync with the video.
    """
    filters: list[tuple[str, dict[str, Any]]] = []
    if gain is not None and gain.gain_db:
        filters.append(("volume", {"volume": f"{gain.gain_db:g}dB"}))
    if gain is not None and gain.limiter_dbfs is not None:
        filters.append(("alimiter", {"limit": f"{10 ** (gain.limiter_dbfs / 20):.4f}", "level": 0, "latency": 1}))
    return filters


def _hls_options(segment_s: int, directory: str, segment_format: str, init_name: str) -> dict[str, Any]:
    if segment_format not in SEGMENT_FORMATS:
        raise ValueError(f"segment format must be one of {', '.join(SEGMENT_FORMATS)}, got {segment_format!r}")
    options: dict[str, Any] = {
        "f": "hls",
        "hls_time": segment_s,
        "hls_playlist_type": "vod",
        "hls_flags": "independent_segments",
        "hls_segment_type": "fmp4" if segment_format == FMP4 else "mpegts",
        "hls_segment_filename": f"{directory}/seg_%05d.{_SEGMENT_EXTENSIONS[segment_format]}",
        "map_metadata": -1,
        "map_chapters": -1,
    }
    if segment_format == FMP4:
        options["hls_fmp4_init_filename"] = init_name
        # Timestamps reach the MP4 muxer as encoded (B-frames' and AAC priming's negative
        # ones included), so each init segment carries one edit that starts its track at 0
        # rather than an empty edit that delays it by the other track's lead.
        options["avoid_negative_ts"] = "disabled"
    return options


def _video_options(preset: str, crf: int, fps: Fraction, segment_s: int) -> dict[str, Any]:
    gop = gop_frames(fps, segment_s)
    return {"c:v": "libx264", "preset": preset, "crf": crf, "g": gop, "keyint_min": gop, "sc_threshold": 0}


def _audio_options(rendition: AudioRendition, kbps: int, index: int | None = None) -> dict[str, Any]:
    """AAC-LC at the rendition's rate and channels; ``index`` is the output audio stream's (None: the only one)."""
    suffix = "" if index is None else f":{index}"
    return {"c:a": "aac", "profile:a": "aac_low", f"b:a{suffix}": f"{kbps}k",
            f"ac:a{suffix}": rendition.channels, f"ar:a{suffix}": rendition.sample_rate}


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """Split one ``-progress`` line into (key, value); None for anything else."""
    key, sep, value = line.strip().partition("=")
    if not sep or not key:
        return None
    return key, value.strip()


class ProgressParser:
    """Turns ffmpeg ``-progress`` output into percentages of the source duration.

    ffmpeg writes blocks of key=value lines, each ending with ``progress=continue`` or
    ``progress=end``; ``feed`` returns a percentage at the end of every block, else None.
    """

    def __init__(self, duration_s: float) -> None:
        self._duration_us = max(duration_s, 1e-6) * 1_000_000
        self._out_time_us = 0

    @property
    def percent(self) -> float:
        return min(100.0, max(0.0, 100.0 * self._out_time_us / self._duration_us))

    def feed(self, line: str) -> float | None:
        parsed = parse_progress_line(line)
        if parsed is None:
            return None
        key, value = parsed
        # out_time_ms is microseconds too (a historical misnomer in ffmpeg).
        if key in ("out_time_us", "out_time_ms"):
            try:
                self._out_time_us = max(self._out_time_us, int(value))
            except ValueError:
                pass  # "N/A" until the first packet is written
            return None
        if key == "progress":
            return 100.0 if value == "end" else self.percent
        return None


def encode_ladder(
    ffmpeg_bin: str,
    src: Path,
    out_dir: Path,
    info: SourceInfo,
    rungs: Sequence[Rung],
    *,
    segment_s: int = 4,
    preset: str = "veryfast",
    crf: int = 23,
    segment_format: str = FMP4,
    pictures: bool = False,
    cpus: float | None = None,
    gains: Mapping[str, GainDecision] | None = None,
    crfs: Mapping[str, int] | None = None,
    on_progress: Callable[[float], None] | None = None,
    chunk: Chunk | None = None,
) -> Path:
    """Encode the ladder into ``out_dir`` (new or empty) and return the master playlist path.

    ``pictures`` also writes the poster and storyboard candidates (``media.poster``,
    ``media.storyboard`` finish them). ``cpus`` overrides the CPU budget read from the
    container (``media.cpus``).
    ``chunk``: that chunk's frames only (see ``build_ladder_args``).
    ``on_progress`` gets 0–100 about twice a second; throttling is the caller's business.
    Raises MediaError with the tail of ffmpeg's stderr if ffmpeg fails.
    """
    out_dir = Path(out_dir)
    # A leftover segment from an earlier run would be uploaded as part of this ladder.
    if out_dir.exists() and any(out_dir.iterdir()):
        raise MediaError(f"output directory {out_dir} is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = cpu_budget(cpus)
    threads = ladder_threads(info, rungs, budget.cpus)
    log.info("ladder threads", extra={"cpus": budget.cpus, "cpu_limit": budget.source, "threads": asdict(threads)})
    args = build_ladder_args(ffmpeg_bin, src, out_dir, info, rungs, threads=threads, segment_s=segment_s,
                             preset=preset, crf=crf, segment_format=segment_format, pictures=pictures,
                             gains=gains, chunk=chunk, crfs=crfs)
    duration_s = info.duration_s
    if chunk is not None:
        fps = output_fps(info.fps)
        length = chunk.duration_s(fps)
        duration_s = float(length) if length is not None else max(info.duration_s - float(chunk.start_s(fps)), 1e-3)
    run_ffmpeg(args, ProgressParser(duration_s), on_progress)
    master = out_dir / MASTER_PLAYLIST
    if not master.is_file():
        raise MediaError(f"ffmpeg finished without writing {MASTER_PLAYLIST}")
    return master


def run_ffmpeg(
    args: Sequence[str],
    progress: ProgressParser | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Run ffmpeg, report progress from its stdout (when it writes ``-progress`` there), raise MediaError on failure.

    stderr is drained by a thread into a bounded buffer so a chatty ffmpeg never blocks on
    a full pipe. The child is killed and reaped whatever interrupts the caller
    (KeyboardInterrupt, SystemExit from a SIGTERM handler, an exception in on_progress).
    """
    try:
        proc = child.start(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        raise MediaError(f"cannot start ffmpeg {args[0]!r}: {exc.strerror}") from None
    assert proc.stdout is not None and proc.stderr is not None  # both are PIPEs
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    drain = threading.Thread(target=_drain, args=(proc.stderr, tail), name="ffmpeg-stderr", daemon=True)
    drain.start()
    try:
        for line in proc.stdout:
            percent = progress.feed(line) if progress is not None else None
            if percent is not None and on_progress is not None:
                on_progress(percent)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        drain.join()
        proc.stdout.close()
        proc.stderr.close()
    if returncode != 0:
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
        raise MediaError(f"ffmpeg {how}:\n" + "\n".join(tail))


def _drain(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        if line.strip():
            tail.append(line.rstrip())
