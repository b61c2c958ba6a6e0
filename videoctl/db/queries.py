"""Load the named SQL blocks of queries.sql once."""

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
    return parse_queries(files("videoctl.db").joinpath("queries.sql").read_text(encoding="utf-8"))


def sql(name: str) -> str:
    return queries()[name]
