"""Run the CLI in-process the way a shell would, and capture what it prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    from videoctl import cli
    from videoctl.commands import _client, _render

    _client._client = None  # a fresh Client, reading settings anew
    _render.STATE.json = False
    _render.STATE.verbose = 0
    capsys.readouterr()
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if _client._client is not None:
            _client._client.close()
            _client._client = None
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
