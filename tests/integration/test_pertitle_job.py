"""run-job with the per-title ladder: the decision and its measured points are stored on the job before
the encode and shown by `jobs show`; a re-encode reuses them without probing, and derives the CRFs
again from the same points when only the target changed. Real run-job, real PostgreSQL."""

from __future__ import annotations

import os

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.domain import pertitle
from videoctl.domain.pertitle import LadderDecision
from videoctl.domain.states import JobState
from videoctl.media import complexity
from videoctl.media.binary import find_ffmpeg
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow


@pytest.fixture
def run_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "180:3000")
    monkeypatch.setenv("VIDEOCTL_LADDER_MODE", "per-title")
    monkeypatch.setenv("VIDEOCTL_PER_TITLE_AFTER_SECONDS", "0")  # the test clips are seconds long
    monkeypatch.setenv("VIDEOCTL_MEASURE_QUALITY", "off")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return dict(os.environ)


def _run(capsys, ctx, video_id, *, reencode=False):
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video_id, max_attempts=3, reencode=reencode))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout + result.stderr
    done = ctx.jobs.get(job.id)
    assert done.state is JobState.SUCCEEDED
    return done


def test_the_ladder_decision_is_stored_shown_and_reused_without_probing(capsys, ctx, run_env, tmp_path,
                                                                      monkeypatch):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.lecture_like(find_ffmpeg(), tmp_path))
    first = _run(capsys, ctx, video.id)
    ladder = LadderDecision.from_dict(first.decision["ladder"])
    assert ladder is not None and ladder.mode == pertitle.PER_TITLE and ladder.target == 94.0
    assert [p.crf for p in ladder.points] == list(pertitle.PROBE_CRFS) and ladder.probe_cpu_s > 0

    shown = run_cli(capsys, "jobs", "show", str(first.id)).stdout
    text = " ".join(shown.replace("│", " ").split())  # the table wraps the ladder's cell over lines
    assert "per-title, target VMAF 94" in text and f"180p CRF {ladder.crf['180p']}" in text
    assert "probe CRF 22: VMAF" in text and f"CPU-s over {len(ladder.pieces)} piece(s)" in text
    # The pieces start on the ladder's keyframes (4 s segments at 30 fps): on this short clip,
    # quarters that share a keyframe share a piece.
    assert len(ladder.pieces) >= 2 and all(piece.start_s % 4 == 0 for piece in ladder.pieces)

    def no_probe(*args, **kwargs):
        raise AssertionError("the source was probed again")

    monkeypatch.setattr(complexity, "measure_crfs", no_probe)
    again = _run(capsys, ctx, video.id, reencode=True)
    assert again.decision == first.decision

    # Only the target changed: the same points, the CRF derived again, still no probe.
    monkeypatch.setenv("VIDEOCTL_VMAF_TARGET", "85")
    lower = LadderDecision.from_dict(_run(capsys, ctx, video.id, reencode=True).decision["ladder"])
    assert lower.points == ladder.points and lower.target == 85.0
    assert lower.crf["180p"] > ladder.crf["180p"] or lower.crf["180p"] == pertitle.CRF_RANGE[1]


@pytest.mark.parametrize(("mode", "after_s"), [("fixed", "0"), ("per-title", "120")])
def test_the_fixed_ladder_probes_nothing_and_says_so(capsys, ctx, run_env, tmp_path, monkeypatch, mode, after_s):
    # Asked for, or per-title on a source shorter than VIDEOCTL_PER_TITLE_AFTER_SECONDS (4 s < 120 s).
    monkeypatch.setenv("VIDEOCTL_LADDER_MODE", mode)
    monkeypatch.setenv("VIDEOCTL_PER_TITLE_AFTER_SECONDS", after_s)
    monkeypatch.setattr(complexity, "measure_crfs", lambda *a, **k: pytest.fail("the fixed ladder probed"))
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.normal(find_ffmpeg(), tmp_path))
    done = _run(capsys, ctx, video.id)
    assert done.decision["ladder"]["mode"] == "fixed" and done.decision["ladder"]["crf"] == {"180p": 23}
    assert "fixed: 180p CRF 23" in run_cli(capsys, "jobs", "show", str(done.id)).stdout
