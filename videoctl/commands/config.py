"""`videoctl config show`: every effective setting and where it came from."""

from __future__ import annotations

from typing import Any, TypedDict

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


class Setting(TypedDict):
    name: str
    #: The variable that sets it (the first, where several do).
    env: str
    #: The effective value; a secret's is masked.
    value: Any
    #: env:NAME, default, embedded or derived.
    source: str
    secret: bool


@app.command("show")
@out.document(list[Setting])
def show(json_: JsonOption = False) -> None:
    """Print every effective value and its source (env, default, embedded); secrets masked.

    Example: videoctl config show --json
    """
    rows = client().settings.describe()
    out.success(rows, lambda: out.table(
        None, ("setting", "variable", "value", "source"),
        ((r["name"], r["env"], r["value"], r["source"]) for r in rows)), json_flag=json_)
