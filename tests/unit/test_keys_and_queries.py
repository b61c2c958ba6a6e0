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
