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
    from videoctl.commands import _context, _output

    _context._context = None  # a fresh AppContext, reading settings anew
    _output.STATE.json = False
    _output.STATE.verbose = 0
    capsys.readouterr()
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if _context._context is not None:
            _context._context.close()
            _context._context = None
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
