"""How a long video is cut into chunks: whole segments, counted in frames, the last to the end."""

from __future__ import annotations

from fractions import Fraction

import pytest

from videoctl.domain.chunks import (
    MAX_CHUNKS,
    RUNUP_FRAMES,
    X264_LOOKAHEAD,
    ChunkPlan,
    Seek,
    chunk_seconds_problem,
    plan_chunks,
    runup_frames,
    tail_frames,
)
from videoctl.domain.errors import InvalidState
from videoctl.executor.batch import BatchExecutor
from videoctl.media.probe import SourceInfo
from videoctl.services.chunked import chunk_plan
from videoctl.settings import Settings

NTSC = Fraction(30000, 1001)


def test_a_video_not_longer_than_the_threshold_is_one_pass():
    assert plan_chunks(600, Fraction(30), segment_s=4, chunk_s=120, chunk_after_s=600) is None
    assert plan_chunks(600.1, Fraction(30), segment_s=4, chunk_s=120, chunk_after_s=600) is not None


def test_a_two_hour_lecture_is_sixty_chunks_of_two_minutes():
    plan = plan_chunks(7200, Fraction(30), segment_s=4, chunk_s=120, chunk_after_s=600)
    assert plan.count == 60
    assert (plan.segment_frames, plan.chunk_frames) == (120, 3600)
    assert [c.start_frame for c in plan.chunks[:3]] == [0, 3600, 7200]
    assert [c.first_segment for c in plan.chunks[:3]] == [0, 30, 60]
    assert plan.chunks[1].start_s(plan.fps) == 120
    assert plan.chunks[-1].frames is None and plan.chunks[-2].frames == 3600


def test_chunks_start_on_segment_keyframes_at_ntsc_rates_not_on_round_seconds():
    plan = plan_chunks(1800, NTSC, segment_s=4, chunk_s=120, chunk_after_s=600)
    # A 4 s segment at 29.97 fps is 120 frames, 4.004 s: chunks follow the frames.
    assert plan.segment_frames == 120 and plan.chunk_frames == 3600
    assert plan.chunks[1].start_s(NTSC) == Fraction(3600 * 1001, 30000)
    assert all(c.start_frame % plan.segment_frames == 0 for c in plan.chunks)
    assert plan.count == 15  # 53 946 frames: 14 whole chunks and a last one of 3546 frames


def test_the_last_chunk_runs_to_the_end_and_is_never_shorter_than_a_segment():
    # 40 s at 30 fps in 10 s chunks of 2 s segments: exactly 4 chunks.
    exact = plan_chunks(40, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)
    assert exact.count == 4
    # One frame more would make a fifth chunk of one frame: it joins the fourth.
    joined = plan_chunks(40 + 1 / 30, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)
    assert joined.count == 4 and joined.chunks[-1].frames is None
    # A whole segment more makes a fifth.
    assert plan_chunks(42, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0).count == 5


def test_fewer_than_two_chunks_is_one_pass():
    assert plan_chunks(11, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0) is None
    assert plan_chunks(12, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0).count == 2


def test_the_stored_plan_reads_back_the_same():
    plan = plan_chunks(3725.5, NTSC, segment_s=4, chunk_s=60, chunk_after_s=600)
    assert ChunkPlan.from_dict(plan.to_dict()) == plan


def test_an_index_outside_the_plan_is_refused():
    plan = plan_chunks(40, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)
    with pytest.raises(IndexError, match="not one of the plan's 4 chunks"):
        plan.chunk(4)


@pytest.mark.parametrize(("chunk_s", "segment_s", "ok"), [(120, 4, True), (4, 4, True), (60, 6, True),
                                                          (10, 4, False), (2, 4, False), (121, 4, False)])
def test_a_chunk_is_a_whole_number_of_segments(chunk_s, segment_s, ok):
    assert (chunk_seconds_problem(chunk_s, segment_s) is None) is ok


def test_a_chunk_opens_the_source_just_before_its_first_frame_and_starts_the_clock_on_it():
    plan = plan_chunks(1800, NTSC, segment_s=4, chunk_s=120, chunk_after_s=600)
    first, second, last = plan.chunks[0], plan.chunks[1], plan.chunks[-1]
    assert first.seek(NTSC) == Seek(None, "0", "121.120010")  # 3600 frames, a second more, the lead
    start = second.start_s(NTSC)  # 120.12 s exactly
    seek = second.seek(NTSC)
    opened = Fraction(seek.input_s)
    assert start - Fraction(2, 100_000) < opened < start  # a whole number of microseconds, just before
    assert opened * 1_000_000 == int(opened * 1_000_000)
    assert abs(opened + Fraction(seek.fps_start_s) - start) < Fraction(1, 10**9)
    assert last.seek(NTSC).read_s is None


def test_a_chunk_reads_its_tail_too_the_frames_of_x264s_lookahead_past_its_end():
    plan = plan_chunks(1800, NTSC, segment_s=4, chunk_s=120, chunk_after_s=600)
    assert tail_frames("veryfast", 120) == 10 and tail_frames("medium", 120) == 40
    assert tail_frames("ultrafast", 120) == 1  # no lookahead: the next keyframe alone
    assert tail_frames("a-preset-of-tomorrow", 120) == max(X264_LOOKAHEAD.values())
    assert tail_frames("medium", 24) == 24  # never more than a segment: one segment to throw away
    # 3600 frames and 10 more, a second more, the lead.
    assert plan.chunks[0].seek(NTSC, tail_frames=10) == Seek(None, "0", "121.453676")
    assert plan.chunks[-1].seek(NTSC, tail_frames=10).read_s is None


def test_a_chunk_after_the_first_starts_with_a_run_up_of_at_most_a_segment():
    plan = plan_chunks(1800, Fraction(5), segment_s=1, chunk_s=60, chunk_after_s=600)  # 5 fps, 1 s segments
    assert runup_frames(plan.chunks[0], plan.segment_frames) == 0
    assert runup_frames(plan.chunks[1], plan.segment_frames) == 5 < RUNUP_FRAMES
    assert runup_frames(plan.chunks[1], 120) == RUNUP_FRAMES


def test_a_three_hour_video_is_chunked_by_default_unless_chunking_is_off():
    three_hours = SourceInfo(duration_s=3 * 3600.0, width=640, height=360, coded_width=640, coded_height=360,
                             rotation=0, fps=30.0, is_vfr=False, has_audio=False, video_codec="h264",
                             pix_fmt="yuv420p", bit_depth=8, audio_codec=None, size_bytes=1000)
    assert chunk_plan(Settings.from_env({}), three_hours).count == 90  # 600 s, in 120 s chunks
    assert chunk_plan(Settings.from_env({"VIDEOCTL_CHUNK_AFTER_SECONDS": "off"}), three_hours) is None
    assert chunk_plan(Settings.from_env({"VIDEOCTL_CHUNK_AFTER_SECONDS": str(3 * 3600)}), three_hours) is None
    assert chunk_plan(Settings.from_env({"VIDEOCTL_EXECUTOR": "batch"}), three_hours).count == 90


def test_more_chunks_than_a_batch_array_takes_makes_longer_chunks_not_an_error():
    """30,000 one-second chunks would be an array Batch refuses (2 to 10,000 children): three
    seconds each, still whole segments, make 10,000."""
    plan = plan_chunks(30_000, Fraction(30), segment_s=1, chunk_s=1, chunk_after_s=600)
    assert plan.count == MAX_CHUNKS == 10_000
    assert (plan.segment_frames, plan.chunk_frames) == (30, 90)
    assert all(c.start_frame == c.index * 90 and c.first_segment == c.index * 3 for c in plan.chunks)
    assert plan.chunks[-1].frames is None  # the last runs to the end
    just_below = plan_chunks(9_999, Fraction(30), segment_s=1, chunk_s=1, chunk_after_s=600)
    assert (just_below.count, just_below.chunk_frames) == (9_999, 30)  # untouched below the limit
    assert ChunkPlan.from_dict(plan.to_dict()) == plan


def test_one_chunk_is_one_pass_never_an_array_of_one():
    assert plan_chunks(601, Fraction(30), segment_s=4, chunk_s=600, chunk_after_s=600) is None


@pytest.mark.parametrize("size", [0, 1, MAX_CHUNKS + 1])
def test_the_batch_executor_refuses_an_array_batch_would_refuse_before_any_call(size):
    class NoCalls:
        def submit(self, *args, **kwargs):
            raise AssertionError("SubmitJob must not be called")

    with pytest.raises(InvalidState, match="AWS Batch takes 2 to 10000 children"):
        BatchExecutor(NoCalls()).submit_array("video-1-job-1-a1-chunks", job_id=1, video_id=1, attempt=1, size=size)
