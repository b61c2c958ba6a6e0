"""The lead makes the whole-video outputs while its chunks encode (#23): when every chunk has
succeeded before it records them, the lead keeps the job's claim and assembles the ladder itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.chunking import FakeChunkExecutor, chunk_env, lecture, new_job
from videoctl.db.repositories import ChunkRepository
from videoctl.domain.chunks import ChunkState
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.media.m3u8 import parse_master_playlist
from videoctl.services.run_job import Runner, run_job

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class ChunksRunAtOnce(FakeChunkExecutor):
    """Each chunk runs to its end the moment it is sent, before the lead goes on: every chunk is
    done before the lead has made the audio, captions and poster."""

    deps: object = None
    outcomes: list = dataclasses.field(default_factory=list)

    def submit_chunk(self, name, *, job_id, video_id, attempt, index, priority=None, cpus=None, container_size=None):
        executor_id = super().submit_chunk(name, job_id=job_id, video_id=video_id, attempt=attempt, index=index)
        runner = Runner(f"chunk-{index}", None, chunk=index, chunk_attempt=attempt)
        self.outcomes.append((index, run_job(job_id, self.deps, runner).outcome))
        return executor_id


def test_the_lead_that_records_its_outputs_after_the_last_chunk_assembles(ctx, env, monkeypatch, tmp_path):
    chunk_env(monkeypatch, tmp_path)
    executor = ChunksRunAtOnce()
    deps = dataclasses.replace(ctx.run_job_deps(), chunk_executor=lambda on_batch: executor)
    executor.deps = deps
    video, job = new_job(ctx, lecture(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=20))

    lead = run_job(job.id, deps, Runner("lead", None))

    # Every chunk counted itself and ended: none could assemble without the lead's outputs.
    assert sorted(executor.outcomes) == [(0, "chunk_encoded"), (1, "chunk_encoded"), (2, "chunk_encoded")]
    assert lead.outcome == "assembled" and lead.job.state is JobState.SUCCEEDED
    assert (lead.job.chunks, lead.job.chunks_done, lead.job.runner_id) == (3, 3, "lead")
    assert {row.state for row in ChunkRepository(ctx.conn).of_attempt(job.id, 1)} == {ChunkState.SUCCEEDED}
    ready = ctx.videos.get(video.id)
    assert ready.status is VideoStatus.READY and ready.duration_s == pytest.approx(20, abs=0.1)
    # The lead's audio renditions are in the assembled master, beside the chunks' video.
    master = parse_master_playlist(Path(ctx.store.url_for(ready.hls_path)).read_text())
    assert len(master.variants) == 2 and len(master.media) == 2  # two rungs; two audio tracks
