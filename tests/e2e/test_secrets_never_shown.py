"""No password reaches any output, whatever it looks like: `config show` (plain and --json),
db_error messages with and without -v tracebacks, and run-job's stderr (CloudWatch in Batch).

The CLI runs in-process. A password that also occurs in the fixed text of these outputs
(the mask, a JSON key, a table border) is skipped: that is a coincidence, not a leak.
"""

import json
import os
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tests.cli import run_cli
from videoctl.commands import _render as _output

#: Port 1 on the loopback refuses at once: every database command ends in db_error.
DATABASE_URL = "postgresql://app:{}@127.0.0.1:1/videos"
REDIS_URL = "redis://:{}@127.0.0.1:1/0"

COMMANDS = (
    ("config", "show"),
    ("--json", "config", "show"),
    ("jobs", "list"),
    ("-v", "jobs", "list"),
    ("--json", "jobs", "list"),
    ("run-job", "1"),
    ("-v", "run-job", "1"),
)

#: Every printable ASCII character, with those that confuse URL parsers drawn more often.
PASSWORD_CHARS = st.one_of(st.sampled_from("/?#%@: "), st.characters(min_codepoint=0x20, max_codepoint=0x7E))


@pytest.fixture
def wide_consoles(monkeypatch):
    """No line wrapping: a password broken over two lines would slip past a substring check."""
    for console in (_output.stdout, _output.stderr):
        monkeypatch.setattr(console, "_width", 100_000)


def every_output(capsys, password: str) -> str:
    env = {
        "DATABASE_URL": DATABASE_URL.format(password),
        "REDIS_URL": REDIS_URL.format(password),
        "R2_BUCKET": "videos", "R2_ENDPOINT_URL": "https://r2.example.com",
        "R2_ACCESS_KEY_ID": "key-id", "R2_SECRET_ACCESS_KEY": password,
        "VIDEOCTL_LOG_FORMAT": "json",  # run-job as in a container
    }
    texts = []
    with mock.patch.dict(os.environ, env):
        for command in COMMANDS:
            result = run_cli(capsys, *command)
            assert result.exit_code in (6, 7) or command[-2:] == ("config", "show"), result
            texts += [result.stdout, result.stderr]
    return "\n".join(texts)


def leak_forms(password: str) -> set[str]:
    """The spellings in which the password would be a leak."""
    return {password, json.dumps(password)[1:-1], repr(password)[1:-1], quote(password, safe="")}


def test_no_password_in_any_output(capsys, wide_consoles):
    # The fixed text around the secrets, for a well-formed URL (db_error) and a malformed one (config_error).
    fixed_text = every_output(capsys, "Kq7ctlpw") + every_output(capsys, "Kq7/ctl%pw")
    assert "db_error" in fixed_text and "config_error" in fixed_text and "Traceback" in fixed_text

    @settings(max_examples=40, deadline=None)
    @given(st.text(PASSWORD_CHARS, min_size=4, max_size=24))
    @example("123/TopSECRET")
    @example("abc/def")
    @example("p%zzSECRET")
    @example("s3cret-pass")  # well formed: it reaches the connection, which fails
    @example("p@ss w:rd#1?")
    def check(password):
        forms = leak_forms(password)
        assume(not any(form in fixed_text for form in forms))
        text = every_output(capsys, password)
        for form in forms:
            assert form not in text, f"{form!r} leaked"

    check()


def test_the_connection_error_is_reported_not_hidden(capsys, wide_consoles):
    """The scrubbing must not cost the operator the reason: it names the host and the failure."""
    with mock.patch.dict(os.environ, {"DATABASE_URL": DATABASE_URL.format("s3cret-pass")}):
        result = run_cli(capsys, "--json", "jobs", "list")
    error = result.json()["error"]
    assert result.exit_code == 7 and error["code"] == "db_error"
    assert "postgresql://****@127.0.0.1:1/videos" in error["message"]
    assert "refused" in error["message"].lower() or "failed" in error["message"].lower()
