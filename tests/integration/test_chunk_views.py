"""A chunked job's chunks as `jobs show`, `jobs list` and `submit --wait` show them (#23 point 3),
on a real PostgreSQL: the chunk rows made and moved by the repositories run-job uses, their
times set where a test needs known durations."""

from __future__ import annotations

import io
from fractions import Fraction

from rich.console import Console

from tests.cli import run_cli
from tests.contract import document_problems
from tests.integration.test_repositories import make_video
from videoctl.commands import _render as out
from videoctl.db.repositories import ChunkRepository, JobRepository
from videoctl.domain.chunks import plan_chunks
from videoctl.domain.sizing import ContainerSize

#: 4 chunks of 10 s over a 35 s source: the last one is 5 s long.
PLAN = plan_chunks(35, Fraction(30), segment_s=2, chunk_s=10, chunk_after_s=0)


def chunked_job(conn, *, duration_s: float = 35):
    jobs = JobRepository(conn)
    video = make_video(conn)
    conn.execute("UPDATE video SET duration_s = %s WHERE id = %s", (duration_s, video.id))
    job = jobs.claim(jobs.mark_submitted(jobs.create(video.id, max_attempts=3, begin=True), "local:1:1"), "lead",
                     batch_job_id=None)
    return ChunkRepository(conn).create(job, PLAN, {"plan": PLAN.to_dict()})


def wide_terminal(monkeypatch) -> None:
    """The tables printed as wide as they are: no cell folded over lines."""
    monkeypatch.setattr(out, "stdout", Console(soft_wrap=True, width=250, emoji=False))


def set_times(conn, job, idx: int, *, started_s_ago: float, finished_s_ago: float | None = None) -> None:
    conn.execute("UPDATE job_chunk SET started_at = now() - make_interval(secs => %s), "
                 "finished_at = now() - make_interval(secs => %s) WHERE job_id = %s AND attempt = %s AND idx = %s",
                 (started_s_ago, finished_s_ago, job.id, job.attempt, idx))


def test_jobs_show_gives_each_chunk_a_summary_and_an_eta_from_the_chunks_left(capsys, env, conn, monkeypatch):
    job = chunked_job(conn)
    chunks = ChunkRepository(conn)
    # Chunks 0 and 1 ran at once for 20 s each (2 s per source second); chunk 2 runs, just
    # started; chunk 3 failed once and waits for its retry.
    for idx in (0, 1):
        claimed = chunks.claim(job.id, job.attempt, idx, f"runner-{idx}", batch_job_id=None)
        chunks.mark_sent(claimed, f"local:10{idx}:1", ContainerSize(2, 4096) if idx == 0 else None)
        chunks.finish(claimed, {"index": idx})
        set_times(conn, job, idx, started_s_ago=50, finished_s_ago=30)
    running = chunks.claim(job.id, job.attempt, 2, "runner-2", batch_job_id=None)
    chunks.heartbeat(running, 2)
    set_times(conn, job, 2, started_s_ago=5)
    failing = chunks.claim(job.id, job.attempt, 3, "runner-3", batch_job_id=None)
    chunks.schedule_retry(chunks.fail(failing, error_code="media_error", error_message="ffmpeg \x1b[31mdied",
                                      runner_id="runner-3"), 600)
    conn.execute("UPDATE video_transcode_job SET progress = 25 WHERE id = %s", (job.id,))

    data = run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]
    assert document_problems("jobs show", data) == []
    seen = data["chunk_progress"]
    assert (seen["total"], seen["done"], seen["running"], seen["waiting"], seen["retrying"]) == (4, 2, 1, 0, 1)
    assert seen["parallelism"] == 2 and seen["attempt"] == job.attempt
    assert seen["percent"] == round((2 * 10 * 100 + 10 * 2) / 35, 1)
    rows = seen["chunks"]
    assert [(c["index"], c["start_s"], c["end_s"], c["state"]) for c in rows] == [
        (0, 0, 10, "SUCCEEDED"), (1, 10, 20, "SUCCEEDED"), (2, 20, 30, "RUNNING"), (3, 30, 35, "RETRY_WAIT")]
    assert rows[0]["executor_job_id"] == "local:100:1" and rows[2]["runner_id"] == "runner-2"
    assert abs(rows[0]["elapsed_s"] - 20) < 0.5 and rows[2]["heartbeat_age_s"] < 60
    assert rows[3]["error_code"] == "media_error" and rows[3]["next_try_at"]
    # The size each try asked for: chunk 0's container was sized, chunk 1 had the definition's.
    assert (rows[0]["size"], rows[1]["size"]) == (str(ContainerSize(2, 4096)), None)
    # The ETA is the chunks', not the lead's 25 %: chunk 2 needs 2 × 10 − 5 = 15 s more, and
    # chunk 3's retry (10 s of work) starts in 600 s: 610 s, where the job's own rate would say ~3 × its age.
    assert 600 <= data["eta_s"] <= 611 and data["eta_s"] == seen["eta_s"]

    wide_terminal(monkeypatch)
    human = run_cli(capsys, "jobs", "show", str(job.id))
    assert human.exit_code == 0, human.stderr
    assert "chunks 2/4 done, 1 running, 1 retrying" in human.stdout
    assert "chunks of attempt 1" in human.stdout
    assert "0:30–0:35" in human.stdout and "RETRY_WAIT: media_error: ffmpeg \\x1b[31mdied" in human.stdout
    assert "\x1b[31m" not in human.stdout  # the error is shown escaped, as every outside text is
    assert "local:100:1 (runner-0)" in human.stdout and "2 at once" in human.stdout
    assert str(ContainerSize(2, 4096)) in human.stdout


def test_a_one_pass_job_has_no_chunks_and_keeps_its_own_eta(capsys, env, conn):
    jobs = JobRepository(conn)
    job = jobs.claim(jobs.begin_attempt(jobs.create(make_video(conn).id, max_attempts=3)), "one-pass",
                     batch_job_id=None)
    conn.execute("UPDATE video_transcode_job SET progress = 40, started_at = now() - interval '80 seconds' "
                 "WHERE id = %s", (job.id,))
    data = run_cli(capsys, "--json", "jobs", "show", str(job.id)).json()["data"]
    assert data["chunk_progress"] is None and 110 <= data["eta_s"] <= 130


def test_jobs_list_shows_a_chunked_jobs_chunks_in_its_progress(capsys, env, conn, monkeypatch):
    job = chunked_job(conn)
    ChunkRepository(conn).claim(job.id, job.attempt, 1, "runner-1", batch_job_id=None)
    listed = run_cli(capsys, "--json", "jobs", "list").json()["data"]
    assert document_problems("jobs list", listed) == []
    [row] = [j for j in listed if j["id"] == job.id]
    assert [c["state"] for c in row["chunk_progress"]["chunks"]] == ["PENDING", "RUNNING", "PENDING", "PENDING"]
    wide_terminal(monkeypatch)
    human = run_cli(capsys, "jobs", "list")
    assert "chunks 0/4 done, 1 running, 3 waiting" in human.stdout


def test_submit_wait_follows_the_chunks_to_the_end(env, conn, ctx, monkeypatch):
    """What `submit --wait` sees at each poll (Client.follow), the chunks moving between polls,
    and the bars it draws for a person watching (a terminal)."""
    from videoctl.api import Client

    job = chunked_job(conn)
    chunks, jobs = ChunkRepository(conn), JobRepository(conn)
    claimed = {}

    def advance(seen_job) -> None:
        """Each poll moves the attempt one step: two chunks start, they finish and a third starts, …"""
        step = len(seen)
        if step == 1:
            for idx in (0, 1):
                claimed[idx] = chunks.claim(job.id, job.attempt, idx, f"runner-{idx}", batch_job_id=None)
                chunks.heartbeat(claimed[idx], 40)
        elif step == 2:
            for idx in (0, 1):
                chunks.finish(claimed[idx], {})
            claimed[2] = chunks.claim(job.id, job.attempt, 2, "runner-2", batch_job_id=None)
            claimed[3] = chunks.claim(job.id, job.attempt, 3, "runner-3", batch_job_id=None)
        elif step == 3:
            chunks.finish(claimed[2], {})
            last = chunks.finish(claimed[3], {})
            jobs.complete(last, output_prefix=f"videos/{job.video_id}/hls/{job.id}-{job.attempt}/")

    terminal = io.StringIO()
    monkeypatch.setattr(out, "stderr", Console(file=terminal, force_terminal=True, width=160, emoji=False))
    seen = []
    bar, update = out.job_progress(job.id)
    with bar, Client(context=ctx) as client:
        done = client.follow(job.id, poll_s=0.01,
                             on_update=lambda view: (seen.append(view), update(view), advance(view)))
    assert done.state == "SUCCEEDED"
    summaries = [view.chunk_progress.summary for view in seen]
    assert summaries == ["chunks 0/4 done, 4 waiting", "chunks 0/4 done, 2 running, 2 waiting",
                         "chunks 2/4 done, 2 running", "chunks 4/4 done"]
    assert seen[1].chunk_progress.percent == round((10 * 40 + 10 * 40) / 35, 1)
    assert "chunks 2/4 done, 2 running" in out.job_progress_text(seen[2])
    assert seen[2].eta_s == seen[2].chunk_progress.eta_s is not None  # from the chunks' measured rates
    drawn = terminal.getvalue()
    assert f"job {job.id} SUCCEEDED" in drawn and "chunks 4/4 done" in drawn
