"""A long video's chunks on AWS Batch, without Batch (#23 point 5): the array flow on moto.

What goes to Batch is moto's (``mock_aws`` without Docker): the lead's SubmitJob, the array job
the lead sends (``arrayProperties.size`` = K, the command unchanged, each child's chunk from
AWS_BATCH_JOB_ARRAY_INDEX), a child's failure as DescribeJobs reports it for ``ARRAY_ID:INDEX``,
that one index sent again alone (VIDEOCTL_CHUNK_INDEX) by scan-stuck, and `jobs cancel`
terminating the array job and the chunk sent alone. The encodes are real and run here: each
container's work is a ``run_job`` in this process, given the environment Batch gives that
container (``tests.moto_batch.container_environment``), on a tiny clip.

moto without Docker marks every container SUCCEEDED the moment it is submitted; where the story
needs a child RUNNING (its encode still going) or FAILED (its container killed),
``batch_reports`` makes DescribeJobs say so, through botocore's public event hooks.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from tests.chunking import chunk_env, lecture
from tests.cli import run_cli
from tests.moto_batch import batch_reports, capture_submit_jobs, container_environment
from videoctl.api import Client
from videoctl.domain import cost, keys
from videoctl.domain.chunks import ChunkState
from videoctl.domain.errors import InvalidState
from videoctl.domain.sizing import ContainerSize
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.services.cost import confirm_usage
from videoctl.services.run_job import Runner, run_job
from videoctl.services.scan import scan_pass
from videoctl.services.submit import create_job_and_submit, plan_submit
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow

SECONDS = 20  # 8 s chunks of 2 s segments: chunks of 8, 8 and 4 s
CHUNKS = 3
#: The clip is 320×180 at 30 fps: 0.035 Gpx in all, 0.014 Gpx in an 8 s chunk. Its lead (the
#: whole video) gets 1 vCPU, each chunk's container half of one.
SIZING = "0:0.5/1024,0.02:1/2048"
WHOLE = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}]
CHUNK = [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"}]
OOM = {"status": "FAILED", "statusReason": "Essential container in task exited",
       "attempts": [{"container": {"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}}]}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return lecture(find_ffmpeg(), tmp_path_factory.mktemp("batch-chunks") / "lecture.mp4", SECONDS)


@pytest.fixture
def story(ctx, moto_batch, monkeypatch, tmp_path, source):
    """A video submitted to moto Batch and its lead run: the array job of its chunks sent."""
    chunk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VIDEOCTL_SIZING", SIZING)
    monkeypatch.setenv("VIDEOCTL_BACKOFF_BASE_SECONDS", "0")
    monkeypatch.setenv("VIDEOCTL_BACKOFF_CAP_SECONDS", "0")
    sent = capture_submit_jobs(ctx.aws.session)
    reports: dict[str, dict] = {}
    batch_reports(ctx.aws.session, reports)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source)
    job = create_job_and_submit(plan_submit(video.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3),
                                jobs=ctx.jobs, executor=ctx.executor)
    batch = boto3.client("batch", region_name="us-east-1")
    lead = run_job(job.id, ctx.run_job_deps(), Runner.from_environment(container_environment(batch, job.executor_job_id)))
    assert lead.outcome == "chunked" and lead.job.chunks == CHUNKS
    [_, array] = sent
    array_id = batch.list_jobs(jobQueue=moto_batch["queue"], filters=[
        {"name": "JOB_NAME", "values": [array["jobName"]]}])["jobSummaryList"][0]["jobId"].split(":")[0]
    return {"video": video, "job": ctx.jobs.get(job.id), "sent": sent, "reports": reports, "batch": batch,
            "array_id": array_id}


def run_container(ctx, story, executor_job_id: str):
    """The container Batch started for ``executor_job_id``, its run-job run here."""
    environment = container_environment(story["batch"], executor_job_id)
    return run_job(story["job"].id, ctx.run_job_deps(), Runner.from_environment(environment)), environment


def scan(ctx):
    return scan_pass(jobs=ctx.jobs, videos=ctx.videos, executor=ctx.executor, settings=ctx.settings,
                     chunks=ctx.chunks, sleep=lambda s: None)


def resend_the_failed_child(ctx, story) -> str:
    """Child 1's container is killed (OOM, as DescribeJobs reports it): scan-stuck fails that
    try, then sends chunk 1 again alone. Returns the executor id it was sent as."""
    job, array_id = story["job"], story["array_id"]
    story["reports"][f"{array_id}:1"] = OOM
    first = scan(ctx)
    [failed] = [item for item in first.items if item.chunk is not None]
    assert (failed.chunk, failed.rule, failed.action) == (1, "chunk_executor_failed", "fail_chunk")
    assert "OutOfMemoryError" in failed.reason
    assert ctx.chunks.get(job.id, 1, 1).state is ChunkState.RETRY_WAIT
    second = scan(ctx)
    [resent] = [item for item in second.items if item.chunk is not None]
    assert (resent.chunk, resent.action, resent.outcome) == (1, "send_chunk", "done")
    row = ctx.chunks.get(job.id, 1, 1)
    assert (row.state, row.tries) == (ChunkState.SUBMITTED, 2)
    assert row.executor_job_id != f"{array_id}:1" and ":" not in row.executor_job_id  # a job of its own
    return row.executor_job_id


def test_the_lead_sends_one_array_job_sized_for_a_chunk_with_the_command_unchanged(ctx, story):
    job, video, array_id = story["job"], story["video"], story["array_id"]
    lead_request, array_request = story["sent"]
    assert job.size == ContainerSize(1, 2048)  # the lead: the whole video's size
    assert lead_request["containerOverrides"]["resourceRequirements"] == WHOLE and "arrayProperties" not in lead_request
    assert array_request["jobName"] == keys.chunks_job_name(video.id, job.id, 1)
    assert array_request["arrayProperties"] == {"size": CHUNKS}
    assert array_request["parameters"] == {"job_id": str(job.id)}  # `videoctl run-job Ref::job_id`, as the lead's
    overrides = array_request["containerOverrides"]
    assert "command" not in overrides and overrides["resourceRequirements"] == CHUNK  # the longest chunk's (8 s)
    assert overrides["environment"] == [{"name": "VIDEOCTL_CHUNK_ATTEMPT", "value": "1"}]
    # Each chunk's row knows its child by Batch's id for it, ARRAY_ID:INDEX.
    rows = ctx.chunks.of_attempt(job.id, 1)
    assert [(r.idx, r.state, r.executor_job_id, r.size) for r in rows] == [
        (i, ChunkState.SUBMITTED, f"{array_id}:{i}", ContainerSize(0.5, 1024)) for i in range(CHUNKS)]
    # moto knows the children by those ids, with the array's command and overrides.
    described = story["batch"].describe_jobs(jobs=[f"{array_id}:{i}" for i in range(CHUNKS)])["jobs"]
    assert sorted(j["jobId"] for j in described) == [f"{array_id}:{i}" for i in range(CHUNKS)]
    assert all(j["container"]["command"] == ["videoctl", "run-job", "Ref::job_id"] for j in described)
    assert all(j["parameters"]["job_id"] == str(job.id) for j in described)


def test_a_failed_child_is_resent_alone_and_the_last_chunk_assembles(ctx, story):
    job, array_id = story["job"], story["array_id"]
    for index in (0, 2):  # two children run, each its chunk from AWS_BATCH_JOB_ARRAY_INDEX
        result, environment = run_container(ctx, story, f"{array_id}:{index}")
        assert environment["AWS_BATCH_JOB_ARRAY_INDEX"] == str(index) and "VIDEOCTL_CHUNK_INDEX" not in environment
        assert result.outcome == "chunk_encoded"
        assert ctx.chunks.get(job.id, 1, index).runner_id == f"{array_id}:{index}"
    single = resend_the_failed_child(ctx, story)

    request = story["sent"][-1]
    assert len(story["sent"]) == 3 and "arrayProperties" not in request
    assert request["jobName"] == keys.chunk_job_name(story["video"].id, job.id, 1, 1, 2)
    assert request["containerOverrides"]["resourceRequirements"] == CHUNK  # its own 8 s, not the whole video
    assert {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]} == {
        "VIDEOCTL_CHUNK_INDEX": "1", "VIDEOCTL_CHUNK_ATTEMPT": "1"}
    # The rest untouched: their first try, their children's ids.
    for index in (0, 2):
        row = ctx.chunks.get(job.id, 1, index)
        assert (row.state, row.tries, row.executor_job_id) == (ChunkState.SUCCEEDED, 1, f"{array_id}:{index}")

    result, environment = run_container(ctx, story, single)  # the chunk alone, the last to finish
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in environment and environment["VIDEOCTL_CHUNK_INDEX"] == "1"
    assert result.outcome == "assembled"
    done = ctx.jobs.get(job.id)
    assert (done.state, done.attempt, done.chunks_done) == (JobState.SUCCEEDED, 1, CHUNKS)
    video = ctx.videos.get(story["video"].id)
    assert video.status is VideoStatus.READY and video.hls_path == f"videos/{video.id}/hls/{job.id}-1/master.m3u8"
    assert [(r.state, r.tries) for r in ctx.chunks.of_attempt(job.id, 1)] == [
        (ChunkState.SUCCEEDED, 1), (ChunkState.SUCCEEDED, 2), (ChunkState.SUCCEEDED, 1)]
    # Nothing left for scan-stuck to do, and no other container asked for.
    assert [item for item in scan(ctx).items if item.chunk is not None] == [] and len(story["sent"]) == 3


def test_the_arrays_child_cannot_claim_the_chunk_once_it_is_sent_alone(ctx, story):
    """Once chunk 1 is sent alone, a late start of the array's child 1 is refused: only the
    container sent for the try may claim it."""
    for index in (0, 2):
        story["reports"][f"{story['array_id']}:{index}"] = {"status": "RUNNING"}
    single = resend_the_failed_child(ctx, story)
    with pytest.raises(InvalidState) as refused:
        run_container(ctx, story, f"{story['array_id']}:1")
    assert f"was sent as executor job {single}, not {story['array_id']}:1" in refused.value.message
    assert ctx.chunks.get(story["job"].id, 1, 1).executor_job_id == single


def test_cancel_terminates_the_array_job_and_the_chunk_sent_alone(capsys, ctx, story):
    job, array_id, batch = story["job"], story["array_id"], story["batch"]
    for index in (0, 2):  # their encodes still going
        story["reports"][f"{array_id}:{index}"] = {"status": "RUNNING"}
    single = resend_the_failed_child(ctx, story)

    result = run_cli(capsys, "--json", "jobs", "cancel", str(job.id), "--reason", "operator: wrong file")
    assert result.exit_code == 0, result.stderr
    assert ctx.jobs.get(job.id).state is JobState.CANCELLED
    assert {r.state for r in ctx.chunks.of_attempt(job.id, 1)} == {ChunkState.ABANDONED}
    # TerminateJob on the array job (Batch terminates its children with it) and on the chunk
    # sent alone, each with the reason; never a child one by one (moto does not pass the
    # array's termination on to its children, so theirs stay unset here).
    described = {j["jobId"]: j for j in batch.describe_jobs(
        jobs=[array_id, single, *(f"{array_id}:{i}" for i in range(CHUNKS))])["jobs"]}
    assert described[array_id].get("statusReason") == "operator: wrong file"
    assert described[single].get("statusReason") == "operator: wrong file"
    assert [described[f"{array_id}:{i}"].get("statusReason") for i in range(CHUNKS)] == [None] * CHUNKS


def test_an_array_whose_sending_was_not_recorded_is_found_by_name_not_sent_twice(ctx, conn, story):
    """The lead died between SubmitJob and recording its children: scan-stuck finds the array job
    by its name and adopts each child by ARRAY_ID:INDEX, sending nothing new."""
    job, array_id = story["job"], story["array_id"]
    conn.execute("UPDATE job_chunk SET executor_job_id = NULL, updated_at = now() - interval '1 hour' "
                 "WHERE job_id = %s", (job.id,))
    report = scan(ctx)
    assert sorted((i.chunk, i.rule) for i in report.items if i.chunk is not None) == [
        (i, "chunk_never_sent") for i in range(CHUNKS)]
    assert [r.executor_job_id for r in ctx.chunks.of_attempt(job.id, 1)] == [f"{array_id}:{i}" for i in range(CHUNKS)]
    assert len(story["sent"]) == 2  # the lead and its array: nothing sent again


def test_every_chunk_container_is_priced_and_batch_confirms_each(ctx, story):
    """The lead, each child and the chunk sent alone record what they held (a chunk's size, not
    the whole video's); scan-stuck then replaces each runner's numbers with what DescribeJobs says
    of that container, ``ARRAY_ID:INDEX`` for a child, and the job's cost sums them all."""
    job, array_id, batch = story["job"], story["array_id"], story["batch"]
    for index in (0, 2):
        run_container(ctx, story, f"{array_id}:{index}")
    single = resend_the_failed_child(ctx, story)
    assert run_container(ctx, story, single)[0].outcome == "assembled"

    def usage():
        return ctx.conn.execute("SELECT * FROM job_attempt_usage WHERE job_id = %s ORDER BY chunk",
                                (job.id,)).fetchall()

    # Child 1's first container was killed before it could record anything: Batch alone knows it.
    assert [(r["chunk"], r["chunk_try"], r["executor_job_id"], r["vcpus"], r["memory_mib"], r["runtime_source"])
            for r in usage()] == [
        (-1, 0, job.executor_job_id, 1, 2048, "runner"),
        (0, 1, f"{array_id}:0", 0.5, 1024, "runner"),
        (1, 2, single, 0.5, 1024, "runner"),
        (2, 1, f"{array_id}:2", 0.5, 1024, "runner")]
    assert [r["chunk"] for r in usage() if r["source_duration_s"] is not None] == [1]  # the assembler

    story["reports"].clear()  # DescribeJobs as moto has it: every container started and stopped
    ctx.conn.execute("UPDATE job_attempt_usage SET finished_at = now() - interval '2 minutes' WHERE job_id = %s",
                     (job.id,))
    assert confirm_usage(ctx.usage, ctx.executor, ctx.settings) == 4
    rows = usage()
    described = {j["jobId"]: j for j in batch.describe_jobs(jobs=[r["executor_job_id"] for r in rows])["jobs"]}
    for row in rows:
        remote = described[row["executor_job_id"]]
        assert row["runtime_source"] == "executor"
        assert row["runtime_s"] == pytest.approx((remote["stoppedAt"] - remote["startedAt"]) / 1000)
    assert confirm_usage(ctx.usage, ctx.executor, ctx.settings) == 0  # nothing left to confirm

    [spent] = ctx.usage.of_jobs([job.id]).values()
    with Client() as client:
        priced = client.get_job(job.id).cost
    assert (priced.attempts, priced.containers) == (1, 4)
    assert priced.cost_usd == pytest.approx(sum(cost.usage_cost(u, ctx.settings.prices) for u in spent), abs=1e-6)
