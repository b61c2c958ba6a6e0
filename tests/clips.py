"""Tiny synthetic clips for media tests: each shape of upload the pipeline must handle or refuse.

Every function writes one file into ``directory`` and returns its path. They are short
(2 s) and small (≤ 640x360) so a whole suite of encodes stays fast on 2 cores. ``PLAYABLE``
and ``REFUSED`` name them for parametrised tests.

    from tests.clips import PLAYABLE, normal
    path = normal(ffmpeg_bin, tmp_path)
"""

from __future__ import annotations

import array
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import av

from videoctl.media.sample import generate_sample_clip

SECONDS = 2

ClipMaker = Callable[[str, Path], Path]


def _ffmpeg(ffmpeg_bin: str, *args: str, stdout_to: Path | None = None) -> None:
    command = [ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    if stdout_to is None:
        subprocess.run(command, check=True, capture_output=True)
    else:
        with stdout_to.open("wb") as out:
            subprocess.run(command, check=True, stdout=out, stderr=subprocess.PIPE)


def _pattern(size: str, rate: int | str = 30, seconds: float = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def _tone(seconds: float = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]


def normal(ffmpeg_bin: str, directory: Path) -> Path:
    """640x360 30 fps H.264 + AAC; the MP4 index (moov) is at the END, as ffmpeg writes it."""
    return generate_sample_clip(ffmpeg_bin, directory / "normal.mp4", seconds=SECONDS)


def two_audio_tracks(ffmpeg_bin: str, directory: Path) -> Path:
    """A mono commentary first, then the stereo programme flagged default, as players pick it."""
    path = directory / "two_audio_tracks.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("640x360"), *_tone(), *_tone(), "-map", "0:v", "-map", "1:a", "-map", "2:a",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac:a:1", "2",
            "-disposition:a:0", "0", "-disposition:a:1", "default", str(path))
    return path


#: ``lecture_tracks``: (language, title, sample rate, channels, signal) of each audio track, in file order.
#: The Korean track is the default; the English one is quiet (about -32 LUFS) at 96 kHz; the
#: described one has loud clicks over a quiet tone, so normalising it needs the limiter.
LECTURE_TRACKS = (
    ("eng", None, 96_000, 1, "0.04*sin(2*PI*300*t)"),
    ("kor", "한국어 통역", 44_100, 2, "0.1*sin(2*PI*440*t)"),
    ("eng", None, 48_000, 1, "0.05*sin(2*PI*300*t)+if(lt(mod(t\\,1)\\,0.0015)\\,0.6*sin(2*PI*1500*t)\\,0)"),
)
LECTURE_SECONDS = 4


def lecture_tracks(ffmpeg_bin: str, directory: Path, seconds: float = LECTURE_SECONDS) -> Path:
    """A lecture with three audio tracks: English, a Korean interpretation flagged default, and an
    English audio description (visual_impaired), each tagged with its language, at three rates."""
    path = directory / "lecture_tracks.mkv"
    inputs, maps, tags = [], ["-map", "0:v"], []
    for n, (language, title, rate, channels, signal) in enumerate(LECTURE_TRACKS):
        layout = "mono" if channels == 1 else "stereo"
        inputs += ["-f", "lavfi", "-i", f"aevalsrc=exprs='{signal}':s={rate}:c={layout}:d={seconds}"]
        maps += ["-map", f"{n + 1}:a"]
        tags += [f"-metadata:s:a:{n}", f"language={language}"]
        if title:
            tags += [f"-metadata:s:a:{n}", f"title={title}"]
    _ffmpeg(ffmpeg_bin, *_pattern("320x180", seconds=seconds), *inputs, *maps, *tags,
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "flac",
            "-disposition:a:0", "0", "-disposition:a:1", "default", "-disposition:a:2", "visual_impaired",
            str(path))
    return path


#: Where the tone of ``late_audio`` starts, after the video.
LATE_AUDIO_S = 0.5


def late_audio(ffmpeg_bin: str, directory: Path) -> Path:
    """640x360 with its audio track starting 0.5 s after its video, as some cameras and editors write it."""
    path = directory / "late_audio.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("640x360"), "-itsoffset", str(LATE_AUDIO_S), *_tone(SECONDS - LATE_AUDIO_S),
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def first_sound_s(media: Path) -> float:
    """When the audio of a file or playlist first rises above a whisper, in its own timeline (``late_audio``'s tone)."""
    with av.open(str(media)) as container:
        for frame in container.decode(audio=0):
            samples = array.array("f", bytes(frame.planes[0]))[: frame.samples]  # AAC decodes to float planes
            loud = next((index for index, value in enumerate(samples) if abs(value) > 0.05), None)
            if loud is not None:
                return float(frame.time) + loud / frame.sample_rate
    raise AssertionError(f"{media} is silent")


def black_start(ffmpeg_bin: str, directory: Path) -> Path:
    """One second of black, then the pattern fading in over one second, then the pattern: a poster must skip both."""
    path = directory / "black_start.mp4"
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", "color=black:size=640x360:rate=30:duration=1", *_pattern("640x360", seconds=3),
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,fade=in:st=1:d=1[v]", "-map", "[v]",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path))
    return path


def all_black(ffmpeg_bin: str, directory: Path) -> Path:
    """Nothing but black with a tone, like a podcast uploaded as a video: no frame makes a representative poster."""
    path = directory / "all_black.mp4"
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", f"color=black:size=320x240:rate=30:duration={SECONDS}", *_tone(),
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def no_audio(ffmpeg_bin: str, directory: Path) -> Path:
    return generate_sample_clip(ffmpeg_bin, directory / "no_audio.mp4", seconds=SECONDS, audio=False)


def rotated(ffmpeg_bin: str, directory: Path) -> Path:
    """Coded 320x240 with a 90° display matrix, like a phone held upright: displayed 240x320."""
    plain = generate_sample_clip(ffmpeg_bin, directory / "rotated_plain.mp4", seconds=SECONDS, width=320, height=240)
    path = directory / "rotated.mp4"
    # Remux (no re-encode) so the rotation stays metadata instead of being applied.
    _ffmpeg(ffmpeg_bin, "-display_rotation", "90", "-i", str(plain), "-c", "copy", str(path))
    plain.unlink()
    return path


def portrait(ffmpeg_bin: str, directory: Path) -> Path:
    """360x640 coded upright (no rotation metadata), with audio: a phone video exported upright."""
    return generate_sample_clip(ffmpeg_bin, directory / "portrait.mp4", seconds=SECONDS, width=360, height=640)


def odd_size(ffmpeg_bin: str, directory: Path) -> Path:
    """641x361 (4:4:4, which allows odd sizes), square pixels."""
    path = directory / "odd_size.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("640x360"), "-vf", "scale=641:361,setsar=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", str(path))
    return path


def anamorphic(ffmpeg_bin: str, directory: Path) -> Path:
    """Coded 320x240 with 4:3 pixels: displayed 427x240 (16:9)."""
    path = directory / "anamorphic.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), "-vf", "setsar=4/3", "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


def variable_frame_rate(ffmpeg_bin: str, directory: Path) -> Path:
    """30 fps for the first second, then 10 fps: the timestamps really vary."""
    path = directory / "vfr.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240", seconds=3), "-vf", r"select=lt(n\,30)+not(mod(n\,3))",
            "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


#: Where the second recording of ``joined_recordings`` starts: over an hour after the first.
JOIN_JUMP_S = 5000


def joined_recordings(ffmpeg_bin: str, directory: Path) -> Path:
    """Two 1 s MPEG-TS recordings with audio joined byte for byte, the second's clock 5000 s later.

    Like camcorder clips or a stream's recordings concatenated: the timestamps jump, so the
    file spans 5001 s of timestamps but holds 2 s of content.
    """
    parts = []
    for index, offset in enumerate((0, JOIN_JUMP_S)):
        part = directory / f"part{index}.ts"
        _ffmpeg(ffmpeg_bin, *_pattern("320x240", seconds=SECONDS / 2), *_tone(SECONDS / 2),
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                "-output_ts_offset", str(offset), "-f", "mpegts", str(part))
        parts.append(part)
    path = directory / "joined_recordings.ts"
    path.write_bytes(b"".join(part.read_bytes() for part in parts))
    for part in parts:
        part.unlink()
    return path


#: The captions every clip with a subtitle stream carries, as (start s, end s, text).
SUBTITLE_CUES = ((0.5, 1.2, "first caption"), (1.3, 1.9, "second caption"))


def _srt_time(seconds: float) -> str:
    return f"00:00:{int(seconds):02d},{round(seconds % 1 * 1000):03d}"


def _subtitle_file(directory: Path) -> Path:
    path = directory / "subtitles.srt"
    path.write_text("".join(f"{n}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n\n"
                            for n, (start, end, text) in enumerate(SUBTITLE_CUES, start=1)), encoding="utf-8")
    return path


def mov_text_subtitles(ffmpeg_bin: str, directory: Path) -> Path:
    """MP4 with audio and a Korean mov_text (3GPP timed text) track, as phone editors export them."""
    path = directory / "mov_text_subtitles.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), *_tone(), "-i", str(_subtitle_file(directory)),
            "-map", "0:v", "-map", "1:a", "-map", "2:s", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
            "-c:s", "mov_text", "-metadata:s:s:0", "language=kor", str(path))
    return path


def mkv_text_subtitles(ffmpeg_bin: str, directory: Path) -> Path:
    """Matroska with an English SRT track, then an ASS track naming no language, as rips carry them."""
    path = directory / "mkv_text_subtitles.mkv"
    subtitles = str(_subtitle_file(directory))
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), "-i", subtitles, "-i", subtitles,
            "-map", "0:v", "-map", "1:s", "-map", "2:s", "-c:v", "libx264", "-preset", "ultrafast",
            "-c:s:0", "srt", "-c:s:1", "ass", "-metadata:s:s:0", "language=eng", str(path))
    return path


def high_fps(ffmpeg_bin: str, directory: Path) -> Path:
    """120 fps with audio, 320x240."""
    path = directory / "high_fps.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240", rate=120), *_tone(), "-c:v", "libx264", "-preset", "ultrafast",
            "-c:a", "aac", str(path))
    return path


def ten_bit(ffmpeg_bin: str, directory: Path) -> Path:
    """H.264 High 10, yuv420p10le, SDR."""
    path = directory / "ten_bit.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p10le", str(path))
    return path


def hdr_hlg(ffmpeg_bin: str, directory: Path) -> Path:
    """10-bit HEVC tagged BT.2020 / HLG, like an iPhone recording."""
    path = directory / "hdr_hlg.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"),
            "-vf", "setparams=color_trc=arib-std-b67:color_primaries=bt2020:colorspace=bt2020nc,format=yuv420p10le",
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", str(path))
    return path


def no_duration(ffmpeg_bin: str, directory: Path) -> Path:
    """Matroska written to a pipe: no duration in the header, like a browser recording."""
    path = directory / "no_duration.mkv"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), "-c:v", "libx264", "-preset", "ultrafast", "-f", "matroska", "-",
            stdout_to=path)
    return path


def audio_only(ffmpeg_bin: str, directory: Path) -> Path:
    path = directory / "audio_only.m4a"
    _ffmpeg(ffmpeg_bin, *_tone(), "-c:a", "aac", str(path))
    return path


def still_image(ffmpeg_bin: str, directory: Path) -> Path:
    path = directory / "still.png"
    _ffmpeg(ffmpeg_bin, *_pattern("320x240"), "-frames:v", "1", str(path))
    return path


def interlaced(ffmpeg_bin: str, directory: Path) -> Path:
    """Top-field-first interlaced H.264 with audio, as broadcast and camcorder files are."""
    path = directory / "interlaced.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("640x360", rate=60), *_tone(),
            "-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags", "+ilme+ildct",
            "-c:v", "libx264", "-x264opts", "tff=1", "-preset", "veryfast", "-c:a", "aac", str(path))
    return path


def tiny(ffmpeg_bin: str, directory: Path) -> Path:
    """64x8: below the 16-pixel minimum side."""
    path = directory / "tiny.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("64x8"), "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


def not_media(ffmpeg_bin: str, directory: Path) -> Path:
    """Random bytes behind a video file name."""
    path = directory / "not_media.mp4"
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))
    return path


def zero_byte(ffmpeg_bin: str, directory: Path) -> Path:
    path = directory / "zero_byte.mp4"
    path.write_bytes(b"")
    return path


def truncated(ffmpeg_bin: str, directory: Path) -> Path:
    """The normal clip cut in half: with moov at the end, the index is gone."""
    return _first_half(normal(ffmpeg_bin, directory), directory / "truncated.mp4")


def truncated_faststart(ffmpeg_bin: str, directory: Path) -> Path:
    """Index moved to the front, then cut in half: the header is fine, the data is not."""
    faststart = directory / "faststart.mp4"
    _ffmpeg(ffmpeg_bin, "-i", str(normal(ffmpeg_bin, directory)), "-c", "copy", "-movflags", "+faststart", str(faststart))
    return _first_half(faststart, directory / "truncated_faststart.mp4")


def _first_half(source: Path, path: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


#: How long the ``CONTAINERS`` clips last: each only shows its container opens and encodes.
CONTAINER_SECONDS = 1


def _in_container(name: str, *codecs: str, size: str = "320x240", stereo: bool = False) -> ClipMaker:
    """A maker of a 1 s clip with a tone in the file ``name`` (its container from its extension or ``-f``)."""

    def make(ffmpeg_bin: str, directory: Path) -> Path:
        path = directory / name
        channels = ["-ac", "2"] if stereo else []
        _ffmpeg(ffmpeg_bin, *_pattern(size, rate=25, seconds=CONTAINER_SECONDS), *_tone(CONTAINER_SECONDS),
                *codecs, *channels, str(path))
        return path

    make.__name__ = f"in_{name.replace('.', '_')}"
    return make


_H264_AAC = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")

#: One clip in each container the allowlist accepts (``domain.containers.ALLOWED_DEMUXERS``),
#: with codecs that container's files usually carry.
CONTAINERS: dict[str, ClipMaker] = {
    "mov": _in_container("camera.mov", *_H264_AAC),
    "3gp": _in_container("phone.3gp", *_H264_AAC),
    "webm": _in_container("browser.webm", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"),
    "m2ts": _in_container("camcorder.mts", *_H264_AAC, "-f", "mpegts", "-mpegts_m2ts_mode", "1"),
    "mpeg_ps": _in_container("dvd.mpg", "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"),
    "avi": _in_container("old.avi", "-c:v", "mpeg4", "-c:a", "libmp3lame"),
    "wmv": _in_container("lecture.wmv", "-c:v", "wmv2", "-c:a", "wmav2"),
    "flv": _in_container("stream.flv", "-c:v", "flv", "-ar", "44100", "-c:a", "libmp3lame"),
    "mxf": _in_container("broadcast.mxf", "-c:v", "mpeg2video", "-c:a", "pcm_s16le"),
    "ogg": _in_container("free.ogv", "-c:v", "libtheora", "-c:a", "libvorbis"),
    "dv": _in_container("tape.dv", "-c:v", "dvvideo", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", "-f", "dv",
                        size="720x576", stereo=True),
}


#: Clips the pipeline must encode.
PLAYABLE: dict[str, ClipMaker] = {
    "normal": normal,
    "no_audio": no_audio,
    "two_audio_tracks": two_audio_tracks,
    "rotated": rotated,
    "portrait": portrait,
    "late_audio": late_audio,
    "black_start": black_start,
    "all_black": all_black,
    "odd_size": odd_size,
    "anamorphic": anamorphic,
    "variable_frame_rate": variable_frame_rate,
    "joined_recordings": joined_recordings,
    "high_fps": high_fps,
    "ten_bit": ten_bit,
    "hdr_hlg": hdr_hlg,
    "no_duration": no_duration,
    "interlaced": interlaced,
    "mov_text_subtitles": mov_text_subtitles,
    "mkv_text_subtitles": mkv_text_subtitles,
}

#: Clips for the tests of one feature, not the whole matrix of PLAYABLE.
SPECIAL: dict[str, ClipMaker] = {
    "lecture_tracks": lecture_tracks,
}

#: Clips probe must refuse as InvalidInput.
REFUSED: dict[str, ClipMaker] = {
    "audio_only": audio_only,
    "still_image": still_image,
    "tiny": tiny,
    "not_media": not_media,
    "zero_byte": zero_byte,
    "truncated": truncated,
    "truncated_faststart": truncated_faststart,
}


def lecture_like(ffmpeg_bin: str, directory: Path, seconds: float = 10) -> Path:
    """A still slide (colour bars) with a small moving inset in one corner, as a lecture's camera
    picture-in-picture: little changes, so a per-title ladder can spend few bits on it."""
    path = directory / "lecture_like.mp4"
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", f"smptehdbars=size=320x180:rate=30:duration={seconds}",
            *_pattern("64x36", seconds=seconds), "-filter_complex", "[0:v][1:v]overlay=x=248:y=136[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", str(path))
    return path


def noisy_motion(ffmpeg_bin: str, directory: Path, seconds: float = 10) -> Path:
    """The moving test pattern under strong temporal grain: every frame new, hard to compress."""
    path = directory / "noisy_motion.mp4"
    _ffmpeg(ffmpeg_bin, *_pattern("320x180", seconds=seconds), "-vf", "noise=alls=30:allf=t+u",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", str(path))
    return path
