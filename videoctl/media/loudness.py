"""EBU R128 loudness of audio tracks, measured by ffmpeg's ``ebur128`` filter.

One audio-only pass over the file measures every track at once (``-vn``: no video is
decoded, so a two-hour lecture costs seconds, not minutes): each track goes through its own
``ebur128`` instance, named after its position, with true peak on. The filters print their
summaries as they close; those lines are the only part of ffmpeg's output read here.

The output check measures the ladder's own audio renditions the same way: each rendition's
init segment and fragments, concatenated, are one playable fragmented MP4 (MPEG-TS segments
concatenate as they are).
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from videoctl.domain.audio import AudioRendition, GainDecision, Loudness
from videoctl.domain.errors import MediaError
from videoctl.media import child
from videoctl.media.encode import gain_filters
from videoctl.media.m3u8 import parse_media_playlist
from videoctl.media.manifests import read_manifest
from videoctl.media.source_input import input_args

#: A summary block: "[ebur128@t0 @ 0x…] Summary:" then I, LRA and Peak lines.
_SUMMARY = re.compile(r"\[ebur128@t(\d+) @ [^\]]*\] Summary:")
_INTEGRATED = re.compile(r"^\s*I:\s+(-?inf|-?\d+(?:\.\d+)?) LUFS", re.MULTILINE)
_RANGE = re.compile(r"^\s*LRA:\s+(-?inf|-?\d+(?:\.\d+)?) LU", re.MULTILINE)
_PEAK = re.compile(r"^\s*Peak:\s+(-?inf|-?\d+(?:\.\d+)?) dBFS", re.MULTILINE)
#: ebur128 reports an integrated loudness of −70 LUFS (its absolute gate) for silence.
_GATE_LUFS = -70.0


def measure_tracks(ffmpeg_bin: str, src: Path, stream_indexes: Sequence[int],
                   gains: Sequence[tuple[int, GainDecision]] | None = None) -> list[Loudness]:
    """The loudness of each of ``src``'s audio streams (absolute indexes), in one audio-only pass.

    ``gains`` (output sample rate and decision, one per stream) measures the tracks as the
    encode will make them: resampled, with the decision's gain and limiter.
    """
    if not stream_indexes:
        return []
    return parse_summaries(_run(measure_args(ffmpeg_bin, src, stream_indexes, gains)), len(stream_indexes))


def measure_args(ffmpeg_bin: str, src: Path, stream_indexes: Sequence[int],
                 gains: Sequence[tuple[int, GainDecision]] | None = None) -> list[str]:
    """The argv of ``measure_tracks``: one ``ebur128`` per track, audio only, to null outputs."""
    chains = [_chain(*gain) for gain in gains] if gains is not None else [""] * len(stream_indexes)
    graph = ";".join(f"[0:{index}]{chain}ebur128@t{n}=peak=true:framelog=verbose[m{n}]"
                     for n, (index, chain) in enumerate(zip(stream_indexes, chains, strict=True)))
    # The source is opened like every read of it: only as an allowed container (media/source_input.py).
    args = [ffmpeg_bin, "-hide_banner", "-nostdin", "-nostats", "-v", "info", "-vn", "-sn", "-dn",
            *input_args(src), "-filter_complex", graph]
    for n in range(len(stream_indexes)):
        args += ["-map", f"[m{n}]", "-f", "null", "-"]
    return args


def _chain(sample_rate: int, gain: GainDecision) -> str:
    filters = [("aresample", {"osr": sample_rate}), *gain_filters(gain)]
    return "".join(f"{name}=" + ":".join(f"{key}={value}" for key, value in params.items()) + ","
                   for name, params in filters)


def measure_renditions(ffmpeg_bin: str, out_dir: Path, renditions: Sequence[AudioRendition]) -> dict[str, Loudness]:
    """The loudness of each audio rendition of the ladder in ``out_dir``, by name."""
    measured = {}
    with tempfile.TemporaryDirectory(prefix="loudness-", dir=out_dir.parent) as scratch:
        for rendition in renditions:
            joined = _joined_segments(out_dir / rendition.name, Path(scratch) / rendition.name)
            measured[rendition.name] = measure_tracks(ffmpeg_bin, joined, [0])[0]
    return measured


def _joined_segments(directory: Path, path: Path) -> Path:
    playlist = parse_media_playlist(read_manifest(directory / "index.m3u8"), f"{directory.name}/index.m3u8")
    names = ([playlist.map_uri] if playlist.map_uri else []) + [segment.uri for segment in playlist.segments]
    with path.open("wb") as joined:
        for name in names:
            joined.write((directory / name).read_bytes())
    return path


def parse_summaries(stderr: str, count: int) -> list[Loudness]:
    """The ``count`` summaries ebur128 instances ``t0`` … printed, in instance order."""
    found: dict[int, Loudness] = {}
    starts = list(_SUMMARY.finditer(stderr))
    for match, following in zip(starts, starts[1:] + [None], strict=True):
        block = stderr[match.end():following.start() if following else len(stderr)]
        values = [pattern.search(block) for pattern in (_INTEGRATED, _PEAK, _RANGE)]
        if any(value is None for value in values):
            continue
        integrated, peak, loudness_range = (_number(value[1]) for value in values)
        if integrated <= _GATE_LUFS:
            integrated = -math.inf  # nothing above the gate: silence
        found[int(match[1])] = Loudness(integrated, peak, loudness_range)
    missing = [n for n in range(count) if n not in found]
    if missing:
        raise MediaError(f"ffmpeg printed no loudness summary for audio track(s) {missing}")
    return [found[n] for n in range(count)]


def _number(text: str) -> float:
    return -math.inf if text == "-inf" else math.inf if text == "inf" else float(text)


def _run(args: list[str]) -> str:
    try:
        proc = child.start(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MediaError(f"cannot start ffmpeg {args[0]!r}: {exc.strerror}") from None
    try:
        _, stderr = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        tail = "\n".join(line for line in stderr.splitlines()[-20:] if "ebur128@" not in line)
        raise MediaError(f"the loudness measurement failed (ffmpeg exited with code {proc.returncode}):\n{tail}")
    return stderr
