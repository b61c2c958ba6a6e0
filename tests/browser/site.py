"""A `videoctl serve` under test: its own database, store and home, two real encodes in it, and the
real CLI serving them from a process of its own.

Built once per test session (per xdist worker): `videoctl demo` makes the demo video (the test
reads the page URL it prints), `video add --captions` + `submit --wait` a second one with Korean
and English captions, and `videoctl --json serve --port 0` serves both; its stderr (the server's
log) is kept in a file for the tests to read.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.browser.test_captions_playback import srt
from tests.mpd_schema import assert_valid_mpd
from videoctl.db.connection import open_connection
from videoctl.db.reconnect import ReconnectingConnection
from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain.models import Job
from videoctl.domain.states import VideoStatus
from videoctl.settings import FIELDS

#: Two rungs keep the encodes short; the ladder's shape is the media tests' concern.
LADDER = "360:800,240:400"
#: The demo's printed page URL, with the port `videoctl serve` takes by default.
DEMO_PAGE = re.compile(r"open http://127\.0\.0\.1:8080/videos/(\d+)")


@dataclass
class Served:
    """One running `videoctl serve`."""

    process: subprocess.Popen
    url: str
    log: Path
    document: dict

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a supervisor stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


@dataclass
class Site:
    env: dict[str, str]
    db_url: str
    home: Path
    demo_video: int
    captioned_video: int
    demo_output: str
    server: Served | None = None
    _jobs: JobRepository | None = field(default=None, repr=False)

    @property
    def storage(self) -> Path:
        return self.home / "storage"

    @property
    def base(self) -> str:
        assert self.server is not None
        return self.server.base

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "videoctl", *args], env=env or self.env, capture_output=True,
                              text=True, timeout=timeout)

    def serve(self, *args: str, env: dict[str, str] | None = None, log_name: str | None = None) -> Served:
        """`videoctl --json serve ARGS --port 0` in a process of its own, once it listens."""
        log = self.home / (log_name or f"serve-{uuid.uuid4().hex[:8]}.log")
        with log.open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "serve", *args, "--port", "0"],
                                       env=env or self.env, stdout=subprocess.PIPE, stderr=stderr)
        document = read_document(process.stdout, log)
        return Served(process, document["data"]["url"], log, document)

    @property
    def jobs(self) -> JobRepository:
        """The job table, read and written here as run-job and scan-stuck do."""
        if self._jobs is None:
            self._jobs = JobRepository(ReconnectingConnection(lambda: open_connection(self.db_url)))
        return self._jobs

    def add_video(self, title: str) -> int:
        clip = self.home / "clips" / "demo-source.mp4"
        added = self.cli("--json", "video", "add", str(clip), "--title", title)
        assert added.returncode == 0, added.stderr
        return json.loads(added.stdout)["data"]["id"]

    def running_job(self, title: str, progress: int) -> Job:
        """A RUNNING job of a new video (PROCESSING) at *progress* %, claimed as run-job claims one."""
        video_id = self.add_video(title)
        job = self.jobs.create(video_id, max_attempts=3, begin=True)
        job = self.jobs.claim(job, f"browser-test-{uuid.uuid4().hex[:6]}", batch_job_id=None)
        VideoRepository(self.jobs.conn).set_status(video_id, VideoStatus.PROCESSING)
        self.jobs.heartbeat(job, progress)
        return job


def read_document(stdout: IO[bytes] | None, log: Path) -> dict:
    """The one JSON document `serve --json` prints once it listens (indented over several lines)."""
    assert stdout is not None
    text = ""
    for line in iter(stdout.readline, b""):
        text += line.decode()
        if line.rstrip() == b"}":
            return json.loads(text)
    raise AssertionError(f"videoctl serve printed no document: {text!r}\n{log.read_text(errors='replace')}")


def clean_env(**values: str) -> dict[str, str]:
    """This environment without any videoctl setting, plus *values*."""
    names = {name for spec in FIELDS for name in spec.env} - {"AWS_DEFAULT_REGION"}
    env = {k: v for k, v in os.environ.items() if k not in names and k not in ("AWS_BATCH_JOB_ID", "VIDEO_JOB_ID")}
    return {**env, "VIDEOCTL_LOG_FORMAT": "text", **values}


def create_database(server_url: str, template: str) -> str:
    name = f"videoctl_serve_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return urlsplit(server_url)._replace(path="/" + name).geturl()


def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def build_site(server_url: str, template: str, home: Path) -> Site:
    """The database, the two encoded videos, and `videoctl serve` on them."""
    from videoctl.media.binary import find_ffmpeg
    from videoctl.media.sample import generate_sample_clip

    db_url = create_database(server_url, template)
    env = clean_env(VIDEOCTL_DATABASE_URL=db_url, VIDEOCTL_HOME=str(home), VIDEOCTL_STORAGE_DIR=str(home / "storage"),
                    VIDEOCTL_EXECUTOR="local", VIDEOCTL_LADDER=LADDER)
    site = Site(env, db_url, home, 0, 0, "")
    demo = site.cli("demo", "--seconds", "6")
    assert demo.returncode == 0, demo.stderr
    found = DEMO_PAGE.search(demo.stdout)
    assert found and "videoctl serve" in demo.stdout, demo.stdout
    site.demo_video, site.demo_output = int(found[1]), demo.stdout

    clips = home / "clips"
    clips.mkdir()
    clip = generate_sample_clip(find_ffmpeg(), clips / "demo-source.mp4", seconds=8, width=640, height=360)
    captions = ("--captions", f"ko={srt(clips / 'ko.srt')}", "--captions", f"en={srt(clips / 'en.srt')}")
    added = site.cli("--json", "video", "add", str(clip), "--title", "Lecture 1 · with captions", *captions)
    assert added.returncode == 0, added.stderr
    site.captioned_video = json.loads(added.stdout)["data"]["id"]
    submitted = site.cli("submit", str(site.captioned_video), "--wait")
    assert submitted.returncode == 0, submitted.stderr
    # Both MPDs were written by videoctl processes, out of reach of tests/conftest.py's check.
    mpds = sorted((home / "storage").rglob("manifest.mpd"))
    assert len(mpds) == 2, mpds
    for mpd in mpds:
        assert_valid_mpd(mpd)

    site.server = site.serve(log_name="serve.log")
    return site


def request(base: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with *path* sent exactly as given (no client normalises a '..' away)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
