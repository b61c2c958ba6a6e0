"""`videoctl quality ID [--sample N] [--full] [--json]`, and the numbers in `video show` and `stats`,
end to end on a local store and the real database: the CLI in this process, run-job's real encode."""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from tests.contract import document_problems
from videoctl.domain.errors import EXIT_CODES
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip

pytestmark = pytest.mark.slow


@pytest.fixture
def ready_video(capsys, env, monkeypatch, tmp_path, conn) -> int:
    """A READY video of 5 one-second segments in two rungs, encoded (and sampled) by run-job."""
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400,144:100")
    monkeypatch.setenv("VIDEOCTL_SEGMENT_SECONDS", "1")
    clip = generate_sample_clip(find_ffmpeg(), tmp_path / "lecture.mp4", seconds=5, width=426, height=240)
    video_id = run_cli(capsys, "--json", "video", "add", str(clip)).json()["data"]["id"]
    job_id = conn.execute("INSERT INTO video_transcode_job (video_id, max_attempts, attempt) VALUES (%s, 1, 1) "
                          "RETURNING id", (video_id,)).fetchone()["id"]
    assert run_cli(capsys, "run-job", str(job_id)).exit_code == 0
    return video_id


def test_quality_measures_the_live_ladder_and_prints_a_table(capsys, ready_video):
    result = run_cli(capsys, "quality", str(ready_video), "--sample", "2")
    assert result.exit_code == 0, result.stderr
    said = result.stdout
    assert "2 segment(s) spread over the video" in said
    for heading in ("rung", "VMAF mean", "VMAF p5", "PSNR-Y dB", "bitrate"):
        assert heading in said
    rows = [line for line in said.splitlines() if "240p" in line or "144p" in line]
    assert len(rows) == 2 and "(top)" in rows[0] and "426x240" in rows[0] and "kbit/s" in rows[0]


def test_json_carries_the_declared_fields_for_a_sample_and_for_every_frame(capsys, ready_video):
    sampled = run_cli(capsys, "--json", "quality", str(ready_video), "--sample", "3")
    assert sampled.exit_code == 0, sampled.stdout
    rungs = sampled.json()["data"]
    assert document_problems("quality", rungs) == []
    assert [(r["rung"], r["mode"], r["segments"], r["top_rung"]) for r in rungs] == [
        ("240p", "sample", 3, True), ("144p", "sample", 3, False)]
    assert rungs[0]["vmaf_mean"] > rungs[1]["vmaf_mean"] and rungs[0]["psnr_y_mean"] > rungs[1]["psnr_y_mean"]

    full = run_cli(capsys, "quality", str(ready_video), "--full", "--json")
    assert full.exit_code == 0, full.stdout
    assert [(r["mode"], r["segments"]) for r in full.json()["data"]] == [("full", 5), ("full", 5)]
    assert document_problems("quality", full.json()["data"]) == []


def test_video_show_and_stats_show_the_numbers(capsys, ready_video):
    measured = run_cli(capsys, "--json", "quality", str(ready_video), "--sample", "2").json()["data"]

    shown = run_cli(capsys, "--json", "video", "show", str(ready_video)).json()["data"]
    assert shown["quality"] == measured and shown["quality_error"] is None
    human = run_cli(capsys, "video", "show", str(ready_video)).stdout
    top = measured[0]
    assert f"quality of ladder {top['output_prefix']}" in human and f"{top['vmaf_mean']:.2f}" in human

    stats = run_cli(capsys, "--json", "stats").json()["data"]["quality"]
    assert stats["ladders"] == 1  # one ladder, measured twice: the second replaced the first
    assert stats["min"] == stats["p50"] == stats["max"] == top["vmaf_mean"]
    assert sum(stats["histogram"]) == 1 and stats["histogram"][int(top["vmaf_mean"] // 10)] == 1
    said = run_cli(capsys, "stats").stdout
    assert f"top-rung VMAF (24 h, 1 ladder(s)): min {top['vmaf_mean']:.1f}" in said


def test_a_video_without_a_ladder_and_a_contradiction_are_refused(capsys, env, tmp_path, ready_video):
    clip = generate_sample_clip(find_ffmpeg(), tmp_path / "new.mp4", seconds=1, width=160, height=90)
    uploaded = run_cli(capsys, "--json", "video", "add", str(clip)).json()["data"]["id"]
    refused = run_cli(capsys, "--json", "quality", str(uploaded))
    assert refused.exit_code == EXIT_CODES["invalid_state"]
    assert "UPLOADED: it has no live ladder" in refused.json()["error"]["message"]

    both = run_cli(capsys, "--json", "quality", str(ready_video), "--sample", "2", "--full")
    assert both.exit_code == EXIT_CODES["usage_error"] and both.json()["error"]["code"] == "usage_error"
    missing = run_cli(capsys, "--json", "quality", "999999")
    assert missing.exit_code == EXIT_CODES["not_found"]
    zero = run_cli(capsys, "--json", "quality", str(ready_video), "--sample", "0")
    assert zero.exit_code == EXIT_CODES["usage_error"]
