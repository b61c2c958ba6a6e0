"""The `videoctl` executable end to end: demo on the embedded default, local submit --wait,
Batch submit against a moto server, and what a container logs."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import clips
from tests.moto_batch import BATCH_QUEUE, create_batch_resources
from tests.mpd_schema import assert_valid_mpd
from videoctl.db import embedded
from videoctl.media.binary import find_ffmpeg

pytestmark = pytest.mark.slow


def videoctl(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videoctl", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def plays(master: Path) -> None:
    """Every rendition decodes without a complaint, each on its own as a player reads one (ffmpeg's
    HLS demuxer reading all fMP4 variants of a master at once mixes their parsers up), and so
    does the MPD beside the master where there is one, which is also valid against MPEG's schema
    (written by another process, it escapes the check tests/conftest.py makes in this one)."""
    playlists = [master.parent / line for line in master.read_text().splitlines()
                 if line.endswith(".m3u8") and not line.startswith("#")]
    mpd = master.parent / "manifest.mpd"
    assert playlists
    for playlist in [*playlists, *([mpd] if mpd.exists() else [])]:
        result = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(playlist), "-f", "null", "-"],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr.strip(), (playlist, result.stderr)
    if mpd.exists():
        assert_valid_mpd(mpd)


def test_demo_on_the_embedded_default_produces_a_playable_ladder():
    home = Path(f"/tmp/videoctl-demo-{uuid.uuid4().hex[:8]}")  # not under a home folder
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOCTL_", "DATABASE_URL", "R2_"))}
    env["VIDEOCTL_HOME"] = str(home)
    env["VIDEOCTL_LADDER"] = "360:800,240:400"  # quick; the default ladder is exercised by the media tests
    try:
        result = videoctl("--json", "demo", "--seconds", "2", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        data = json.loads(result.stdout)["data"]
        assert data["video"]["status"] == "READY" and data["job"]["state"] == "SUCCEEDED"
        assert [r["name"] for r in data["ladder"]] == ["360p", "240p"]
        master = Path(data["master"])
        assert master.is_file() and master.is_relative_to(home / "storage")
        plays(master)
        # The signed master URL a viewer's player gets, for `videoctl serve` on its default port,
        # signed with the local key made under the home (0600), which no output shows.
        signed = data["playback"]
        prefix = data["video"]["hls_path"].removesuffix("master.m3u8")
        assert signed["master"] == f"http://127.0.0.1:8080/t/{signed['token']}/{prefix}master.m3u8"
        assert signed["key_id"] == "local" and signed["prefix"] == prefix
        key_file = home / "playback.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        secret = key_file.read_text().strip().partition(":")[2]
        human = videoctl("demo", "--seconds", "2", "--port", "9000", env=env)
        assert human.returncode == 0 and "READY" in human.stdout and "ffplay" in human.stdout
        assert re.search(r"signed playback URL.*\n  http://127\.0\.0\.1:9000/t/v1\.local\.\d+\.\S+/master\.m3u8\n",
                         human.stdout), human.stdout
        assert secret not in result.stdout + result.stderr + human.stdout + human.stderr
    finally:
        embedded.stop_server(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def cli_env(env, monkeypatch, tmp_path) -> dict[str, str]:
    monkeypatch.setenv("VIDEOCTL_LADDER", "360:800,240:400")
    monkeypatch.setenv("VIDEOCTL_HOME", str(tmp_path / "home"))
    return dict(os.environ)


def test_local_submit_wait_exit_code_follows_the_job(cli_env, tmp_path):
    ffmpeg = find_ffmpeg()
    good = json.loads(videoctl("--json", "video", "add", str(clips.normal(ffmpeg, tmp_path)), env=cli_env).stdout)
    done = videoctl("--json", "submit", str(good["data"]["id"]), "--wait", env=cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["data"]["job"]["state"] == "SUCCEEDED"
    logs = list((tmp_path / "home" / "logs").glob("*.log"))
    assert len(logs) == 1  # 1 job = 1 process, its log in a file

    bad = json.loads(videoctl("--json", "video", "add", str(clips.not_media(ffmpeg, tmp_path)), env=cli_env).stdout)
    failed = videoctl("--json", "submit", str(bad["data"]["id"]), "--wait", env=cli_env)
    assert failed.returncode == 1
    error = json.loads(failed.stdout)["error"]
    assert error["code"] == "job_failed" and "invalid_input" in error["message"]


def test_local_cancel_stops_the_process(cli_env, tmp_path, conn):
    from tests.integration.test_run_job import wait_until
    from videoctl.executor.local import parse_pid, pid_alive
    from videoctl.media.sample import generate_sample_clip

    env = {**cli_env, "VIDEOCTL_X264_PRESET": "veryslow"}  # an encode long enough to cancel
    source = generate_sample_clip(find_ffmpeg(), tmp_path / "long.mp4", seconds=20, noise=True)
    video = json.loads(videoctl("--json", "video", "add", str(source), env=env).stdout)["data"]
    job = json.loads(videoctl("--json", "submit", str(video["id"]), env=env).stdout)["data"]["job"]
    pid = parse_pid(job["executor_job_id"])

    def encoding() -> bool:
        row = conn.execute("SELECT state, progress FROM video_transcode_job WHERE id = %s", (job["id"],)).fetchone()
        return row["state"] == "RUNNING" and row["progress"] >= 12

    wait_until(encoding, timeout=60, what="the local process to start encoding")
    cancelled = videoctl("--json", "jobs", "cancel", str(job["id"]), "--reason", "operator test", env=cli_env)
    assert cancelled.returncode == 0, cancelled.stdout
    wait_until(lambda: not pid_alive(pid), timeout=30, what="the local process to stop")
    shown = json.loads(videoctl("--json", "jobs", "show", str(job["id"]), env=cli_env).stdout)["data"]
    assert shown["state"] == "CANCELLED" and shown["error_message"] == "operator test"


def test_batch_submit_through_the_executable_against_a_moto_server(cli_env, monkeypatch):
    import boto3
    import requests
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        requests.post(f"{endpoint}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10)
        for service in ("BATCH", "IAM"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", endpoint)
        create_batch_resources()
        env = {**os.environ, "VIDEOCTL_EXECUTOR": "batch", "VIDEOCTL_AWS_ENDPOINT_URL": endpoint}
        source = Path(cli_env["VIDEOCTL_HOME"]).parent / "src.mp4"
        source.write_bytes(b"\x00" * 1000)
        video = json.loads(videoctl("--json", "video", "add", str(source), env=env).stdout)["data"]
        submitted = videoctl("--json", "submit", str(video["id"]), "--priority", "5", env=env)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        data = json.loads(submitted.stdout)["data"]
        batch = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1")
        [described] = batch.describe_jobs(jobs=[data["executor_job_id"]])["jobs"]
        assert described["jobName"] == f"video-{video['id']}-job-{data['job_id']}-a1"
        assert described["parameters"] == {"job_id": str(data["job_id"])}
        assert described["jobQueue"].endswith(BATCH_QUEUE)
        again = videoctl("--json", "submit", str(video["id"]), env=env)
        assert again.returncode == 5 and f"job {data['job_id']}" in json.loads(again.stdout)["error"]["message"]
        listed = batch.list_jobs(jobQueue=BATCH_QUEUE, filters=[{"name": "JOB_NAME", "values": ["*"]}])
        assert len(listed["jobSummaryList"]) == 1
    finally:
        server.stop()


def test_container_logs_are_json_lines_without_secrets(cli_env, tmp_path, conn):
    ffmpeg = find_ffmpeg()
    # The password is real for nothing: trust auth ignores it, but it must never be printed.
    parts = urlsplit(cli_env["VIDEOCTL_DATABASE_URL"])
    userinfo, _, hostport = parts.netloc.rpartition("@")
    secret_url = urlunsplit(parts._replace(netloc=f"{userinfo.split(':')[0] or 'postgres'}:hunter2-secret@{hostport}"))
    env = {**cli_env, "VIDEOCTL_DATABASE_URL": secret_url, "AWS_BATCH_JOB_ID": "batch-abc",
           "REDIS_URL": "redis://:redis-secret@127.0.0.1:1/0"}
    video = json.loads(videoctl("--json", "video", "add", str(clips.normal(ffmpeg, tmp_path)), env=env).stdout)
    job = conn.execute("INSERT INTO video_transcode_job (video_id, max_attempts, attempt) VALUES (%s, 3, 1) "
                       "RETURNING id", (video["data"]["id"],)).fetchone()
    result = videoctl("run-job", str(job["id"]), env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"claimed job", "probed source", "encoded", "job completed"} <= {r["msg"] for r in records}
    assert all(r["level"] in ("info", "warning") for r in records)
    claimed = next(r for r in records if r["msg"] == "claimed job")
    assert claimed["runner"] == "batch-abc" and claimed["job_id"] == job["id"]
    assert "hunter2-secret" not in result.stderr and "redis-secret" not in result.stderr
