"""The per-title probe's test encodes: short pieces of the source at a few CRFs, scored against it.

Each piece (a stretch of the source, ``domain.pertitle.probe_ranges``) is decoded once and
goes through exactly what the ladder's top rung goes through: the ladder's preparation
(``encode.prepared_video``: frame rate, tone mapping, 4:2:0, deinterlacing), the same scale,
libx264 with the same preset, GOP and maxrate/bufsize cap; ``split`` feeds one encoder per
CRF, so a piece costs one decode and one encode per CRF. The pieces are then scored against
the source by ``media.quality.score`` (VMAF vmaf_v0.6.1), the scoring a ladder gets.

The source is read with input seeking (``-ss``/``-t``), so a piece decodes its own seconds
only; a file whose timestamps jump (joined recordings) is decoded from the start and cut on
the prepared timeline, as ``media.quality`` does for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import ffmpeg

from videoctl.domain.ladder import Rung, gop_frames, output_fps, rung_size
from videoctl.domain.pertitle import ProbePoint, amortised_kbps
from videoctl.domain.quality import TimeRange, summarize
from videoctl.media.encode import COMMON_ARGS, prepared_video, run_ffmpeg
from videoctl.media.probe import SourceInfo
from videoctl.media.quality import Piece, score
from videoctl.media.source_input import ffmpeg_input


def build_piece_args(ffmpeg_bin: str, src: Path, info: SourceInfo, rung: Rung, stretch: TimeRange,
                     outputs: Sequence[tuple[int, Path]], *, preset: str, segment_s: int, fps: Fraction) -> list[str]:
    """One ffmpeg: the stretch of the source, prepared and scaled as the top rung, encoded at each (CRF, file)."""
    seek = not info.timestamps_jump
    source = ffmpeg_input(src, **({"ss": f"{stretch.start_s:.6f}", "t": f"{stretch.duration_s:.6f}"} if seek else {}))
    video = prepared_video(source, info, fps)
    if not seek:
        video = video.filter("trim", start=f"{stretch.start_s:.6f}", duration=f"{stretch.duration_s:.6f}")
    width, height = rung_size(info.width, info.height, rung.height)
    video = video.filter("scale", width, height).filter("setsar", "1")
    branches = video.split() if len(outputs) > 1 else None
    gop = gop_frames(fps, segment_s)
    nodes = []
    for index, (crf, path) in enumerate(outputs):
        stream = branches[index] if branches is not None else video
        nodes.append(ffmpeg.output(stream, str(path), f="mp4", an=None, **{
            "c:v": "libx264", "preset": preset, "crf": crf, "g": gop, "keyint_min": gop, "sc_threshold": 0,
            "maxrate": f"{rung.maxrate_kbps}k", "bufsize": f"{rung.bufsize_kbps}k",
            "map_metadata": -1, "map_chapters": -1}))
    return ffmpeg.compile(ffmpeg.merge_outputs(*nodes), cmd=[ffmpeg_bin, *COMMON_ARGS])


def measure_crfs(ffmpeg_bin: str, src: Path, info: SourceInfo, rung: Rung, ranges: Sequence[TimeRange],
                 crfs: Sequence[int], *, preset: str, segment_s: int, workdir: Path) -> list[ProbePoint]:
    """The top ``rung`` of this source at each of ``crfs``, over the sampled ``ranges``: the pooled frames'
    VMAF and the pieces' video bits over their seconds, with their keyframes amortised over a
    segment as the ladder has them (``domain.pertitle.amortised_kbps``). MediaError if ffmpeg fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    fps = output_fps(info.fps)
    pieces = []
    for number, stretch in enumerate(ranges):
        outputs = [(crf, workdir / f"piece-{number}-crf{crf}.mp4") for crf in crfs]
        run_ffmpeg(build_piece_args(ffmpeg_bin, src, info, rung, stretch, outputs, preset=preset,
                                    segment_s=segment_s, fps=fps))
        pieces.append(Piece(stretch, tuple(path for _, path in outputs)))
    frames = score(ffmpeg_bin, src, info, pieces, fps=fps, workdir=workdir / "scores")
    seconds = sum(stretch.duration_s for stretch in ranges)
    measured = []
    for index, crf in enumerate(crfs):
        total, keyframe, keyframes = 0, 0, 0
        for piece in pieces:
            sizes = packet_sizes(piece.distorted[index])
            total += sizes[0]
            keyframe += sizes[1]
            keyframes += sizes[2]
        kbps = amortised_kbps(total, keyframe, keyframes, seconds, segment_s)
        summary = summarize([f.vmaf for f in frames[index]], [f.psnr_y for f in frames[index]])
        measured.append(ProbePoint(crf, summary.vmaf_mean, summary.vmaf_p5, round(kbps, 1)))
    for piece in pieces:
        for path in piece.distorted:
            path.unlink(missing_ok=True)
    return measured


def packet_sizes(path: Path) -> tuple[int, int, int]:
    """An encoded piece's video bytes: all of them, its keyframes', and how many keyframes."""
    total, keyframe, keyframes = 0, 0, 0
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0:  # the demuxer's flush packet
                continue
            total += packet.size
            if packet.is_keyframe:
                keyframe += packet.size
                keyframes += 1
    return total, keyframe, keyframes
