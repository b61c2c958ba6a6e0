"""Packaged captions line up with the picture in hls.js, for an MPEG-TS ladder and for fMP4: each
cue starts as far from the first frame as it does from the start of the source.

The master playlists here get their SUBTITLES group from the test (the ladder's master writer
adds it in the pipeline), so what is checked is the segments' X-TIMESTAMP-MAP."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from videoctl.domain.ladder import choose_rungs, parse_ladder
from videoctl.domain.outputs import SubtitleRendition
from videoctl.media.binary import find_ffmpeg
from videoctl.media.captions import package_captions
from videoctl.media.encode import MEDIA_PLAYLIST, encode_ladder
from videoctl.media.probe import probe
from videoctl.media.sample import generate_sample_clip

pytestmark = pytest.mark.browser

SEGMENT_S = 2
#: (start s, end s, text): one cue in each 2 s segment, one across a boundary.
CUES = ((0.5, 1.5, "zero"), (2.5, 3.5, "one"), (3.6, 4.4, "across"), (4.5, 5.5, "two"))
#: A picture is 1/30 s; hls.js computes cue times in 90 kHz ticks.
TOLERANCE_S = 0.04

CUE_TIMES = """Array.from(video.textTracks).filter(t => t.mode !== "disabled")
  .flatMap(t => Array.from(t.cues || []).map(c => [c.startTime, c.endTime, c.text]))"""


def srt(path: Path) -> Path:
    def stamp(seconds: float) -> str:
        return f"00:00:{int(seconds):02d},{round(seconds % 1 * 1000):03d}"

    path.write_text("".join(f"{n}\n{stamp(start)} --> {stamp(end)}\n{text}\n\n"
                            for n, (start, end, text) in enumerate(CUES, start=1)), encoding="utf-8")
    return path


def with_subtitles(master: Path, renditions: list[SubtitleRendition]) -> None:
    """Add the SUBTITLES group to *master*, as the ladder's master writer does."""
    lines = master.read_text().splitlines()
    media = [f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{r.name}",LANGUAGE="{r.language}",'
             f'DEFAULT={"YES" if r.default else "NO"},AUTOSELECT=YES,URI="{r.playlist}"' for r in renditions]
    lines = [f'{line},SUBTITLES="subs"' if line.startswith("#EXT-X-STREAM-INF:") else line for line in lines]
    master.write_text("\n".join([lines[0], *media, *lines[1:]]) + "\n")


def ts_ladder(source: Path, out_dir: Path) -> Path:
    info = probe(source)
    rungs = choose_rungs(parse_ladder("360:800,240:400"), info.height)
    encode_ladder(find_ffmpeg(), source, out_dir, info, rungs, segment_s=SEGMENT_S, preset="veryfast")
    return out_dir / rungs[-1].name / MEDIA_PLAYLIST


def fmp4_ladder(source: Path, out_dir: Path) -> Path:
    """One fMP4 rendition with B-frames, its first picture shown after its first decode time."""
    out_dir.mkdir(parents=True)
    subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(source), "-map", "0:v", "-map", "0:a", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", str(30 * SEGMENT_S), "-sc_threshold", "0", "-c:a", "aac",
                    "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
                    "-master_pl_name", "master.m3u8", "-hls_segment_filename", str(out_dir / "seg_%03d.m4s"),
                    str(out_dir / MEDIA_PLAYLIST)], check=True, capture_output=True)
    return out_dir / MEDIA_PLAYLIST


def cue_offsets(page) -> tuple[float, list[tuple[float, float, str]]]:
    page.evaluate("playHls('/media/hls/master.m3u8')")
    deadline = time.monotonic() + 60
    while not page.evaluate("window.record.ready"):
        assert time.monotonic() < deadline and not page.evaluate("window.record.fatal.length")
        time.sleep(0.1)
    page.evaluate("hlsCaptions('en')")
    while page.evaluate("video.currentTime") < 5.8 or len(page.evaluate(CUE_TIMES)) < len(CUES):
        record = page.evaluate("window.record")
        assert not record["fatal"], record
        assert time.monotonic() < deadline, (record, page.evaluate(CUE_TIMES))
        time.sleep(0.1)
    first_frame = page.evaluate("video.buffered.start(0)")
    return first_frame, sorted(page.evaluate(CUE_TIMES))


@pytest.mark.parametrize("make_ladder", [ts_ladder, fmp4_ladder], ids=["ts", "fmp4"])
def test_cues_are_shown_when_their_picture_is(player_page, tmp_path, make_ladder):
    source = generate_sample_clip(find_ffmpeg(), tmp_path / "clip.mp4", seconds=6, width=640, height=360)
    out_dir = tmp_path / "media" / "hls"
    video_playlist = make_ladder(source, out_dir)
    renditions = package_captions(find_ffmpeg(), source, {"en": srt(tmp_path / "en.srt")}, out_dir, probe(source),
                                  segment_s=SEGMENT_S, video_playlist=video_playlist)
    with_subtitles(out_dir / "master.m3u8", renditions)

    page, _, console = player_page(tmp_path / "media")
    first_frame, cues = cue_offsets(page)
    shown = [(round(start - first_frame, 2), round(end - first_frame, 2), text) for start, end, text in cues]
    assert len(cues) == len(CUES), (cues, console)  # the cue across a boundary is shown once
    for (start, end, text), (want_start, want_end, want_text) in zip(shown, CUES, strict=True):
        assert text == want_text
        assert abs(start - want_start) <= TOLERANCE_S and abs(end - want_end) <= TOLERANCE_S, (shown, first_frame)
