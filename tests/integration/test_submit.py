"""submit and submit_next_attempt against moto Batch (no Docker) and the real Postgres."""

from __future__ import annotations

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from tests.moto_batch import BATCH_QUEUE
from videoctl.domain.errors import EXIT_CODES, AwsError, InvalidState
from videoctl.domain.states import JobState, VideoStatus
from videoctl.services.submit import (
    RateLimiter,
    create_job_and_submit,
    plan_submit,
    submit_all,
    submit_next_attempt,
)


def batch_jobs_named(name: str) -> list[dict]:
    batch = boto3.client("batch", region_name="us-east-1")
    summaries = batch.list_jobs(jobQueue=BATCH_QUEUE, filters=[{"name": "JOB_NAME", "values": [name]}])
    return summaries["jobSummaryList"]


def all_batch_jobs() -> list[dict]:
    batch = boto3.client("batch", region_name="us-east-1")
    return batch.list_jobs(jobQueue=BATCH_QUEUE, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]


def throttle_first(client, times: int) -> list[int]:
    """Make SubmitJob answer 429 TooManyRequestsException `times` times, then pass through.

    A before-call handler that returns a response stands in for AWS: botocore
    raises the ClientError it would raise for a real 429, and nothing is sent.
    """
    calls: list[int] = []

    def handler(**_):
        calls.append(1)
        if len(calls) <= times:
            http = AWSResponse("https://batch.us-east-1.amazonaws.com/v1/submitjob", 429, {}, None)
            parsed = {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                      "ResponseMetadata": {"HTTPStatusCode": 429}}
            return http, parsed
        return None

    client.meta.events.register_first("before-call.batch.SubmitJob", handler)
    return calls


def no_sleep(_: float) -> None:
    pass


@pytest.fixture
def uploaded(conn):
    return make_video(conn)


def test_submit_creates_job_and_one_batch_job(ctx, moto_batch, uploaded):
    plan = plan_submit(uploaded.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3, priority=7)
    job = create_job_and_submit(plan, jobs=ctx.jobs, executor=ctx.executor)
    assert job.state is JobState.SUBMITTED and job.attempt == 1 and job.submitted_at
    name = f"video-{uploaded.id}-job-{job.id}-a1"
    [summary] = batch_jobs_named(name)
    assert summary["jobId"] == job.executor_job_id
    described = boto3.client("batch", region_name="us-east-1").describe_jobs(jobs=[job.executor_job_id])["jobs"][0]
    assert described["parameters"] == {"job_id": str(job.id)}
    assert described["tags"] == {"video_id": str(uploaded.id), "job_id": str(job.id), "attempt": "1"}
    assert described["jobQueue"].endswith(BATCH_QUEUE)
    assert "academy-video-batch-jobdef" in described["jobDefinition"]
    assert described.get("schedulingPriority", 7) == 7


def test_second_submit_is_refused_and_creates_nothing(capsys, ctx, moto_batch, uploaded):
    first = run_cli(capsys, "--json", "submit", str(uploaded.id))
    assert first.exit_code == 0, first.stdout + first.stderr
    job_id = first.json()["data"]["job_id"]
    second = run_cli(capsys, "--json", "submit", str(uploaded.id))
    assert second.exit_code == EXIT_CODES["invalid_state"]
    assert f"job {job_id}" in second.json()["error"]["message"]
    assert len(ctx.jobs.list(video_id=uploaded.id)) == 1
    assert len(all_batch_jobs()) == 1


def test_ready_needs_force_and_other_states_are_refused(ctx, moto_batch, uploaded):
    ctx.videos.set_ready(uploaded.id, f"videos/{uploaded.id}/hls/0-1/master.m3u8")
    with pytest.raises(InvalidState, match="already READY"):
        plan_submit(uploaded.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3)
    plan = plan_submit(uploaded.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3, force=True)
    assert plan.reencode
    other = make_video(ctx.conn)
    ctx.videos.set_status(other.id, VideoStatus.PROCESSING)
    with pytest.raises(InvalidState, match="PROCESSING"):
        plan_submit(other.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3)


def test_dry_run_changes_nothing(capsys, ctx, moto_batch, uploaded):
    result = run_cli(capsys, "--json", "submit", str(uploaded.id), "--dry-run")
    assert result.exit_code == 0
    assert result.json()["data"]["dry_run"] is True
    assert ctx.jobs.list() == [] and all_batch_jobs() == []


def test_throttling_is_absorbed_and_yields_one_batch_job(ctx, moto_batch, uploaded):
    executor = ctx.executor
    calls = throttle_first(executor.batch._submit_client, times=3)
    sleeps: list[float] = []
    job = ctx.jobs.create(uploaded.id, max_attempts=3)
    job = submit_next_attempt(job.id, jobs=ctx.jobs, executor=executor, sleep=sleeps.append)
    assert job.state is JobState.SUBMITTED
    assert len(calls) == 4 and len(sleeps) == 3  # three throttled tries, then through
    assert all(0 <= s <= 20 for s in sleeps)
    assert len(batch_jobs_named(f"video-{uploaded.id}-job-{job.id}-a1")) == 1


def test_lost_reply_is_looked_up_not_resent(ctx, moto_batch, uploaded, monkeypatch):
    executor = ctx.executor
    client = executor.batch._submit_client
    real_submit = client.submit_job
    sends: list[str] = []

    def submit_then_lose_reply(**request):
        sends.append(request["jobName"])
        response = real_submit(**request)  # applied by "AWS" …
        if len(sends) == 1:
            raise ReadTimeoutError(endpoint_url="https://batch.us-east-1.amazonaws.com")  # … reply lost
        return response

    monkeypatch.setattr(client, "submit_job", submit_then_lose_reply)
    job = ctx.jobs.create(uploaded.id, max_attempts=3)
    job = submit_next_attempt(job.id, jobs=ctx.jobs, executor=executor, sleep=no_sleep)
    [batch_job] = batch_jobs_named(f"video-{uploaded.id}-job-{job.id}-a1")
    assert sends == [batch_job["jobName"]]  # never sent twice
    assert job.executor_job_id == batch_job["jobId"] and job.state is JobState.SUBMITTED


def test_unknown_queue_leaves_job_queued_with_aws_message(capsys, ctx, moto_batch, uploaded, monkeypatch):
    monkeypatch.setenv("VIDEO_BATCH_JOB_QUEUE", "no-such-queue")
    result = run_cli(capsys, "--json", "submit", str(uploaded.id))
    assert result.exit_code == EXIT_CODES["aws_error"]
    message = result.json()["error"]["message"]
    assert "SubmitJob failed" in message and "no-such-queue" in message
    [job] = ctx.jobs.list(video_id=uploaded.id)
    assert job.state is JobState.QUEUED and job.attempt == 0
    assert job.error_code == "aws_error" and "no-such-queue" in job.error_message


def test_bulk_submits_the_rest_when_one_fails(ctx, moto_batch):
    videos = [make_video(ctx.conn, f"v{i}") for i in range(5)]
    bad = videos[2]
    executor = ctx.executor
    real = executor.submit

    def submit(name, **kw):
        if kw["video_id"] == bad.id:
            raise AwsError("SubmitJob failed: ClientException: boom")
        return real(name, **kw)

    executor.submit = submit
    progress: list[tuple[int, int]] = []
    result = submit_all(videos=ctx.videos, jobs=ctx.jobs, executor=executor, max_attempts=3,
                                 rate=1000, limit=100, on_each=lambda d, t: progress.append((d, t)))
    assert sorted(j.video_id for j in result.submitted) == sorted(v.id for v in videos if v is not bad)
    assert [vid for vid, _ in result.failed] == [bad.id]
    assert progress[-1] == (5, 5)
    assert len(all_batch_jobs()) == 4
    # Nothing left to do for the submitted ones; the failed one is still a candidate.
    assert [v.id for v in ctx.videos.without_job(VideoStatus.UPLOADED, 100)] == []  # it has a QUEUED job
    assert ctx.jobs.active_for_video(bad.id).state is JobState.QUEUED


def test_bulk_cli_exit_code_reports_failures(capsys, ctx, moto_batch, monkeypatch):
    for i in range(3):
        make_video(ctx.conn, f"v{i}")
    ok = run_cli(capsys, "--json", "submit", "--all-uploaded", "--limit", "2")
    assert ok.exit_code == 0
    assert len(ok.json()["data"]["submitted"]) == 2 and ok.json()["data"]["failed"] == []
    monkeypatch.setenv("VIDEO_BATCH_JOB_DEFINITION", "missing-def")
    failing = run_cli(capsys, "--json", "submit", "--all-uploaded")
    assert failing.exit_code == EXIT_CODES["job_failed"] != 0
    assert len(failing.json()["data"]["failed"]) == 1


def test_all_ready_force_re_encodes_every_ready_video_and_needs_force(capsys, ctx, moto_batch):
    ready = [make_video(ctx.conn, f"r{i}") for i in range(3)]
    for video in ready:
        ctx.videos.set_ready(video.id, f"videos/{video.id}/hls/0-1/master.m3u8")
    uploaded = make_video(ctx.conn, "u")
    refused = run_cli(capsys, "--json", "submit", "--all-ready")
    assert refused.exit_code == EXIT_CODES["usage_error"] and "--force" in refused.json()["error"]["message"]
    planned = run_cli(capsys, "--json", "submit", "--all-ready", "--force", "--dry-run")
    assert planned.json()["data"]["videos"] == [v.id for v in ready]
    done = run_cli(capsys, "--json", "submit", "--all-ready", "--force")
    assert done.exit_code == 0, done.stdout
    assert sorted(j["video_id"] for j in done.json()["data"]["submitted"]) == [v.id for v in ready]
    jobs = [ctx.jobs.active_for_video(v.id) for v in ready]
    assert all(j.reencode and j.state is JobState.SUBMITTED for j in jobs)
    assert all(ctx.videos.get(v.id).status is VideoStatus.READY for v in ready)  # the ladder stays live
    assert ctx.jobs.active_for_video(uploaded.id) is None
    again = run_cli(capsys, "--json", "submit", "--all-ready", "--force")
    assert again.json()["data"]["submitted"] == []  # each has its re-encode under way


def test_rate_limiter_spaces_calls():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert now[0] == pytest.approx(0.4)
    assert slept == pytest.approx([0.1] * 4)


def test_cancel_terminates_and_fences(capsys, ctx, moto_batch, uploaded):
    job_id = run_cli(capsys, "--json", "submit", str(uploaded.id)).json()["data"]["job_id"]
    job = ctx.jobs.get(job_id)
    running = ctx.jobs.claim(job, job.executor_job_id, batch_job_id=job.executor_job_id)
    result = run_cli(capsys, "--json", "jobs", "cancel", str(job_id), "--reason", "wrong upload")
    assert result.exit_code == 0
    cancelled = ctx.jobs.get(job_id)
    assert cancelled.state is JobState.CANCELLED and cancelled.error_message == "wrong upload"
    described = boto3.client("batch", region_name="us-east-1").describe_jobs(jobs=[job.executor_job_id])["jobs"][0]
    assert described["status"] in ("FAILED", "SUCCEEDED")  # moto may have finished it already
    with pytest.raises(InvalidState):
        ctx.jobs.complete(running)
    assert ctx.jobs.get(job_id).state is JobState.CANCELLED


def test_retry_gives_dead_job_a_new_attempt(capsys, ctx, moto_batch, uploaded):
    job = ctx.jobs.begin_attempt(ctx.jobs.create(uploaded.id, max_attempts=1))
    job = ctx.jobs.mark_submitted(job, "lost-batch-job")
    job = ctx.jobs.fail(job, error_code="media_error", error_message="x", runner_id=None)
    job = ctx.jobs.mark_dead(job)
    result = run_cli(capsys, "--json", "jobs", "retry", str(job.id))
    assert result.exit_code == 0, result.stdout
    again = ctx.jobs.get(job.id)
    assert again.state is JobState.SUBMITTED and again.attempt == 2 and again.max_attempts == 2
    assert len(batch_jobs_named(f"video-{uploaded.id}-job-{job.id}-a2")) == 1
    refused = run_cli(capsys, "--json", "jobs", "retry", str(job.id))
    assert refused.exit_code == EXIT_CODES["invalid_state"]


def test_cancel_puts_a_processing_video_back_to_uploaded(capsys, ctx, moto_batch, uploaded):
    job_id = run_cli(capsys, "--json", "submit", str(uploaded.id)).json()["data"]["job_id"]
    ctx.videos.set_status(uploaded.id, VideoStatus.PROCESSING)  # as a claim would
    assert run_cli(capsys, "jobs", "cancel", str(job_id)).exit_code == 0
    assert ctx.videos.get(uploaded.id).status is VideoStatus.UPLOADED
    again = run_cli(capsys, "--json", "submit", str(uploaded.id))  # it can be submitted again
    assert again.exit_code == 0 and again.json()["data"]["job_id"] != job_id


def test_follow_stops_when_the_container_died_without_a_word(ctx, env):
    import subprocess
    import sys

    from videoctl.domain.errors import JobFailed
    from videoctl.executor.local import LocalExecutor
    from videoctl.services.submit import follow_job

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    video = make_video(ctx.conn)
    job = ctx.jobs.mark_submitted(ctx.jobs.create(video.id, max_attempts=3, begin=True), f"local:{gone.pid}")
    polls: list[str] = []
    with pytest.raises(JobFailed, match="is gone .* but the job is still SUBMITTED"):
        follow_job(job.id, jobs=ctx.jobs, executor=LocalExecutor(ctx.settings.home / "logs"),
                   on_update=lambda j: polls.append(j.state), check_every=3, sleep=lambda s: None)
    assert len(polls) == 3


def test_a_local_executor_that_cannot_start_records_its_own_code(ctx, uploaded, tmp_path):
    from videoctl.domain.errors import ExecutorError
    from videoctl.executor.local import LocalExecutor

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log folder should be")
    plan = plan_submit(uploaded.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3)
    with pytest.raises(ExecutorError, match="could not start a local run-job process") as refused:
        create_job_and_submit(plan, jobs=ctx.jobs, executor=LocalExecutor(blocker / "logs"))
    assert refused.value.exit_code == EXIT_CODES["executor_error"] and not refused.value.transient
    [job] = ctx.jobs.list(video_id=uploaded.id)
    # Nothing started: the attempt is undone, the job waits QUEUED for scan-stuck, and the
    # error says whose it was (not aws_error).
    assert job.state is JobState.QUEUED and job.attempt == 0
    assert job.error_code == "executor_error" and "could not start" in job.error_message


def test_batch_errors_leave_the_executor_as_domain_errors_that_say_whether_to_retry(ctx, moto_batch):
    executor = ctx.executor
    throttle_first(executor.batch._submit_client, times=1)
    with pytest.raises(AwsError) as throttled:
        executor.submit("video-1-job-1-a1", job_id=1, video_id=1, attempt=1)
    assert throttled.value.transient and not throttled.value.outcome_unknown
    assert "SubmitJob failed: TooManyRequestsException" in throttled.value.message

    executor.batch.queue = "no-such-queue"
    with pytest.raises(AwsError) as refused:
        executor.submit("video-1-job-1-a1", job_id=1, video_id=1, attempt=1)
    assert not refused.value.transient and not refused.value.outcome_unknown


@pytest.mark.parametrize(("error", "transient", "outcome_unknown"), [
    ("throttled", True, False),
    ("server", True, True),
    ("read_timeout", True, True),
    ("cannot_connect", True, False),
    ("no_credentials", False, False),
    ("access_denied", False, False),
])
def test_aws_errors_are_classed_for_retry(error, transient, outcome_unknown):
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from videoctl.aws.errors import aws_error

    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "SubmitJob")

    exc = {
        "throttled": client_error("ThrottlingException"),
        "server": client_error("ServerException"),
        "read_timeout": ReadTimeoutError(endpoint_url="https://batch"),
        "cannot_connect": EndpointConnectionError(endpoint_url="https://batch"),
        "no_credentials": NoCredentialsError(),
        "access_denied": client_error("AccessDeniedException"),
    }[error]
    classed = aws_error("SubmitJob", exc)
    assert (classed.transient, classed.outcome_unknown) == (transient, outcome_unknown)
    assert classed.code == "aws_error" and classed.message.startswith("SubmitJob failed")
