"""Object key layout and key checks, and the named SQL of db/sql/*.sql (bound parameters only)."""

import ast
import re
from pathlib import Path

import pytest

import videoctl.db
from videoctl.db.queries import load_queries, parse_queries, queries
from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput
from videoctl.storage import validate_key, validate_prefix


def test_every_query_binds_named_parameters_only():
    for name, text in queries().items():
        assert text.endswith(";"), name
        assert "%s" not in text, f"{name} uses positional parameters"
        assert not re.search(r"\{\w*\}", text.replace("'{RUNNING}'", "")), f"{name} looks formatted"


def _statement(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()


def test_every_query_is_one_whole_statement():
    # No fragment for the code to append to another: each name runs as it is written.
    for name, text in queries().items():
        statement = _statement(text)
        assert re.match(r"(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE)\b", statement), f"{name}: {statement[:40]!r}"
        assert statement.count(";") == 1, name


@pytest.mark.parametrize("reading, claiming", [("stuck_jobs", "claim_stuck_jobs"),
                                               ("prunable_jobs", "claim_prunable_jobs")])
def test_a_claiming_query_is_its_reading_twin_with_the_rows_locked(reading, claiming):
    # Two complete statements, held together here: a change to one that misses the other fails.
    assert _statement(queries()[claiming]) == _statement(queries()[reading]).removesuffix(";") + \
        "\nFOR UPDATE OF job SKIP LOCKED;"


def test_the_chunks_claiming_query_is_its_reading_twin_with_the_chunk_rows_locked():
    assert _statement(queries()["claim_stuck_chunks"]) == _statement(queries()["stuck_chunks"]).removesuffix(";") + \
        "\nFOR UPDATE OF chunk SKIP LOCKED;"


def test_the_repositories_run_named_queries_and_build_no_sql():
    """Every sql(...) is handed straight to the driver: no text is added to it, cut from it or formatted."""
    folder = Path(videoctl.db.__file__).parent / "repositories"
    seen = 0
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                if isinstance(child, ast.Call) and getattr(child.func, "id", None) == "sql":
                    seen += 1
                    assert isinstance(parent, ast.Call) and child in parent.args, \
                        f"{path.name}:{child.lineno}: sql() used otherwise than as a statement to run"
    assert seen >= 3  # the ones outside _one and _all: a scan that found none would pass


def test_parse_queries():
    assert parse_queries("-- x\n-- name: a\nSELECT 1;\n-- name: b\nSELECT 2;\n") == {
        "a": "SELECT 1;", "b": "SELECT 2;"}


def test_every_sql_file_of_the_package_is_loaded():
    folder = Path(videoctl.db.__file__).parent / "sql"
    names = {path.stem for path in folder.glob("*.sql")}
    assert {"videos", "jobs", "usage", "delete_requests", "events", "migrations"} <= names
    assert {"next_video_id", "begin_attempt", "record_attempt_usage", "insert_delete_request", "insert_event",
            "migrations_lock"} <= set(queries())
    assert queries() == load_queries(folder)


def test_a_name_given_twice_is_an_error_at_load(tmp_path):
    (tmp_path / "videos.sql").write_text("-- name: get_video\nSELECT 1;\n")
    (tmp_path / "jobs.sql").write_text("-- name: get_job\nSELECT 2;\n")
    (tmp_path / "notes.txt").write_text("-- name: get_job\nnot SQL\n")  # only .sql files count
    assert load_queries(tmp_path) == {"get_job": "SELECT 2;", "get_video": "SELECT 1;"}

    (tmp_path / "quality.sql").write_text("-- name: other\nSELECT 3;\n-- name: get_video\nSELECT 4;\n")
    with pytest.raises(ValueError, match="query get_video is named twice: in quality.sql and in videos.sql"):
        load_queries(tmp_path)
    (tmp_path / "quality.sql").write_text("-- name: twice\nSELECT 3;\n-- name: twice\nSELECT 4;\n")
    with pytest.raises(ValueError, match="query twice is named twice in quality.sql"):
        load_queries(tmp_path)


@pytest.mark.parametrize("key", ["", "/", "/abs/key", "a/../b", "..", "a\\b", "///"])
def test_bad_keys_are_refused(key):
    with pytest.raises(InvalidInput):
        validate_key(key)


def test_prefix_needs_trailing_slash():
    assert validate_prefix("videos/12/") == "videos/12/"
    with pytest.raises(InvalidInput, match="neighbour"):
        validate_prefix("videos/12")


def test_key_layout():
    assert keys.source_key("videos", 7, "My Clip (final).mp4") == "videos/7/source/My_Clip_final_.mp4"
    prefix = keys.attempt_prefix("videos", 7, 3, 2)
    assert prefix == "videos/7/hls/3-2/"
    assert keys.prefix_of_master(keys.master_key(prefix)) == prefix
    assert keys.safe_filename("...") == "source"


@pytest.mark.parametrize("name, why", [
    ("", "empty"), (".", "names a folder"), ("..", "names a folder"),
    ("talk.mp4 ", "ends with a space"), ("talk.mp4\u00a0", "ends with a space"), ("talk ", "ends with a space"),
    ("talk\r.mp4", "U+000D"), ("\x00talk.mp4", "U+0000"), ("talk\x9b.mp4", "U+009B"),
])
def test_a_name_no_file_should_have_is_refused_as_a_source(name, why):
    assert why in keys.source_name_problem(name)
    with pytest.raises(InvalidInput, match=re.escape(why)):
        keys.check_source_name(name)


@pytest.mark.parametrize("name", ["talk.mp4", " talk.mp4", "My Clip (final).mp4", "...", ".talk.mp4", "강의 1.mp4"])
def test_other_names_may_name_a_source(name):
    assert keys.check_source_name(name) == name
