"""Score encodes against their source, frame by frame: VMAF (libvmaf) and PSNR-Y, one ffmpeg per stretch.

:func:`score` takes the reference (the source), a list of :class:`Piece` (a stretch of the
reference, and the distorted files that hold that same stretch) and returns every scored
frame of each distorted input. It knows nothing of ladders: run-job and `videoctl quality`
score a ladder's rungs with it, and a per-title probe can score short test encodes the same way.

How a frame is scored, so that scores compare across sources and rungs:

- The reference is the source, opened as the encode opens it (``media.source_input``: the
  containers' allowlist, the local file alone), through the ladder's own preparation
  (``encode.prepared_video``: the output frame rate from timestamp 0, tone mapping for HDR,
  4:2:0, deinterlacing), then scaled to the source's display size with square pixels. So a
  score counts only what the rung lost to scaling and compression, not the preparation every
  rung shares. Its audio tracks are read too (and dropped), as the encode read them: ffmpeg's
  timeline of a file (its start, the timestamp jumps of joined recordings it closes) depends
  on every stream it reads.
- Each distorted input is scaled up (bicubic, as the VMAF model was trained) to that same
  display size; both sides are 8-bit 4:2:0.
- Both sides pass the same ``fps`` filter and start at 0 (``setpts=PTS-STARTPTS``), so frame
  n of one is frame n of the other; libvmaf stops with the shorter (``shortest``), so a last
  partial frame of either never meets a repeated one.
- The model is libvmaf's built-in ``vmaf_v0.6.1`` (no model file), PSNR-Y from the same run
  (``feature=name=psnr``). The per-frame log is JSON; means and percentiles are
  ``domain.quality``'s.
- One decode of the reference serves every distorted input of a piece (``split``).

A stretch of the reference is read with input seeking (``-ss``/``-t``), so a sample of six
segments decodes six segments, not the video; except in a file whose timestamps jump (joined
recordings, ``SourceInfo.timestamps_jump``), where a time of the file is not that time of the
ladder: there it is decoded from the start and cut on the prepared (the ladder's) timeline.
Distorted inputs are our own outputs: a file (an fMP4 cut: init segment + fragments, or
MPEG-TS) opened with its demuxer named, or a local HLS media playlist, opened with the
``hls`` demuxer restricted to local files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from videoctl.domain.errors import MediaError
from videoctl.domain.quality import TimeRange
from videoctl.media.encode import COMMON_ARGS, prepared_audio, prepared_video, run_ffmpeg
from videoctl.media.probe import SourceInfo
from videoctl.media.source_input import ffmpeg_input

#: libvmaf's built-in model (compiled into the library: no model file to ship).
MODEL = "version=vmaf_v0.6.1"
#: The demuxer of each kind of distorted input, named rather than guessed from the bytes.
_DEMUXERS = {".m3u8": "hls", ".mp4": "mov", ".m4s": "mov", ".ts": "mpegts"}


@dataclass(frozen=True)
class FrameScore:
    vmaf: float
    psnr_y: float


@dataclass(frozen=True)
class Piece:
    """A stretch of the reference (None: all of it) and the distorted inputs that hold the same
    stretch, each from its first frame: a cut of a rendition, or a whole one for the whole reference."""

    range: TimeRange | None
    distorted: tuple[Path, ...]


def score(ffmpeg_bin: str, reference: Path, info: SourceInfo, pieces: Sequence[Piece], *, fps: Fraction,
          workdir: Path, threads: int = 1, model: str | None = None) -> list[list[FrameScore]]:
    """Every scored frame of each distorted input (in the order of the pieces' ``distorted``), piece
    after piece. ``info`` is the reference's probe (its display size is the scale scores are
    measured at); ``threads`` is libvmaf's; ``model`` libvmaf's model option (default :data:`MODEL`).
    Raises MediaError if ffmpeg fails or scores nothing."""
    if not pieces:
        raise ValueError("nothing to score")
    inputs = len(pieces[0].distorted)
    if inputs == 0 or any(len(piece.distorted) != inputs for piece in pieces):
        raise ValueError("every piece must name the same number of distorted inputs, at least one")
    workdir.mkdir(parents=True, exist_ok=True)
    frames: list[list[FrameScore]] = [[] for _ in range(inputs)]
    for number, piece in enumerate(pieces):
        logs = [workdir / f"vmaf-{number}-{index}.json" for index in range(inputs)]
        try:
            run_ffmpeg(build_score_args(ffmpeg_bin, reference, info, piece, logs, fps=fps, threads=threads,
                                        model=model or MODEL))
        except MediaError as exc:
            if "No such filter: 'libvmaf'" in exc.message:
                raise MediaError(f"{ffmpeg_bin} has no libvmaf filter",
                                 hint="unset VIDEOCTL_FFMPEG (and take ffmpeg off PATH) to use imageio-ffmpeg's "
                                      "build, which has it") from exc
            raise
        for index, path in enumerate(logs):
            scored = read_log(path) if path.exists() else []  # libvmaf writes no log without a frame
            if not scored:
                raise MediaError(f"libvmaf scored no frame of {piece.distorted[index].name}"
                                 + (f" at {piece.range.start_s:g}s" if piece.range else ""))
            frames[index] += scored
            path.unlink()
    return frames


def build_score_args(ffmpeg_bin: str, reference: Path, info: SourceInfo, piece: Piece, logs: Sequence[Path], *,
                     fps: Fraction, threads: int = 1, model: str = MODEL) -> list[str]:
    """The argv of one ffmpeg that scores each of ``piece.distorted`` into its JSON log in ``logs``."""
    width, height = info.width, info.height
    stretch, seek = piece.range, piece.range is not None and not info.timestamps_jump
    source = ffmpeg_input(reference, **({"ss": f"{stretch.start_s:.6f}", "t": f"{stretch.duration_s:.6f}"}
                                        if seek else {}))
    prepared = prepared_video(source, info, fps)
    if stretch is not None and not seek:
        # The file's own times are not the ladder's: the stretch is cut on the ladder's timeline,
        # after the preparation that closed the jumps, decoding from the start.
        prepared = prepared.filter("trim", start=f"{stretch.start_s:.6f}", duration=f"{stretch.duration_s:.6f}")
    prepared = _aligned(prepared.filter("scale", width, height))
    references = prepared.split() if len(piece.distorted) > 1 else None
    # ffmpeg places the video on the file's timeline from every stream it reads (where the file
    # starts, the timestamp jumps it closes): reading the audio the encode read, and throwing it
    # away, puts the reference's frames where the ladder's are.
    outputs = [ffmpeg.output(prepared_audio(source, rendition), "-", f="null") for rendition in info.audio_renditions]
    for index, (path, log_path) in enumerate(zip(piece.distorted, logs, strict=True)):
        distorted = _aligned(_distorted_input(path)["v:0"].filter("fps", fps=str(fps))
                             .filter("scale", width, height, flags="bicubic").filter("format", "yuv420p"))
        against = references[index] if references is not None else prepared
        scored = ffmpeg.filter([distorted, against], "libvmaf", model=model, feature="name=psnr",
                               n_threads=max(1, threads), log_fmt="json", log_path=str(log_path), shortest=1)
        outputs.append(ffmpeg.output(scored, "-", f="null"))
    return ffmpeg.compile(ffmpeg.merge_outputs(*outputs), cmd=[ffmpeg_bin, *COMMON_ARGS])


def _aligned(video: Any) -> Any:
    """Square pixels, timestamps from 0: frame n of one side meets frame n of the other."""
    return video.filter("setsar", "1").filter("setpts", "PTS-STARTPTS")


def _distorted_input(path: Path) -> Any:
    demuxer = _DEMUXERS.get(path.suffix.lower())
    if demuxer is None:
        raise ValueError(f"cannot score {path.name}: not a playlist, an MP4 or an MPEG-TS file")
    # Our own outputs, on local disk: a playlist's segments too may be read from files only.
    return ffmpeg.input(f"file:{path.absolute()}", f=demuxer, protocol_whitelist="file")


def read_log(path: Path) -> list[FrameScore]:
    """The frames of a libvmaf JSON log (``log_fmt=json``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [FrameScore(float(frame["metrics"]["vmaf"]), float(frame["metrics"]["psnr_y"]))
                for frame in document["frames"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MediaError(f"cannot read libvmaf's log {path.name}: {exc}") from None


def cut(init: Path | None, segments: Sequence[Path], dest: Path) -> Path:
    """One playable file of consecutive segments of a rendition: its init segment (fMP4) and
    the segments after one another, as a player's demuxer reads them; ``dest`` gets the
    segments' suffix (``.mp4`` for fMP4)."""
    dest = dest.with_suffix(".mp4" if init is not None else segments[0].suffix)
    with dest.open("wb") as out:
        for part in ([init] if init is not None else []) + list(segments):
            with part.open("rb") as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
    return dest
