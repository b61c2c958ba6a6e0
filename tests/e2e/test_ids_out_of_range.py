"""Ids and limits no row can match are a usage error or not found, never a database error."""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from videoctl.db.repositories import DeleteRequestRepository, JobRepository, VideoRepository
from videoctl.domain.errors import EXIT_CODES, NotFound

HUGE = "99999999999999999999"  # past PostgreSQL's bigint


@pytest.mark.parametrize("args", [
    ("jobs", "list", "--video", HUGE),
    ("jobs", "show", HUGE),
    ("jobs", "cancel", HUGE),
    ("jobs", "retry", HUGE),
    ("video", "show", HUGE),
    ("video", "show", "0"),
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
