"""Log lines (JSON in containers, text on a terminal) never carry a secret set in the environment."""

import json
import logging

import pytest

from videoctl import logs

PASSWORD = 'Pa55/w"rd%zz'
R2_SECRET = "r2-secret-value-123"


@pytest.fixture
def secrets_in_env(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{PASSWORD}@db.internal/videos")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", R2_SECRET)
    yield
    logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if h.get_name() != "videoctl"]


def _log_everything(log: logging.Logger) -> None:
    log.warning("connect failed: password %s rejected", PASSWORD, extra={"detail": {"key": R2_SECRET},
                                                                          "parts": [PASSWORD, 3]})
    try:
        raise RuntimeError(f'invalid integer value "{PASSWORD}" for connection option "port"')
    except RuntimeError:
        log.exception("boom with %r", PASSWORD)


@pytest.mark.parametrize("json_lines", [True, False])
def test_log_lines_are_scrubbed(capsys, secrets_in_env, json_lines):
    logs.configure(json_lines=json_lines)
    capsys.readouterr()
    _log_everything(logging.getLogger("videoctl.test"))
    err = capsys.readouterr().err
    assert "connect failed" in err and "RuntimeError" in err
    for form in (PASSWORD, json.dumps(PASSWORD)[1:-1], repr(PASSWORD)[1:-1], "Pa55/w", R2_SECRET):
        assert form not in err, form
    if json_lines:
        lines = [json.loads(line) for line in err.strip().splitlines()]
        assert lines[0]["msg"] == "connect failed: password **** rejected"
        assert lines[0]["detail"] == {"key": "****"} and lines[0]["parts"] == ["****", 3]
        assert "invalid integer value \"****\"" in lines[1]["exc"]
