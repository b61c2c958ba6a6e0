"""No playback key's secret reaches any output, log or traceback: `config show` (plain and --json),
a db_error with and without -v, `playback` itself (its URLs carry a MAC, never a key), run-job's
JSON log lines, and the config_error of a malformed key list. Like test_secrets_never_shown.py, for
VIDEOCTL_PLAYBACK_KEYS, whose value holds several secrets."""

from __future__ import annotations

import json
import os
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tests.cli import run_cli
from tests.e2e.test_playback_cli import ready_video
from videoctl.commands import _render as _output

#: Port 1 on the loopback refuses at once: every database command ends in db_error.
UNREACHABLE = "postgresql://app:pw@127.0.0.1:1/videos"

COMMANDS = (
    ("config", "show"),
    ("--json", "config", "show"),
    ("-v", "jobs", "list"),
    ("-v", "playback", "1"),
    ("--json", "playback", "1"),
    ("run-job", "1"),
)

#: What a secret may hold: printable ASCII but the list's own separators (',' and spaces).
SECRET_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=",")


@pytest.fixture
def wide_consoles(monkeypatch):
    """No line wrapping: a secret broken over two lines would slip past a substring check."""
    for console in (_output.stdout, _output.stderr):
        monkeypatch.setattr(console, "_width", 100_000)


def leak_forms(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe=""), secret[:24]}


def every_output(capsys, keys: str) -> str:
    env = {"DATABASE_URL": UNREACHABLE, "VIDEOCTL_PLAYBACK_KEYS": keys,
           "VIDEOCTL_PLAYBACK_BASE_URL": "https://media.example.com", "VIDEOCTL_LOG_FORMAT": "json"}
    texts = []
    with mock.patch.dict(os.environ, env):
        for command in COMMANDS:
            result = run_cli(capsys, *command)
            assert result.exit_code in (6, 7) or command[-2:] == ("config", "show"), (command, result)
            texts += [result.stdout, result.stderr]
    return "\n".join(texts)


def test_no_playback_secret_in_any_output(capsys, wide_consoles):
    fixed_text = every_output(capsys, "k1:" + "Q" * 40) + every_output(capsys, "k1:" + "Q" * 40 + ",k0:short")
    assert "db_error" in fixed_text and "config_error" in fixed_text and "Traceback" in fixed_text

    @settings(max_examples=25, deadline=None)
    @given(st.text(SECRET_CHARS, min_size=32, max_size=48), st.text(SECRET_CHARS, min_size=32, max_size=48))
    @example("s3cret-newest-0123456789abcdef0123", "s3cret-older-0123456789abcdef01234")
    @example("%2Fp@ss:w0rd#1?/with\\backslash'\"quotes", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")
    def check(newest, older):
        forms = leak_forms(newest) | leak_forms(older)
        assume(not any(form in fixed_text for form in forms))
        for keys in (f"k2:{newest},k1:{older}", f"k2:{newest},k1:{older},k0:{older[:8]}"):  # the second is refused
            text = every_output(capsys, keys)
            for form in forms:
                assert form not in text, f"{form!r} leaked"

    check()


def test_the_playback_urls_carry_no_secret(capsys, wide_consoles, env, conn, monkeypatch):
    newest, older = "N" * 20 + "-newest-secret-0123", "O" * 20 + "-older-secret-01234"
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_KEYS", f"k2:{newest},k1:{older}")
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_BASE_URL", "https://media.example.com")
    video_id, _ = ready_video(conn)
    for args in (("playback", str(video_id), "--viewer", "v"), ("--json", "playback", str(video_id))):
        result = run_cli(capsys, *args)
        assert result.exit_code == 0, result.stderr
        for form in leak_forms(newest) | leak_forms(older):
            assert form not in result.stdout + result.stderr


def test_the_local_key_is_never_shown(capsys, wide_consoles, env, conn, isolated_env):
    """The key the embedded default keeps under VIDEOCTL_HOME: in no URL, listing, error or -v
    traceback, including the config_error of a key file others may read."""
    video_id, _ = ready_video(conn)
    outputs = [run_cli(capsys, *args) for args in (
        ("playback", str(video_id)), ("--json", "playback", str(video_id)), ("config", "show"),
        ("--json", "config", "show"), ("-v", "playback", "999"))]
    key_file = isolated_env / "playback.key"
    secret = key_file.read_text().strip().partition(":")[2]
    assert len(secret) == 64 and outputs[0].exit_code == 0 and outputs[-1].exit_code == 4
    key_file.chmod(0o644)
    refused = run_cli(capsys, "-v", "playback", str(video_id))
    assert refused.exit_code == 6 and "playback.key" in refused.stderr and "Traceback" in refused.stderr
    for result in [*outputs, refused]:
        for form in leak_forms(secret):
            assert form not in result.stdout + result.stderr
