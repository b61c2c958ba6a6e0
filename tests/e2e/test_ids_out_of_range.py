"""Ids, limits and durations out of range are a usage error, invalid input or not found, never a
database error; and an id a registered key takes never makes a later id unobtainable."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.db.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain.errors import EXIT_CODES, InvalidInput, InvalidState, NotFound

HUGE = "99999999999999999999"  # past PostgreSQL's bigint


@pytest.mark.parametrize("args", [
    ("jobs", "list", "--video", HUGE),
    ("jobs", "show", HUGE),
    ("jobs", "cancel", HUGE),
    ("jobs", "retry", HUGE),
    ("video", "show", HUGE),
    ("video", "show", "0"),
    ("quality", HUGE),
    ("quality", "1", "--sample", "1001"),
    ("submit", HUGE),
    ("run-job", HUGE),
    ("r2", "discard", HUGE),
    ("r2", "delete", "--video", HUGE),
    ("scan-stuck", "--limit", HUGE),
    ("submit", "--all-uploaded", "--limit", HUGE),
    ("jobs", "list", "--limit", "0"),
])
def test_out_of_range_on_the_command_line_is_a_usage_error(capsys, env, args):
    result = run_cli(capsys, "--json", *args)
    assert result.exit_code == EXIT_CODES["usage_error"], result.stdout
    assert result.json()["error"]["code"] == "usage_error"


def test_run_job_from_the_environment_too(capsys, env, monkeypatch):
    monkeypatch.setenv("VIDEO_JOB_ID", HUGE)
    result = run_cli(capsys, "--json", "run-job")
    assert result.exit_code == EXIT_CODES["usage_error"], result.stdout


def test_the_library_answers_not_found_for_an_id_no_row_can_have(conn):
    huge, negative = 10**20, -1
    for lookup in (VideoRepository(conn).get, JobRepository(conn).get, JobRepository(conn).requeue,
                   lambda i: JobRepository(conn).cancel(i, "x"), lambda i: DeleteRequestRepository(conn).discard(i, "x")):
        for bad in (huge, negative):
            with pytest.raises(NotFound):
                lookup(bad)
    assert JobRepository(conn).list(video_id=huge) == []


# ---------------------------------------------------------------- registered ids never exhaust the sequence

MAX_ID = 2**63 - 1


def _put_source(env, key: str) -> str:
    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / key
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(b"m" * 64)
    return key


def _ok(result) -> dict:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()["data"]


def test_registering_the_largest_id_leaves_every_later_id_obtainable(capsys, env, tmp_path):
    clip = tmp_path / "talk.mp4"
    clip.write_bytes(b"t" * 64)
    first = _ok(run_cli(capsys, "--json", "video", "add", str(clip)))
    top = _ok(run_cli(capsys, "--json", "video", "add", "--key",
                      _put_source(env, f"videos/{MAX_ID}/source/a.mp4")))
    assert top["id"] == MAX_ID
    # Ids a registration took ahead of the sequence are passed over, one each.
    ahead = _ok(run_cli(capsys, "--json", "video", "add", "--key", _put_source(env, "videos/2/source/b.mp4")))
    assert ahead["id"] == 2
    added = _ok(run_cli(capsys, "--json", "video", "add", str(clip)))
    upload = _ok(run_cli(capsys, "--json", "upload", "create"))
    again = _ok(run_cli(capsys, "--json", "video", "add", str(clip)))
    assert [first["id"], added["id"], upload["video"]["id"], again["id"]] == [1, 3, 4, 5]  # dense, none lost


@pytest.mark.parametrize("video_id", [str(MAX_ID + 1), HUGE, "9" * 5000])
def test_registering_an_id_past_a_bigint_is_invalid_input(capsys, env, video_id):
    key = f"videos/{video_id}/source/a.mp4"
    result = run_cli(capsys, "--json", "video", "add", "--key", key)
    assert result.exit_code == EXIT_CODES["invalid_input"], result.stdout
    error = result.json()["error"]
    assert error["code"] == "invalid_input" and f"above {MAX_ID}" in error["message"]
    assert _ok(run_cli(capsys, "--json", "upload", "create"))["video"]["id"] == 1


def test_a_sequence_an_earlier_registration_exhausted_starts_again_past_the_taken_ids(capsys, env, conn, tmp_path):
    """What the old `video add --key` left behind: the sequence at its maximum (migration 0013 repairs it)."""
    clip = tmp_path / "talk.mp4"
    clip.write_bytes(b"t" * 64)
    assert _ok(run_cli(capsys, "--json", "video", "add", str(clip)))["id"] == 1
    _ok(run_cli(capsys, "--json", "video", "add", "--key", _put_source(env, f"videos/{MAX_ID}/source/a.mp4")))
    conn.execute("SELECT setval('video_id_seq', %s)", (MAX_ID,))
    assert _ok(run_cli(capsys, "--json", "video", "add", str(clip)))["id"] == 2
    assert _ok(run_cli(capsys, "--json", "upload", "create"))["video"]["id"] == 3


def test_the_library_too(env, tmp_path):
    from videoctl.api import Client

    clip = tmp_path / "talk.mp4"
    clip.write_bytes(b"t" * 64)
    with Client() as client:
        top = client.register_video(_put_source(env, f"videos/{MAX_ID}/source/a.mp4"))
        assert top.id == MAX_ID
        assert client.add_video(clip).id == 1
        assert client.create_upload().video.id == 2
        with pytest.raises(InvalidInput, match=f"above {MAX_ID}"):
            client.register_video(_put_source(env, f"videos/{MAX_ID + 1}/source/a.mp4"))
        with pytest.raises(InvalidState, match=f"belongs to video {MAX_ID}"):
            client.register_video(f"videos/{MAX_ID}/source/a.mp4")


# ---------------------------------------------------------------- durations and windows

@pytest.mark.parametrize("args, option", [
    (("jobs", "prune", "--older-than", "99999999d"), "--older-than"),
    (("jobs", "prune", "--older-than", "36501d", "--dry-run"), "--older-than"),
    (("jobs", "prune", "--older-than", "9" * 400 + "w"), "--older-than"),
    (("jobs", "retry", "--since", "99999999d", "--dry-run"), "--since"),
    (("jobs", "cancel", "--since", "99999999w", "--dry-run"), "--since"),
    (("reconcile", "--older-than", "99999999d"), "--older-than"),
    (("stats", "--hours", "999999999999"), "--hours"),
    (("stats", "--hours", "721"), "--hours"),
    (("scan-stuck", "--loop", "1e300"), "--loop"),
    (("scan-stuck", "--loop", "nan"), "--loop"),
])
def test_a_duration_no_timestamp_can_hold_is_a_usage_error_naming_its_option(capsys, env, args, option):
    result = run_cli(capsys, "--json", *args)
    assert result.exit_code == EXIT_CODES["usage_error"], result.stdout
    error = result.json()["error"]
    assert error["code"] == "usage_error" and option in error["message"], error


def test_a_hundred_years_is_still_a_duration(capsys, env):
    assert _ok(run_cli(capsys, "--json", "jobs", "prune", "--older-than", "36500d", "--dry-run"))["jobs"] == 0
    assert _ok(run_cli(capsys, "--json", "jobs", "retry", "--since", "36500d", "--dry-run"))["jobs"] == []


def test_the_library_answers_invalid_input_for_a_duration_out_of_range(env):
    from videoctl.api import Client
    from videoctl.domain.selection import JobFilter

    with Client() as client:
        for huge in (1e15, math.inf, math.nan, -1):
            with pytest.raises(InvalidInput, match="older_than_s"):
                client.prune_jobs(older_than_s=huge, dry_run=True)
            with pytest.raises(InvalidInput, match="older_than_s"):
                client.prune_jobs(older_than_s=huge)
            with pytest.raises(InvalidInput, match="older_than_s"):
                client.reconcile(older_than_s=huge)
            with pytest.raises(InvalidInput, match="since_s"):
                client.select_jobs(JobFilter(since_s=huge), "retry")
            with pytest.raises(InvalidInput, match="poll_s"):
                client.follow(1, poll_s=huge)
            with pytest.raises(InvalidInput, match="interval_s"):
                client.scan_loop(huge, on_pass=lambda *_: None)
        for hours in (0, 721, 10**10):
            with pytest.raises(InvalidInput, match="hours"):
                client.stats(hours=hours)
        assert client.prune_jobs(older_than_s=36_500 * 86_400, dry_run=True).jobs == 0
