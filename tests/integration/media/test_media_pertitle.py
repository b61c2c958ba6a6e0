"""The per-title probe on real encodes: a still lecture-like clip gets a higher CRF (fewer bits) than a
grainy moving one for the same target, and its top rung, encoded at that CRF, scores near the target."""

from __future__ import annotations

import pytest

from tests import clips
from videoctl.domain import pertitle
from videoctl.domain.ladder import choose_rungs, output_fps, parse_ladder
from videoctl.domain.quality import summarize
from videoctl.media import encode, quality
from videoctl.media.probe import probe
from videoctl.services.pertitle import decide_ladder

pytestmark = pytest.mark.slow

TARGET = 94.0


def _decide(ffmpeg_bin, source, workdir):
    info = probe(source)
    rungs = choose_rungs(parse_ladder("180:3000"), info.short_side)
    decision = decide_ladder(ffmpeg_bin, source, info, rungs, mode=pertitle.PER_TITLE, target=TARGET,
                             preset="veryfast", segment_s=1, workdir=workdir, stored=None)
    return info, rungs, decision


def test_a_still_lecture_gets_a_higher_crf_than_grainy_motion_and_reaches_the_target(ffmpeg_bin, tmp_path):
    lecture = clips.lecture_like(ffmpeg_bin, tmp_path)
    info, rungs, easy = _decide(ffmpeg_bin, lecture, tmp_path / "probe-lecture")
    _, _, hard = _decide(ffmpeg_bin, clips.noisy_motion(ffmpeg_bin, tmp_path), tmp_path / "probe-noisy")

    assert [p.crf for p in easy.points] == list(pertitle.PROBE_CRFS)
    assert len(easy.pieces) == pertitle.PROBE_PIECES and easy.probe_cpu_s > 0
    assert easy.crf["180p"] > hard.crf["180p"]
    assert easy.predicted_kbps["180p"] < hard.predicted_kbps["180p"]

    # The lecture's ladder, encoded at its CRF and scored whole, lands near the target.
    out_dir = tmp_path / "ladder"
    encode.encode_ladder(ffmpeg_bin, lecture, out_dir, info, rungs, segment_s=1, crfs=easy.crf)
    [frames] = quality.score(ffmpeg_bin, lecture, info, [quality.Piece(None, (out_dir / "180p" / "index.m3u8",))],
                             fps=output_fps(info.fps), workdir=tmp_path / "scores")
    measured = summarize([f.vmaf for f in frames], [f.psnr_y for f in frames]).vmaf_mean
    assert TARGET - 2.5 <= measured <= TARGET + 3.5, (easy.crf, easy.points, measured)


def test_each_rung_gets_its_own_crf_in_the_one_process(ffmpeg_bin, clip, tmp_path):
    source = clip("normal")
    info = probe(source)
    rungs = choose_rungs(parse_ladder("360:3000,180:3000"), info.short_side)
    sizes = {}
    for crfs in ({"360p": 20, "180p": 20}, {"360p": 20, "180p": 40}):
        out_dir = tmp_path / f"crf-{crfs['180p']}"
        encode.encode_ladder(ffmpeg_bin, source, out_dir, info, rungs, segment_s=1, crfs=crfs)
        sizes[crfs["180p"]] = {name: sum(p.stat().st_size for p in (out_dir / name).glob("seg_*")) for name in crfs}
    assert sizes[40]["180p"] < sizes[20]["180p"] / 2  # the 180p rung followed its own CRF
    assert sizes[40]["360p"] == pytest.approx(sizes[20]["360p"], rel=0.02)  # and the 360p rung its own
