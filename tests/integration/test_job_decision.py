"""The job's decision about its source: stored before the encode, reused by a later attempt and a
re-encode, and what it measured of the outputs shown by `jobs show`. Real run-job, real PostgreSQL."""

from __future__ import annotations

import os

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.domain.decision import EncodeDecision, source_identity
from videoctl.domain.states import JobState
from videoctl.media import loudness
from videoctl.media.binary import find_ffmpeg
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow


@pytest.fixture
def run_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "180:400")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return dict(os.environ)


@pytest.fixture
def lecture(tmp_path):
    return clips.lecture_tracks(find_ffmpeg(), tmp_path)


def test_the_decision_is_stored_and_the_loudness_in_and_out_shown(capsys, ctx, run_env, lecture):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=lecture)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 0, result.stdout + result.stderr

    done = ctx.jobs.get(job.id)
    decision = EncodeDecision.from_dict(done.decision)
    recorded = ctx.videos.get(video.id)
    assert decision is not None
    assert decision.source == source_identity(video.source_key, lecture.stat().st_size, recorded.source_etag)
    assert [t.rendition for t in decision.loudness] == ["audio", "audio_1", "audio_2"]
    outputs = {t["rendition"]: t["output"]["integrated_lufs"] for t in done.measurements["loudness"]}
    assert outputs["audio"] == pytest.approx(-16.0, abs=1.0) and outputs["audio_1"] == pytest.approx(-16.0, abs=1.0)

    shown = run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]
    assert shown["decision"] == done.decision and shown["measurements"] == done.measurements
    text = run_cli(capsys, "jobs", "show", str(job.id)).stdout
    assert "loudness" in text and "audio_1:" in text and "LUFS" in text and "limiter" in text


def test_a_re_encode_of_the_same_source_reuses_the_decision_without_measuring(capsys, ctx, run_env, lecture,
                                                                                monkeypatch):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=lecture)
    first = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    assert run_cli(capsys, "--json", "run-job", str(first.id)).exit_code == 0
    stored = ctx.jobs.get(first.id).decision

    measure = loudness.measure_tracks

    def outputs_only(ffmpeg_bin, src, *args, **kwargs):
        if not src.parent.name.startswith("loudness-"):  # the outputs' own check (media/loudness.py) still runs
            raise AssertionError("the source was measured again")
        return measure(ffmpeg_bin, src, *args, **kwargs)

    monkeypatch.setattr(loudness, "measure_tracks", outputs_only)  # run-job runs in this process (run_cli)
    again = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3, reencode=True))
    result = run_cli(capsys, "--json", "run-job", str(again.id))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ctx.jobs.get(again.id).state is JobState.SUCCEEDED
    assert ctx.jobs.get(again.id).decision == stored


def test_an_attempt_that_fails_after_the_probe_leaves_the_sources_facts_for_the_next_ones_size(
        capsys, ctx, run_env, lecture, monkeypatch):
    from videoctl.services import encode

    def broken(*args, **kwargs):
        raise RuntimeError("the encoder broke")

    monkeypatch.setattr(encode, "make_outputs", broken)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=lecture)
    ctx.videos.set_media_info(video.id, duration_s=None, width=None, height=None, has_audio=None)  # never probed
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    assert run_cli(capsys, "--json", "run-job", str(job.id)).exit_code != 0
    assert ctx.jobs.get(job.id).state is JobState.FAILED
    facts = ctx.jobs.source_facts(video.id)
    assert (facts.width, facts.height) == (320, 180)
    assert facts.duration_s == pytest.approx(4.0, abs=0.1) and facts.fps == pytest.approx(30.0)
