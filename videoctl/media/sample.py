"""Generate a synthetic source clip (``videoctl demo``, tests, benchmarks).

testsrc2 moves every frame and sine gives a steady tone, so the clip exercises the whole
pipeline without shipping media files. ``noise`` adds per-frame grain that makes the clip
as hard to compress as camera footage; without it x264 compresses the pattern so well
that timings say little about real uploads.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from videoctl.domain.errors import MediaError

#: Strength of the temporal grain added with ``noise=True`` (ffmpeg ``noise`` filter, 0–100).
#: 9 gives a 1080p30 clip of about 20 Mbit/s, a phone upload's bitrate, whose decode costs a
#: quarter of its 1080p encode, as a camera file's does (8 gave 11 Mbit/s and a fifth; 10
#: already 32 Mbit/s); docs/encoding.md says why that proportion matters.
NOISE_STRENGTH = 9


def generate_sample_clip(
    ffmpeg_bin: str,
    path: Path,
    *,
    seconds: float = 4,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    audio: bool = True,
    noise: bool = False,
) -> Path:
    """Write an H.264/AAC MP4 test pattern to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    video = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
    if noise:
        video += f",noise=alls={NOISE_STRENGTH}:allf=t"
    args = [ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "128k"]
    args.append(str(path))
    result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-20:])
        raise MediaError(f"ffmpeg could not generate the sample clip (exit {result.returncode}):\n{tail}")
    return path
