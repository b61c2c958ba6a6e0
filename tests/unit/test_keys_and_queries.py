"""Object key layout and key checks, and the named SQL of queries.sql (bound parameters only)."""

import re

import pytest

from videoctl.db.queries import parse_queries, queries
from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput
from videoctl.storage import validate_key, validate_prefix


def test_every_query_binds_named_parameters_only():
    for name, text in queries().items():
        assert text.endswith(";"), name
        assert "%s" not in text, f"{name} uses positional parameters"
        assert not re.search(r"\{\w*\}", text.replace("'{RUNNING}'", "")), f"{name} looks formatted"


def test_parse_queries():
    assert parse_queries("-- x\n-- name: a\nSELECT 1;\n-- name: b\nSELECT 2;\n") == {
        "a": "SELECT 1;", "b": "SELECT 2;"}


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
