"""Every chunk of a long video encodes with the job's one decision, made by the lead (#23 with
the per-title ladder): the rungs its ladder kept and each rung's CRF, never a decision of its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.chunking import FakeChunkExecutor, chunk_env, lecture
from videoctl.domain.pertitle import LadderDecision
from videoctl.media.binary import find_ffmpeg
from videoctl.media.m3u8 import parse_master_playlist
from videoctl.services import chunked, pertitle
from videoctl.services.run_job import Runner, run_job
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow

#: What the lead's per-title probe decides (stubbed: VMAF on every piece is not this test's business).
CRF = {"180p": 31, "144p": 37}
DECIDED = LadderDecision("per-title", "180:400,144:200", "veryfast", 93.0, crf=CRF, dropped=("144p",))


def test_every_chunk_encodes_the_kept_rungs_at_the_leads_crfs(ctx, env, monkeypatch, tmp_path):
    chunk_env(monkeypatch, tmp_path)
    source = lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20)  # three 8 s chunks
    probes = []

    def decide_ladder(*args, **kwargs):
        probes.append(kwargs["mode"])
        return DECIDED

    monkeypatch.setattr(pertitle, "decide_ladder", decide_ladder)
    encodes = []
    encode_chunk = chunked.encode_chunk

    def spy(ffmpeg, src, out_dir, info, rungs, plan, chunk, **kwargs):
        encodes.append((chunk.index, tuple(r.name for r in rungs), kwargs.get("crfs")))
        return encode_chunk(ffmpeg, src, out_dir, info, rungs, plan, chunk, **kwargs)

    monkeypatch.setattr(chunked, "encode_chunk", spy)
    deps = dataclasses.replace(ctx.run_job_deps(), chunk_executor=lambda on_batch: FakeChunkExecutor())
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))

    lead = run_job(job.id, deps, Runner("lead", None))
    assert lead.outcome == "chunked" and lead.job.chunks == 3
    assert ctx.jobs.get(job.id).decision["ladder"]["crf"] == CRF  # stored once, before the chunks
    outcomes = [run_job(job.id, deps, Runner(f"chunk-{n}", None, chunk=n, chunk_attempt=1)).outcome for n in range(3)]

    assert outcomes == ["chunk_encoded", "chunk_encoded", "assembled"]
    assert probes == ["fixed"]  # the lead decided; no chunk decided again
    assert encodes == [(n, ("180p",), CRF) for n in range(3)]
    master = Path(ctx.store.url_for(ctx.videos.get(video.id).hls_path))
    assert [v.uri.split("/")[0] for v in parse_master_playlist(master.read_text()).variants] == ["180p"]
