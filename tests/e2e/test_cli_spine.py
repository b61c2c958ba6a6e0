"""The CLI frame: help everywhere, the error vocabulary, JSON output, spine commands."""

from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.cli import app
from videoctl.domain.errors import EXIT_CODES


def _command_paths(typer_app, prefix=()):
    from typer.main import get_command

    root = get_command(typer_app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))

    return list(walk(root, prefix))


def test_every_command_has_help(capsys):
    paths = _command_paths(app)
    assert len(paths) > 8
    for path, cmd in paths:
        assert (cmd.help or "").strip(), f"{' '.join(path) or 'videoctl'} has no help text"
        result = run_cli(capsys, *path, "--help")
        assert result.exit_code == 0, path
        assert "Usage" in result.stdout


def test_version(capsys):
    from videoctl import __version__

    result = run_cli(capsys, "--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"videoctl {__version__}"


def test_video_add_show_list_and_jobs(capsys, env, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 2048)
    added = run_cli(capsys, "--json", "video", "add", str(clip), "--title", "Intro")
    assert added.exit_code == 0, added.stderr
    video = added.json()["data"]
    assert video["status"] == "UPLOADED" and video["title"] == "Intro"
    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / video["source_key"]
    assert stored.read_bytes() == clip.read_bytes()

    shown = run_cli(capsys, "video", "show", str(video["id"]), "--json")
    assert shown.json()["data"]["source_key"] == video["source_key"]
    assert shown.json()["data"]["jobs"] == []

    listed = run_cli(capsys, "video", "list", "--status", "UPLOADED", "--json")
    assert [v["id"] for v in listed.json()["data"]] == [video["id"]]

    human = run_cli(capsys, "video", "list")
    assert human.exit_code == 0 and "Intro" in human.stdout

    assert run_cli(capsys, "jobs", "list", "--json").json() == {"data": []}


@pytest.mark.parametrize("args", [("video", "show", "999"), ("jobs", "show", "999")])
def test_missing_id_is_not_found(capsys, env, args):
    result = run_cli(capsys, *args)
    assert result.exit_code == EXIT_CODES["not_found"]
    assert "not_found" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    as_json = run_cli(capsys, "--json", *args)
    assert as_json.exit_code == EXIT_CODES["not_found"]
    error = as_json.json()["error"]
    assert error["code"] == "not_found" and "999" in error["message"] and error["hint"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda tmp: tmp / "missing.mp4", "not found"),
        (lambda tmp: (tmp / "empty.mp4").write_bytes(b"") or tmp / "empty.mp4", "empty"),
        (lambda tmp: tmp, "not a regular file"),
    ],
)
def test_video_add_refuses_bad_files_and_creates_nothing(capsys, env, tmp_path, setup, message):
    result = run_cli(capsys, "--json", "video", "add", str(setup(tmp_path)))
    assert result.exit_code == EXIT_CODES["invalid_input"]
    assert message in result.json()["error"]["message"]
    assert run_cli(capsys, "--json", "video", "list").json() == {"data": []}


def test_invalid_config_fails_naming_the_variable(capsys, env, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_STALE_AFTER_SECONDS", "-1")
    result = run_cli(capsys, "--json", "jobs", "list")
    assert result.exit_code == EXIT_CODES["config_error"]
    assert "VIDEOCTL_STALE_AFTER_SECONDS" in result.json()["error"]["message"]


def test_config_show_sources_and_masking(capsys, env, monkeypatch):
    monkeypatch.setenv("R2_BUCKET", "b")
    monkeypatch.setenv("R2_ENDPOINT_URL", "https://acct.r2.cloudflarestorage.com")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "verysecret")
    result = run_cli(capsys, "config", "show", "--json")
    rows = {r["name"]: r for r in result.json()["data"]}
    assert rows["r2_bucket"]["source"] == "env:R2_BUCKET"
    assert rows["batch_job_queue"] == {
        "name": "batch_job_queue", "env": "VIDEO_BATCH_JOB_QUEUE",
        "value": "academy-video-batch-queue", "source": "default", "secret": False}
    assert "verysecret" not in result.stdout and "AKIAEXAMPLE" not in result.stdout
    human = run_cli(capsys, "config", "show")
    assert "verysecret" not in human.stdout and "env:R2_BUCKET" in human.stdout


def test_db_migrate_and_status(capsys, env):
    status = run_cli(capsys, "db", "status", "--json").json()["data"]
    assert status and all(row["applied_at"] for row in status)
    assert run_cli(capsys, "db", "migrate", "--json").json() == {"data": []}


def test_schema_behind_is_refused_with_a_hint(capsys, env, conn):
    conn.execute("DELETE FROM schema_migrations")
    result = run_cli(capsys, "--json", "jobs", "list")
    assert result.exit_code == EXIT_CODES["db_error"]
    assert result.json()["error"]["hint"] == "run `videoctl db migrate`"


def test_usage_error_in_json_mode(capsys, env):
    result = run_cli(capsys, "--json", "video", "show", "not-a-number")
    assert result.exit_code == EXIT_CODES["usage_error"]
    assert result.json()["error"]["code"] == "usage_error"


def test_unreachable_database_is_db_error_without_secrets(capsys, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_DATABASE_URL", "postgresql://app:topsecret@127.0.0.1:1/nope")
    result = run_cli(capsys, "--json", "jobs", "list")
    assert result.exit_code == EXIT_CODES["db_error"]
    assert "topsecret" not in result.stdout


def test_json_flag_after_the_subcommand_also_shapes_errors(capsys, env):
    result = run_cli(capsys, "video", "show", "999", "--json")
    assert result.exit_code == EXIT_CODES["not_found"]
    assert result.json()["error"]["code"] == "not_found"


def test_container_command_form_is_accepted():
    from videoctl.cli import _container_args

    # ENTRYPOINT ["videoctl", "run-job"] + command ["videoctl", "run-job", "12"]
    assert _container_args(["run-job", "videoctl", "run-job", "12"]) == ["run-job", "12"]
    assert _container_args(["run-job", "12"]) == ["run-job", "12"]
    assert _container_args(["jobs", "list"]) == ["jobs", "list"]


def test_every_command_shows_an_example(capsys):
    for path, cmd in _command_paths(app):
        if getattr(cmd, "commands", None) is None:  # a leaf: something to run
            assert "Example: videoctl " in (cmd.help or ""), f"{' '.join(path)} has no example"
