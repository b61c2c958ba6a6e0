"""JPEG outputs of the one ffmpeg process (poster, storyboard sheets), and reading them back.

The pictures branch off the ladder's filter graph, so they get the ladder's frames: upright,
progressive, tone-mapped to SDR, 8-bit 4:2:0 in limited (TV) range. JPEG is full range, so
the last filter converts the range; ffmpeg's MJPEG encoder refuses limited-range input.

Each picture output must receive a frame as soon as the encode starts: ffmpeg reports no
``-progress`` at all until every output has started (and an output that never receives a
frame fails the whole process). The branches therefore send a first frame at once, which
the real picture overwrites (``single``) or which is written as sheet 0 (a pattern).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import av.error
import ffmpeg
from av.video.frame import VideoFrame

from videoctl.domain.errors import VerifyFailed


def first_then(first: Any, rest: Any) -> Any:
    """``first``'s frames, then ``rest``'s, one second apart (0 s, 1 s, 2 s …).

    ``concat`` shifts the second part by the first's duration, which for a lone frame may be
    0, and the encoder's time base may be coarser than the graph's: two frames at one
    timestamp stop the JPEG encoder ("Invalid pts"). Whole seconds never collide.
    """
    return ffmpeg.concat(first, rest, n=2, v=1, a=0).filter("setpts", "N/TB")


def jpeg_output(stream: Any, path: Path | str, *, quality: int, single: bool) -> Any:
    """An ffmpeg-python output writing ``stream`` as JPEG: one picture that each frame
    overwrites (``single``: the last frame stays), or one file per frame, numbered from 0 (``%d``).

    ``quality`` is the MJPEG ``q:v`` scale, 2 (best) to 31. Frames pass through without
    the constant-rate duplication ffmpeg applies to video outputs, which would write a
    storyboard sheet once per frame of the video.
    """
    options: dict[str, Any] = {"c:v": "mjpeg", "q:v": quality, "fps_mode": "passthrough",
                               "map_metadata": -1, "map_chapters": -1}
    if single:
        options["update"] = 1
    else:
        options["start_number"] = 0
    return stream.filter("scale", out_range="pc").output(str(path), **options)


def read_picture(path: Path) -> VideoFrame:
    """Decode the one picture of a JPEG file; VerifyFailed if it is missing or does not decode."""
    if not path.is_file():
        raise VerifyFailed(f"{path.name} is missing")
    if path.stat().st_size == 0:
        raise VerifyFailed(f"{path.name} is empty")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VerifyFailed(f"{path.name} holds no picture")
            for frame in container.decode(video=0):
                return frame
    except av.error.FFmpegError as exc:
        raise VerifyFailed(f"{path.name} does not decode as a picture: {exc.strerror}") from None
    raise VerifyFailed(f"{path.name} holds no picture")
