"""Test fixtures: a real PostgreSQL, a fresh database per test, isolated settings.

The server is the one named by VIDEOCTL_TEST_DATABASE_URL (CI: this machine's
127.0.0.1:5432), else an embedded pgserver. Each test gets its own database,
copied from a migrated template (procrastinate's approach), so tests never
see each other's rows and migrations run once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.moto_batch import create_batch_resources
from videoctl.db import migrate
from videoctl.settings import FIELDS, Settings

TEST_URL_VAR = "VIDEOCTL_TEST_DATABASE_URL"
REPO = Path(__file__).resolve().parents[1]

# moto must know the R2-style endpoint before it is imported, or calls to it
# would leave the machine; fake credentials keep any stray call off real AWS.
R2_TEST_ENDPOINT = "https://r2.videoctl.test"
os.environ["MOTO_S3_CUSTOM_ENDPOINTS"] = R2_TEST_ENDPOINT
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)


def _server_url() -> str:
    url = os.environ.get(TEST_URL_VAR)
    if url:
        return url
    # Embedded server outside any home folder (pgserver opens every parent).
    from videoctl.db import embedded

    base = Path(f"/tmp/videoctl-test-pg-{os.geteuid()}")
    base.mkdir(exist_ok=True)
    return embedded.ensure_server(base / "pgdata")


def _with_dbname(url: str, dbname: str) -> str:
    """The same server URL with another database (both server URLs are URLs)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def template_db(pg_server_url: str, worker_id: str) -> str:
    name = f"videoctl_tpl_{worker_id}_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_with_dbname(pg_server_url, name), autocommit=True) as conn:
        migrate.migrate(conn)
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture
def db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for this test alone."""
    name = f"videoctl_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_db))
        )
    yield _with_dbname(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No operator setting leaks into a test; the embedded home is per test."""
    for spec in FIELDS:
        for name in spec.env:
            if name != "AWS_DEFAULT_REGION":
                monkeypatch.delenv(name, raising=False)
    for name in ("AWS_BATCH_JOB_ID", "VIDEO_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("VIDEOCTL_HOME", str(home))
    return home


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str, isolated_env: Path) -> dict[str, str]:
    """Environment for a videoctl pointed at this test's database and a local store."""
    monkeypatch.setenv("VIDEOCTL_DATABASE_URL", db_url)
    monkeypatch.setenv("VIDEOCTL_STORAGE_DIR", str(isolated_env / "storage"))
    monkeypatch.setenv("VIDEOCTL_EXECUTOR", "local")
    return dict(os.environ)


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def r2_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Settings for R2 storage, served by moto behind an R2-style endpoint."""
    from moto import mock_aws

    values = {
        "R2_BUCKET": "videos-test",
        "R2_ENDPOINT_URL": R2_TEST_ENDPOINT,
        "R2_ACCESS_KEY_ID": "r2-test-key",
        "R2_SECRET_ACCESS_KEY": "r2-test-secret",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=values["R2_BUCKET"])
        yield dict(os.environ)


@pytest.fixture
def moto_batch(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """moto AWS with Batch that never runs Docker; videoctl set to the batch executor."""
    from moto import mock_aws

    monkeypatch.setenv("VIDEOCTL_EXECUTOR", "batch")
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield create_batch_resources()


@pytest.fixture
def ctx(env: dict[str, str]):
    """An AppContext that reads the environment at first use, after every fixture set it."""
    from videoctl.context import AppContext

    context = AppContext()
    yield context
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _mpd_schema_refusals() -> Iterator[list[str]]:
    """Every MPD that videoctl.media.dash writes in this process, checked against MPEG's schema as
    it is written (tests/mpd_schema.py). Session-wide, so the MPDs that module and session
    fixtures write are checked too; an invalid one raises where it is written and is also kept
    here, for when the code that wrote it catches that."""
    from tests.mpd_schema import schema_errors
    from videoctl.media import dash

    refusals: list[str] = []
    write = dash.mpd_text

    def checked(presentation: dash.Presentation) -> str:
        text = write(presentation)
        errors = schema_errors(text)
        if errors:
            refusals.extend(errors)
            raise AssertionError("the MPD is not valid against DASH-MPD.xsd:\n" + "\n".join(errors))
        return text

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dash, "mpd_text", checked)
        yield refusals


@pytest.fixture(autouse=True)
def every_mpd_is_schema_valid(_mpd_schema_refusals: list[str], isolated_env: Path) -> Iterator[None]:
    """After each test: what the check above refused, and every manifest.mpd that videoctl
    processes (run-job from `submit --wait` or the local executor) left in the test's home."""
    from tests.mpd_schema import refusals_under

    yield
    refused = list(_mpd_schema_refusals)
    _mpd_schema_refusals.clear()
    if isolated_env.is_dir():
        refused += refusals_under(isolated_env)
    assert not refused, "an MPD of this test is not valid against DASH-MPD.xsd:\n" + "\n".join(refused)


@dataclass(frozen=True)
class BuiltWheel:
    """The project built as a wheel, and the wheel unpacked as a site-packages folder would hold it."""

    path: Path
    site_packages: Path

    @property
    def names(self) -> set[str]:
        return set(zipfile.ZipFile(self.path).namelist())

    def run(self, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Python ``code`` against the unpacked wheel alone (its folder is argv[1]), not the checkout."""
        return subprocess.run([sys.executable, "-c", code, str(self.site_packages)], cwd=cwd, capture_output=True,
                              text=True, env={"PYTHONPATH": str(self.site_packages), "PATH": "/usr/bin:/bin"},
                              timeout=60)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """What `pip install` ships, built once per session (per xdist worker): the packaging tests share it."""
    folder = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = folder.glob("videoctl-*.whl")
    unpacked = folder / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    return BuiltWheel(wheel, unpacked)
