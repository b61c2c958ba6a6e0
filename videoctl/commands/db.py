"""`videoctl db …`: schema migrations, and the embedded server."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import InvalidState

app = typer.Typer(help="Database schema: migrate and status.", no_args_is_help=True)


class Applied(TypedDict):
    version: str
    name: str


class MigrationRow(TypedDict):
    version: str
    name: str
    applied_at: datetime | None


class Stopped(TypedDict):
    stopped: bool
    pgdata: str


@app.command("migrate")
@out.document(list[Applied])
def migrate(json_: JsonOption = False) -> None:
    """Apply pending migrations (safe to run from several places at once).

    Example: videoctl db migrate
    """
    applied = client().migrate()
    data: list[Applied] = [{"version": m.version, "name": m.name} for m in applied]
    out.success(data, lambda: out.stdout.print(
        "applied: " + ", ".join(f"{m.version}_{m.name}" for m in applied) if applied
        else "schema is up to date"), json_flag=json_)


@app.command("status")
@out.document(list[MigrationRow])
def status(json_: JsonOption = False) -> None:
    """List migrations and whether each is applied.

    Example: videoctl db status --json
    """
    rows = client().schema_status()
    data: list[MigrationRow] = [{"version": r.version, "name": r.name, "applied_at": r.applied_at} for r in rows]
    out.success(data, lambda: out.table(
        None, ("version", "name", "applied"),
        ((r.version, r.name, r.applied_at or "[yellow]pending[/]") for r in rows)), json_flag=json_)


@app.command("stop")
@out.document(Stopped)
def stop(json_: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL (the next command starts it again).

    Example: videoctl db stop
    """
    videoctl = client()
    settings = videoctl.settings
    if not settings.embedded_db:
        raise InvalidState("a database URL is configured; there is no embedded server to stop")
    stopped = videoctl.stop_embedded_db()
    data: Stopped = {"stopped": stopped, "pgdata": str(settings.pgdata)}
    out.success(data, lambda: out.stdout.print(
        f"stopped the embedded PostgreSQL in {out.safe(settings.pgdata)}" if stopped
        else "the embedded PostgreSQL was not running"), json_flag=json_)
