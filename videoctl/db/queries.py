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
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str, source: str = "<text>") -> dict[str, str]:
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, …]
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"query {name} is named twice in {source}")
        found[name] = body.strip()
    return found


def load_queries(folder: Traversable) -> dict[str, str]:
    """Every named block of the folder's .sql files; a name given twice, in one file or in two,
    is an error here rather than one statement silently hiding the other."""
    found: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".sql"):
            continue
        for name, body in parse_queries(path.read_text(encoding="utf-8"), path.name).items():
            if name in found:
                raise ValueError(f"query {name} is named twice: in {where[name]} and in {path.name}")
            found[name], where[name] = body, path.name
    return found


@cache
def queries() -> dict[str, str]:
    return load_queries(files("videoctl.db").joinpath("sql"))


def sql(name: str) -> str:
    return queries()[name]
