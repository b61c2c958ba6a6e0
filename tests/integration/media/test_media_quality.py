"""Scoring encodes against their source with the pinned ffmpeg's libvmaf: real encodes of generated clips.

A deliberately bad encode scores clearly below a good one; a cut segment lines up frame for
frame with the same stretch of the whole rendition; a ladder of the sources whose geometry is
not plain (rotated, non-square pixels, odd sizes, HDR) is measured at the source's display size.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from videoctl.domain.errors import MediaError
from videoctl.domain.ladder import choose_rungs, output_fps, parse_ladder
from videoctl.domain.quality import TimeRange, summarize
from videoctl.media import encode, hls, quality
from videoctl.media.hls import load_media_playlist
from videoctl.media.probe import probe
from videoctl.services.ladder_quality import LocalLadder, measure_ladder

pytestmark = pytest.mark.slow


def _encode(ffmpeg_bin: str, source: Path, path: Path, *, scale: str, crf: int) -> Path:
    subprocess.run([ffmpeg_bin, "-v", "error", "-y", "-i", str(source), "-vf", f"scale={scale}", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", str(crf), "-an", str(path)], check=True, capture_output=True)
    return path


def _summary(frames: list[quality.FrameScore]):
    return summarize([f.vmaf for f in frames], [f.psnr_y for f in frames])


def test_a_bad_encode_scores_clearly_lower_than_a_good_one(ffmpeg_bin, clip, tmp_path):
    source = clip("normal")
    info = probe(source)
    good = _encode(ffmpeg_bin, source, tmp_path / "good.mp4", scale="640:360", crf=18)
    bad = _encode(ffmpeg_bin, source, tmp_path / "bad.mp4", scale="320:180", crf=51)  # a quarter the pixels, CRF 51

    good_frames, bad_frames = quality.score(ffmpeg_bin, source, info, [quality.Piece(None, (good, bad))],
                                            fps=output_fps(info.fps), workdir=tmp_path / "work", threads=2)

    frames = round(info.duration_s * output_fps(info.fps))
    assert len(good_frames) == len(bad_frames) == frames  # every frame, each once
    good_score, bad_score = _summary(good_frames), _summary(bad_frames)
    assert bad_score.vmaf_mean < good_score.vmaf_mean / 2  # not a rounding difference: a different class
    assert bad_score.vmaf_p5 < good_score.vmaf_p5
    assert bad_score.psnr_y_mean is not None and good_score.psnr_y_mean is not None
    assert bad_score.psnr_y_mean < good_score.psnr_y_mean
    assert all(0 <= f.vmaf <= 100 for f in good_frames + bad_frames)
    assert not list((tmp_path / "work").iterdir())  # the per-frame logs are read and gone


@pytest.mark.parametrize("segment_format", [encode.FMP4, encode.TS])
def test_a_cut_segment_lines_up_frame_for_frame_with_the_whole_rendition(ffmpeg_bin, clip, tmp_path, segment_format):
    """The stretch of the source a segment holds, read by seeking, meets the segment's frames one for one:
    the same frames, so the same PSNR, as when the whole rendition is scored from its playlist."""
    source = clip("normal")
    info = probe(source)
    rungs = choose_rungs(parse_ladder("360:800,240:150"), info.short_side)
    out_dir = tmp_path / "hls"
    encode.encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=1, segment_format=segment_format)
    fps = output_fps(info.fps)
    playlists = tuple(out_dir / rung.name / encode.MEDIA_PLAYLIST for rung in rungs)

    whole = quality.score(ffmpeg_bin, source, info, [quality.Piece(None, playlists)], fps=fps,
                          workdir=tmp_path / "whole", threads=2)

    playlist = load_media_playlist(out_dir / rungs[0].name)
    index = 1
    start = sum(segment.duration_s for segment in playlist.segments[:index])
    duration = playlist.segments[index].duration_s
    cuts = []
    for rung in rungs:
        rendition = load_media_playlist(out_dir / rung.name)
        init = out_dir / rung.name / rendition.map_uri if rendition.map_uri else None  # none for MPEG-TS
        cuts.append(quality.cut(init, [out_dir / rung.name / rendition.segments[index].uri],
                                tmp_path / f"cut-{rung.name}"))
    parts = quality.score(ffmpeg_bin, source, info, [quality.Piece(TimeRange(start, duration), tuple(cuts))], fps=fps,
                          workdir=tmp_path / "cut", threads=2)

    first = round(start * fps)
    for whole_frames, cut_frames in zip(whole, parts, strict=True):
        assert len(cut_frames) == round(duration * fps)
        assert [f.psnr_y for f in cut_frames] == [f.psnr_y for f in whole_frames[first:first + len(cut_frames)]]


@pytest.mark.parametrize("name", ["rotated", "anamorphic", "odd_size", "hdr_hlg", "variable_frame_rate",
                                  "joined_recordings"])
def test_the_ladder_of_a_source_with_its_own_geometry_is_measured_at_its_display_size(ffmpeg_bin, clip, tmp_path,
                                                                                   name):
    source = clip(name)
    info = probe(source)
    # The full-size rung and one at about a third of it, far below what the source needs.
    rungs = choose_rungs(parse_ladder(f"{info.short_side // 2 * 2}:2000,{info.short_side // 6 * 2}:60"),
                         info.short_side)
    out_dir = tmp_path / "hls"
    encode.encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=1)
    hls.finalize_master(out_dir, info, rungs)

    measured = measure_ladder(LocalLadder(out_dir), ffmpeg=ffmpeg_bin, source=source, info=info, mode="sample",
                              samples=2, workdir=tmp_path / "work", threads=2)

    top, low = measured
    assert (top.rung, low.rung) == (rungs[0].name, rungs[1].name) and top.top_rung and not low.top_rung
    assert top.segments == low.segments == 2
    assert top.score.vmaf_mean > low.score.vmaf_mean  # at the display size, the sharper rung wins
    assert top.score.psnr_y_mean > low.score.psnr_y_mean


def test_joined_recordings_are_scored_on_the_ladders_timeline(ffmpeg_bin, clip, tmp_path):
    """Two recordings joined in an MPEG-TS, the second's clock 5000 s on: the encode closed the jump,
    so a time of the ladder is not that time of the file. A sample (here every segment, each cut
    on the ladder's timeline) meets the same frames as the whole rendition read from the start."""
    source = clip("joined_recordings")
    info = probe(source)
    assert info.timestamps_jump
    rungs = choose_rungs(parse_ladder("240:400"), info.short_side)
    out_dir = tmp_path / "hls"
    encode.encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=1)
    hls.finalize_master(out_dir, info, rungs)
    segments = len(load_media_playlist(out_dir / rungs[0].name).segments)

    measured = {mode: measure_ladder(LocalLadder(out_dir), ffmpeg=ffmpeg_bin, source=source, info=info, mode=mode,
                                     samples=segments, workdir=tmp_path / mode, threads=2)[0]
                for mode in ("sample", "full")}

    sample, full = measured["sample"], measured["full"]
    assert sample.segments == full.segments == segments > 1
    assert sample.score.frames == full.score.frames
    assert sample.score.psnr_y_mean == full.score.psnr_y_mean  # frame for frame the same pairs


def test_only_a_file_whose_timestamps_jump_says_so(ffmpeg_bin, clip, tmp_path):
    plain = tmp_path / "plain.ts"  # MPEG-TS, whose timestamps may jump, but do not
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(clip("normal")), "-c", "copy", str(plain)], check=True)
    assert not probe(plain).timestamps_jump and not probe(clip("normal")).timestamps_jump
    assert probe(clip("joined_recordings")).timestamps_jump


def test_a_broken_input_is_a_media_error(ffmpeg_bin, clip, tmp_path):
    source = clip("normal")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(MediaError):
        quality.score(ffmpeg_bin, source, probe(source), [quality.Piece(None, (broken,))], fps=output_fps(30),
                      workdir=tmp_path / "work")


def test_a_stretch_the_source_does_not_have_scores_nothing_and_says_so(ffmpeg_bin, clip, tmp_path):
    source = clip("normal")
    info = probe(source)
    beyond = TimeRange(info.duration_s + 60, 1.0)
    with pytest.raises(MediaError, match=r"libvmaf scored no frame of normal\.mp4 at \d+"):
        quality.score(ffmpeg_bin, source, info, [quality.Piece(beyond, (source,))], fps=output_fps(info.fps),
                      workdir=tmp_path / "work")


def test_an_ffmpeg_without_libvmaf_is_named_with_the_remedy(clip, tmp_path):
    """A VIDEOCTL_FFMPEG built without libvmaf: the error says so and how to get one that has it."""
    source = clip("normal")
    stub = tmp_path / "ffmpeg-without-vmaf"
    stub.write_text("#!/bin/sh\necho \"[AVFilterGraph @ 0x1] No such filter: 'libvmaf'\" >&2\nexit 1\n")
    stub.chmod(0o755)
    with pytest.raises(MediaError, match="has no libvmaf filter") as raised:
        quality.score(str(stub), source, probe(source), [quality.Piece(None, (source,))], fps=output_fps(30),
                      workdir=tmp_path / "work")
    assert "VIDEOCTL_FFMPEG" in raised.value.hint

