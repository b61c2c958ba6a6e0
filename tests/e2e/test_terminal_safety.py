"""Text from outside reaches a terminal escaped: no raw control character, no markup taken
as ours; titles and reasons have a documented maximum length."""

from __future__ import annotations

import pytest

from tests.cli import run_cli
from tests.integration.test_repositories import make_video
from videoctl.db.repositories import JobRepository
from videoctl.domain.errors import EXIT_CODES
from videoctl.domain.text import REASON_MAX, TITLE_MAX

HOSTILE = "Intro\x1b[2J\x1b[31m\r[bold]fake[/bold]\u202eevil\x07"


def assert_harmless(text: str) -> None:
    for raw in ("\x1b", "\r", "\x07", "\u202e"):
        assert raw not in text, repr(raw)


def test_a_hostile_title_is_shown_escaped_and_kept_as_given(capsys, env, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 2048)
    added = run_cli(capsys, "video", "add", str(clip), "--title", HOSTILE)
    assert added.exit_code == 0, added.stderr
    assert_harmless(added.stdout)
    assert "\\x1b[2J" in added.stdout and "[bold]fake[/bold]" in added.stdout  # shown literally

    for args in (("video", "list"), ("video", "show", "1")):
        shown = run_cli(capsys, *args)
        assert shown.exit_code == 0
        assert_harmless(shown.stdout)
        assert "\\x1b" in shown.stdout
    as_json = run_cli(capsys, "--json", "video", "show", "1")
    assert as_json.json()["data"]["title"] == HOSTILE  # stored and printed to scripts as given


def test_a_hostile_reason_and_error_message_are_escaped(capsys, env, conn):
    video = make_video(conn)
    job = JobRepository(conn).create(video.id, max_attempts=3)
    cancelled = run_cli(capsys, "jobs", "cancel", str(job.id), "--reason", HOSTILE)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert_harmless(cancelled.stdout)
    listed = run_cli(capsys, "jobs", "list")
    assert_harmless(listed.stdout)

    # An error that quotes outside text (here a file name) is escaped too, and rich
    # markup in it neither styles nor breaks the message.
    missing = run_cli(capsys, "video", "add", "no-such-[bold]\x1b[31mfile.mp4")
    assert missing.exit_code == EXIT_CODES["invalid_input"]
    assert_harmless(missing.stderr)
    assert "no-such-[bold]\\x1b[31mfile.mp4" in missing.stderr


@pytest.mark.parametrize("args", [
    ("video", "add", "{clip}", "--title", "t" * (TITLE_MAX + 1)),
    ("jobs", "cancel", "{job}", "--reason", "r" * (REASON_MAX + 1)),
    ("r2", "delete", "--prefix", "videos/9/", "--reason", "r" * (REASON_MAX + 1)),
    ("r2", "discard", "1", "--reason", "r" * (REASON_MAX + 1)),
])
def test_titles_and_reasons_over_the_limit_are_refused(capsys, env, conn, tmp_path, args):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 2048)
    job = JobRepository(conn).create(make_video(conn).id, max_attempts=3)
    argv = [a.format(clip=clip, job=job.id) for a in args]
    result = run_cli(capsys, "--json", *argv)
    assert result.exit_code == EXIT_CODES["invalid_input"], result.stdout
    assert "at most" in result.json()["error"]["message"]
    assert JobRepository(conn).get(job.id).state == "QUEUED"  # nothing happened


def test_a_long_file_name_gives_a_title_cut_to_the_limit(capsys, env, tmp_path):
    clip = tmp_path / ("n" * 240 + ".mp4")
    clip.write_bytes(b"\x00" * 2048)
    added = run_cli(capsys, "--json", "video", "add", str(clip))
    assert added.exit_code == 0, added.stdout
    assert added.json()["data"]["title"] == "n" * TITLE_MAX


def test_emoji_codes_in_ids_and_text_are_shown_as_written(capsys, env, conn):
    """A local process id such as local:100:1 (or a title with :thumbsup: in it) is not drawn as 💯."""
    video = make_video(conn, title="Week :100: :thumbsup:")
    job = JobRepository(conn).create(video.id, max_attempts=3, begin=True)
    JobRepository(conn).mark_submitted(job, "local:100:1")
    shown = run_cli(capsys, "jobs", "show", str(job.id))
    assert "local:100:1" in shown.stdout and "💯" not in shown.stdout
    listed = run_cli(capsys, "video", "show", str(video.id))
    assert "Week :100: :thumbsup:" in listed.stdout and "👍" not in listed.stdout
