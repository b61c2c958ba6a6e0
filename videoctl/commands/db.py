"""`videoctl db …`: schema migrations."""

from __future__ import annotations

import typer

from videoctl.commands import _output as out
from videoctl.commands._context import context
from videoctl.commands._output import JsonOption
from videoctl.domain.errors import InvalidState

app = typer.Typer(help="Database schema: migrate and status.", no_args_is_help=True)


@app.command("migrate")
def migrate(json_: JsonOption = False) -> None:
    """Apply pending migrations (safe to run from several places at once)."""
    # imported here, not at module level: `videoctl --help` and shell completion import every command module
    from videoctl.services.schema import migrate_schema

    applied = migrate_schema(context().settings)
    data = [{"version": m.version, "name": m.name} for m in applied]
    out.success(data, lambda: out.stdout.print(
        "applied: " + ", ".join(f"{m.version}_{m.name}" for m in applied) if applied
        else "schema is up to date"), json_flag=json_)


@app.command("status")
def status(json_: JsonOption = False) -> None:
    """List migrations and whether each is applied."""
    from videoctl.services.schema import schema_status

    rows = schema_status(context().settings)
    data = [{"version": r.version, "name": r.name, "applied_at": r.applied_at} for r in rows]
    out.success(data, lambda: out.table(
        None, ("version", "name", "applied"),
        ((r.version, r.name, r.applied_at or "[yellow]pending[/]") for r in rows)), json_flag=json_)


@app.command("stop")
def stop(json_: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL (the next command starts it again)."""
    from videoctl.services.schema import stop_embedded

    settings = context().settings
    if not settings.embedded_db:
        raise InvalidState("a database URL is configured; there is no embedded server to stop")
    stopped = stop_embedded(settings)
    out.success({"stopped": stopped, "pgdata": settings.pgdata}, lambda: out.stdout.print(
        f"stopped the embedded PostgreSQL in {settings.pgdata}" if stopped
        else "the embedded PostgreSQL was not running"), json_flag=json_)
