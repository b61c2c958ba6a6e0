"""``download.mp4``: one rung and the audio as a progressive MP4, remuxed, never encoded again.

The rung is ``VIDEOCTL_DOWNLOAD_RUNG`` (720 by default): the rung of that height, or when
the source is smaller the highest rung below it; a ladder whose every rung is above it
offers its lowest. ``off`` makes no download.

The remux is a second, cheap ffmpeg process (stream copy: no decode, no encode), with
``+faststart`` so the ``moov`` index comes first and a browser can start playing before the
file is complete. It reads each track as its files laid end to end (ffmpeg's ``concatf``
protocol over a list of them): for fMP4, the init segment and its fragments are one
fragmented MP4, whose edit list (the AAC priming skipped) ffmpeg applies; its HLS demuxer
would not, and the download's audio would lag by 21 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import av.error

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung
from videoctl.domain.outputs import DOWNLOAD
from videoctl.media.encode import AUDIO_NAME, COMMON_ARGS, run_ffmpeg
from videoctl.media.hls import load_media_playlist
from videoctl.media.mp4 import top_level_types


def choose_download_rung(rungs: Sequence[Rung], height: int | None) -> Rung | None:
    """The rung whose video the download carries, or None when downloads are off."""
    if height is None or not rungs:
        return None
    ordered = sorted(rungs, key=lambda rung: rung.height, reverse=True)
    at_or_below = [rung for rung in ordered if rung.height <= height]
    return at_or_below[0] if at_or_below else ordered[-1]


def remux_download(ffmpeg_bin: str, out_dir: Path, rung: Rung, *, has_audio: bool,
                   media_dir: Path | None = None) -> Path:
    """Write ``out_dir/download.mp4`` from the rung's and the audio's segments, which are in
    ``media_dir`` (by default ``out_dir``) laid out as the ladder is."""
    out_dir = Path(out_dir).resolve()
    media_dir = Path(media_dir).resolve() if media_dir is not None else out_dir
    names = [rung.name, AUDIO_NAME] if has_audio else [rung.name]
    lists = [out_dir / f".download-{name}.txt" for name in names]
    path = out_dir / DOWNLOAD
    try:
        inputs = []
        for name, listing in zip(names, lists, strict=True):
            listing.write_text("".join(f"{file}\n" for file in track_files(media_dir / name)), encoding="utf-8")
            inputs += ["-i", f"concatf:{listing}"]
        maps = ["-map", "0:v:0"] + (["-map", "1:a:0"] if has_audio else [])
        run_ffmpeg([ffmpeg_bin, *COMMON_ARGS, *inputs, *maps, "-c", "copy", "-map_metadata", "-1",
                    "-map_chapters", "-1", "-movflags", "+faststart", "-f", "mp4", str(path)])
    finally:
        for listing in lists:
            listing.unlink(missing_ok=True)
    return path


def track_files(directory: Path) -> list[Path]:
    """A rendition's files in playing order: its init segment (fMP4), then its segments."""
    playlist = load_media_playlist(directory)
    names = ([playlist.map_uri] if playlist.map_uri else []) + [segment.uri for segment in playlist.segments]
    files = [directory / name for name in names]
    if any("\n" in str(file) or "\r" in str(file) for file in files):
        raise VerifyFailed(f"{directory.name}: a segment path holds a line break, which a file list cannot")
    return files


def verify_download(out_dir: Path, *, width: int, height: int, has_audio: bool, duration_s: float,
                    tolerance_s: float) -> None:
    """The MP4 has its ``moov`` before its ``mdat``, the rung's picture, audio iff the source has it,
    and lasts as long as the video."""
    path = Path(out_dir) / DOWNLOAD
    if not path.is_file():
        raise VerifyFailed(f"{DOWNLOAD} is missing")
    boxes = top_level_types(path)
    if "moov" not in boxes or "mdat" not in boxes:
        raise VerifyFailed(f"{DOWNLOAD} is not a complete MP4 (top-level boxes {boxes})")
    if boxes.index("moov") > boxes.index("mdat"):
        raise VerifyFailed(f"{DOWNLOAD} has its moov index after its media: a browser cannot play it while downloading")
    try:
        with av.open(str(path)) as container:
            videos, audios = container.streams.video, container.streams.audio
            if len(videos) != 1:
                raise VerifyFailed(f"{DOWNLOAD} has {len(videos)} video streams, expected 1")
            context = videos[0].codec_context
            if (context.width, context.height) != (width, height):
                raise VerifyFailed(f"{DOWNLOAD} is {context.width}x{context.height}, expected {width}x{height}")
            if bool(audios) != has_audio:
                raise VerifyFailed(f"{DOWNLOAD} {'lacks' if has_audio else 'has'} an audio stream")
            lasts = (container.duration or 0) / av.time_base
    except av.error.FFmpegError as exc:
        raise VerifyFailed(f"{DOWNLOAD} cannot be read: {exc.strerror}") from None
    if abs(lasts - duration_s) > tolerance_s:
        raise VerifyFailed(f"{DOWNLOAD} lasts {lasts:.2f} s but the video lasts {duration_s:.2f} s "
                           f"(tolerance {tolerance_s:.2f} s)")
