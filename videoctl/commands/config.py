"""`videoctl config show`: every effective setting and where it came from."""

from __future__ import annotations

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(json_: JsonOption = False) -> None:
    """Print every effective value and its source (env, default, embedded); secrets masked."""
    rows = context().settings.describe()
    out.success(rows, lambda: out.table(
        None, ("setting", "variable", "value", "source"),
        ((r["name"], r["env"], r["value"], r["source"]) for r in rows)), json_flag=json_)
