"""A real ladder for the playback tests (the edge Worker's and `videoctl serve`'s ``/t/`` route):
encoded once per session (per xdist worker) by run-job in a database and store of its own, with
Korean captions, 2 s segments and the whole set of outputs (CMAF, MPD, posters, storyboard,
captions, MP4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tests.browser.test_captions_playback import srt
from tests.conftest import _with_dbname
from videoctl.api import Client
from videoctl.db.repositories import JobRepository
from videoctl.domain import keys as key_layout
from videoctl.domain import playback
from videoctl.domain.models import Video
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.settings import Settings

#: Test keys only, newest first, as VIDEOCTL_PLAYBACK_KEYS and the Worker's PLAYBACK_KEYS list them.
KEYS = "k2026b:edge-test-secret-b-0123456789abcdef0123456789," "k2026a:edge-test-secret-a-0123456789abcdef0123456789"
#: The app's page, allowed to play (CORS).
APP_ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class Ladder:
    storage: Path
    video: Video
    prefix: str
    settings: Settings
    db_url: str

    def files(self) -> dict[str, bytes]:
        """Every object of the ladder: key → bytes."""
        folder = self.storage / self.prefix
        return {f"{self.prefix}{path.relative_to(folder).as_posix()}": path.read_bytes()
                for path in sorted(folder.rglob("*")) if path.is_file()}

    def token(self, *, expires_in: int = 600, viewer: str | None = "student-42", key: int = 0,
              prefix: str | None = None) -> str:
        import time

        keyring = playback.parse_keys(KEYS)
        return playback.sign(prefix or self.prefix, key=keyring.keys[key], expires_at=int(time.time()) + expires_in,
                             viewer=viewer)


@contextmanager
def encoded_ladder(pg_server_url: str, template_db: str, home: Path) -> Iterator[Ladder]:
    """A READY video's ladder in a database (copied from *template_db*) and store under *home* of
    its own, dropped at the end."""
    name = f"videoctl_edge_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                      sql.Identifier(template_db)))
    db_url = _with_dbname(pg_server_url, name)
    settings = Settings.from_env({
        "VIDEOCTL_DATABASE_URL": db_url, "VIDEOCTL_HOME": str(home), "VIDEOCTL_STORAGE_DIR": str(home / "storage"),
        "VIDEOCTL_EXECUTOR": "local", "VIDEOCTL_LADDER": "360:800,240:400", "VIDEOCTL_SEGMENT_SECONDS": "2",
        "VIDEOCTL_PLAYBACK_KEYS": KEYS})
    try:
        clip = generate_sample_clip(find_ffmpeg(), home / "clip.mp4", seconds=10, width=640, height=360)
        with Client(settings) as videoctl:
            video = videoctl.add_video(clip, title="edge", captions={"ko": srt(home / "ko.srt")})
            with psycopg.connect(db_url, autocommit=True) as conn:
                from psycopg.rows import dict_row

                conn.row_factory = dict_row
                job = JobRepository(conn).create(video.id, max_attempts=1)
            result = videoctl.run_job(job.id)
        assert result.video.status == "READY"
        video = result.video
        yield Ladder(home / "storage", video, key_layout.prefix_of_master(video.hls_path), settings, db_url)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


