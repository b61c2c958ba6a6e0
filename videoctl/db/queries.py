"""Load the named SQL blocks of videoctl/db/sql/*.sql once.

One file per table or outbox (videos, jobs, usage, delete_requests, events, and migrate.py's
bookkeeping in migrations); each statement a block of its own after a ``-- name: NAME`` line
(after procrastinate's sql/queries.sql). Parameters are always bound (``%(name)s``), never
formatted. A name means one statement wherever it is written.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, …]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(files("videoctl.db").joinpath("sql").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".sql"):
            found.update(parse_queries(path.read_text(encoding="utf-8")))
    return found


def sql(name: str) -> str:
    return queries()[name]
