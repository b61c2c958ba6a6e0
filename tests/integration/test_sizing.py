"""Each container sized to its video (issue 23): what SubmitJob asks moto Batch for, what the job
records and `jobs show` prints, what the attempt is priced at, and a local process left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import clips
from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from tests.integration.test_scan_stuck import age, scan
from tests.moto_batch import capture_submit_jobs
from videoctl.api import Client
from videoctl.domain.sizing import ContainerSize
from videoctl.domain.states import JobState, VideoStatus
from videoctl.executor.local import LocalExecutor
from videoctl.media.binary import find_ffmpeg
from videoctl.media.probe import probe
from videoctl.services.run_job import Runner, run_job
from videoctl.services.submit import attempt_size, create_job_and_submit, plan_submit, send_attempt
from videoctl.services.videos import add_video

HOUR = 3600.0


def probed_video(conn, ctx, *, duration_s: float, width: int = 1920, height: int = 1080, fps: float = 30):
    """A video whose probe facts are known, as an earlier encode (or `video add FILE`) leaves them."""
    video = make_video(conn)
    return ctx.videos.set_media_info(video.id, duration_s=duration_s, width=width, height=height, has_audio=True,
                                     fps=fps)


def submit(ctx, video):
    """`videoctl submit VIDEO` through this context, whose AWS session the test listens on."""
    return create_job_and_submit(plan_submit(video.id, videos=ctx.videos, jobs=ctx.jobs, max_attempts=3),
                                 jobs=ctx.jobs, executor=ctx.executor)


def overrides(request: dict) -> list[dict] | None:
    return (request.get("containerOverrides") or {}).get("resourceRequirements")


def test_submit_asks_batch_for_the_size_of_the_video_and_records_it(capsys, ctx, moto_batch, conn):
    sent = capture_submit_jobs(ctx.aws.session)
    lecture = probed_video(conn, ctx, duration_s=HOUR)  # 224 Gpx: the default table's 8 vCPU step
    job = submit(ctx, lecture)

    [request] = sent
    assert request["jobName"] == f"video-{lecture.id}-job-{job.id}-a1"
    assert overrides(request) == [{"type": "VCPU", "value": "8"}, {"type": "MEMORY", "value": "16384"}]
    assert (job.state, job.size) == (JobState.SUBMITTED, ContainerSize(8, 16384))
    assert ctx.jobs.get(job.id).size == ContainerSize(8, 16384)

    shown = run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]
    assert (shown["size_vcpus"], shown["size_memory_mib"]) == (8, 16384)
    listed = run_cli(capsys, "--json", "jobs", "list", "--video", str(lecture.id)).json()["data"]
    assert [(j["id"], j["size_vcpus"]) for j in listed] == [(job.id, 8)]
    human = run_cli(capsys, "jobs", "show", str(job.id)).stdout
    assert "8 vCPU, 16384 MiB (sized to its source)" in human


@pytest.mark.parametrize(("facts", "vcpus", "memory"), [
    # At the step's threshold a source gets that step: 100 Gpx exactly (1000 s of 1000x1000 at 100 fps).
    ({"duration_s": 1000, "width": 1000, "height": 1000, "fps": 100}, "1", "2048"),
    ({"duration_s": 999, "width": 1000, "height": 1000, "fps": 100}, "0.25", "512"),
    ({"duration_s": 6 * HOUR, "width": 3840, "height": 2160, "fps": 60}, "4", "30720"),  # 10 750 Gpx
])
def test_the_configured_table_decides_each_step(ctx, moto_batch, conn, monkeypatch, facts, vcpus, memory):
    monkeypatch.setenv("VIDEOCTL_SIZING", "0:0.25/512, 100:1/2048, 1e4:4/30720")
    sent = capture_submit_jobs(ctx.aws.session)
    video = probed_video(conn, ctx, **facts)
    submit(ctx, video)
    [request] = sent
    assert overrides(request) == [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]


def test_a_source_not_probed_yet_keeps_the_job_definitions_size(capsys, ctx, moto_batch, conn):
    sent = capture_submit_jobs(ctx.aws.session)
    video = make_video(conn)  # registered or uploaded: nothing known of it until its first encode
    job = submit(ctx, video)
    [request] = sent
    assert "containerOverrides" not in request and job.size is None
    human = run_cli(capsys, "jobs", "show", str(job.id)).stdout
    assert "the job definition's" in human and "not probed yet" in human
    assert run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]["size_vcpus"] is None


def test_sizing_off_sends_no_override(ctx, moto_batch, conn, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_SIZING", "off")
    sent = capture_submit_jobs(ctx.aws.session)
    video = probed_video(conn, ctx, duration_s=3 * HOUR)
    job = submit(ctx, video)
    [request] = sent
    assert "containerOverrides" not in request and job.size is None


def test_a_resubmitted_attempt_is_sized_by_what_is_known_now(ctx, moto_batch, conn, monkeypatch):
    """The first attempt knew nothing of its source; the retry scan-stuck sends is sized by the
    facts recorded since, and the new attempt forgets the old one's size until it is sent."""
    monkeypatch.setenv("VIDEOCTL_BACKOFF_BASE_SECONDS", "1")
    sent = capture_submit_jobs(ctx.aws.session)
    video = make_video(conn)
    job = submit(ctx, video)
    assert job.size is None
    ctx.jobs.fail(ctx.jobs.get(job.id), error_code="media_error", error_message="ffmpeg crashed", runner_id=None)
    ctx.videos.set_media_info(video.id, duration_s=600, width=1280, height=720, has_audio=True, fps=25)
    assert scan(ctx).summary()["retry_scheduled"] == 1
    age(conn, job.id, next_attempt_at=1)
    assert scan(ctx).summary()["resubmitted"] == 1
    again = ctx.jobs.get(job.id)
    assert (again.attempt, again.size) == (2, ContainerSize(2, 4096))  # 13.8 Gpx: the first step
    assert [overrides(r) for r in sent] == [None, [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}]]
    # Beginning a third attempt clears the size until that attempt is sent with its own.
    ctx.jobs.fail(again, error_code="media_error", error_message="again", runner_id=None)
    ctx.jobs.schedule_retry(ctx.jobs.get(job.id), 0)
    assert ctx.jobs.begin_attempt(ctx.jobs.get(job.id)).size is None


def test_an_adopted_container_is_recorded_with_its_size(ctx, moto_batch, conn):
    """The submitter died after SubmitJob went through: scan-stuck adopts the container by name and
    records the size the same rule gives the attempt."""
    video = probed_video(conn, ctx, duration_s=2 * HOUR, width=1280, height=720)  # 199 Gpx: 4 vCPU
    job = ctx.jobs.create(video.id, max_attempts=3, begin=True)
    size = attempt_size(job, executor=ctx.executor, jobs=ctx.jobs)
    assert size == ContainerSize(4, 8192)
    batch_id = ctx.executor.submit(f"video-{video.id}-job-{job.id}-a1", job_id=job.id, video_id=video.id,
                                   attempt=1, size=size)
    age(conn, job.id, updated_at=10_000)
    assert scan(ctx).summary()["adopted"] == 1
    adopted = ctx.jobs.get(job.id)
    assert (adopted.executor_job_id, adopted.size) == (batch_id, size)


def test_a_sized_attempt_is_priced_at_its_size(ctx, moto_batch, conn, monkeypatch):
    """Inside the container run-job records the size the attempt asked for (what Fargate bills),
    not what the task's VM shows; the job's cost is priced at it."""
    earlier = make_video(conn)
    ready, _ = ctx.videos.set_ready(earlier.id, f"videos/{earlier.id}/hls/1-1/master.m3u8")
    ctx.videos.set_media_info(ready.id, duration_s=HOUR, width=1920, height=1080, has_audio=True, fps=30)
    job = ctx.jobs.create(ready.id, max_attempts=3, begin=True)  # not a re-encode: the ready guard completes it
    sent = send_attempt(job, jobs=ctx.jobs, executor=ctx.executor)
    assert sent.size == ContainerSize(8, 16384)
    monkeypatch.setenv("AWS_BATCH_JOB_ID", sent.executor_job_id)
    result = run_job(job.id, ctx.run_job_deps(), Runner.from_environment())
    assert result.outcome == "ready_guard"

    [row] = conn.execute("SELECT * FROM job_attempt_usage WHERE job_id = %s", (job.id,)).fetchall()
    assert (row["capacity"], row["vcpus"], row["memory_mib"], row["runtime_source"]) == ("fargate", 8, 16384, "runner")
    # Its runtime was a blink; an hour of it shows the price at a glance.
    conn.execute("UPDATE job_attempt_usage SET runtime_s = 3600 WHERE job_id = %s", (job.id,))
    with Client() as client:
        priced = client.get_job(job.id).cost
    prices = ctx.settings.prices
    assert (priced.vcpu_hours, priced.gb_hours) == (8, 16)
    assert priced.cost_usd == pytest.approx(8 * prices.fargate_vcpu_hour + 16 * prices.fargate_gb_hour)


def test_a_local_process_is_never_sized(capsys, ctx, env, conn, tmp_path):
    """VIDEOCTL_SIZING is ignored locally: nothing to override, nothing recorded, and `jobs show` says so."""
    assert ctx.settings.executor == "local" and ctx.settings.sizing_table is not None
    video = probed_video(conn, ctx, duration_s=3 * HOUR)
    job = ctx.jobs.create(video.id, max_attempts=3, begin=True)
    assert attempt_size(job, executor=ctx.executor, jobs=ctx.jobs) is None
    assert attempt_size(job, executor=LocalExecutor(tmp_path), jobs=ctx.jobs, video=video) is None

    with Client() as client:
        client.cancel(job.id, "a submit of its own follows")
        submitted = client.submit(video.id)
        settled = client.follow(submitted.id, poll_s=0.05)  # its run-job fails at once: the source is missing
    assert submitted.executor_job_id.startswith("local:") and submitted.size is None
    assert settled.state is JobState.FAILED and settled.size is None
    human = run_cli(capsys, "jobs", "show", str(submitted.id)).stdout
    assert "none: a local process is not sized" in human


def test_video_add_probes_the_file_so_its_first_encode_is_sized(ctx, moto_batch, monkeypatch, tmp_path):
    """A file added from this machine is probed while it is here (through the descriptor checked
    for the copy): the very first SubmitJob is sized by its facts."""
    monkeypatch.setenv("VIDEOCTL_SIZING", "0:0.25/512,0.01:1/2048")  # the 2 s 640x360 clip is 0.014 Gpx
    sent = capture_submit_jobs(ctx.aws.session)
    source = clips.normal(find_ffmpeg(), tmp_path)
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source)
    info = probe(source)
    assert (video.duration_s, video.width, video.height, video.fps) == (info.duration_s, 640, 360, info.fps)
    assert ctx.videos.get(video.id).source_facts.gigapixels == pytest.approx(info.duration_s * 640 * 360 * info.fps / 1e9)
    job = submit(ctx, video)
    [request] = sent
    assert overrides(request) == [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}]
    assert job.size == ContainerSize(1, 2048)


def test_a_file_that_does_not_probe_is_still_added_and_keeps_the_default_size(ctx, moto_batch, tmp_path):
    """Whether it is a video at all is the encode's probe gate to say (and fail it as bad input)."""
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=clips.not_media(find_ffmpeg(), tmp_path))
    assert video.status is VideoStatus.UPLOADED and ctx.store.exists(video.source_key)
    assert (video.duration_s, video.width, video.height, video.fps) == (None, None, None, None)
    assert submit(ctx, video).size is None


def test_auto_submit_sizes_a_file_added_here_and_leaves_a_direct_upload_to_the_job_definition(
        ctx, moto_batch, monkeypatch, tmp_path):
    """VIDEOCTL_AUTO_SUBMIT: `video add FILE` probed the file before its submit, so that first
    SubmitJob is sized. A direct upload's first one is not: at `upload complete` videoctl has
    seen only the object's HEAD (size, ETag); its facts are first probed by that attempt's own
    encode, and a later attempt is sized by them (README "Container sizing")."""
    monkeypatch.setenv("VIDEOCTL_AUTO_SUBMIT", "1")
    monkeypatch.setenv("VIDEOCTL_SIZING", "0:0.25/512,0.01:1/2048")  # the 2 s 640x360 clip is 0.014 Gpx
    sent = capture_submit_jobs(ctx.aws.session)
    clip = clips.normal(find_ffmpeg(), tmp_path)
    client = Client(context=ctx)  # the test's context: its AWS session is the one listened on
    added = client.add_video(clip)
    [added_job] = client.list_jobs(video_id=added.id)
    upload = client.create_upload(title="direct", size=clip.stat().st_size)
    assert upload.method == "file"  # local storage: the client writes the file to a path
    Path(upload.path).write_bytes(clip.read_bytes())
    uploaded = client.mark_uploaded(upload.video.id)
    assert added_job.size == ContainerSize(1, 2048)
    assert uploaded.job is not None and uploaded.job.state is JobState.SUBMITTED and uploaded.job.size is None
    assert uploaded.video.source_facts.gigapixels is None  # nothing probed it yet
    assert [overrides(r) for r in sent] == [[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}], None]
