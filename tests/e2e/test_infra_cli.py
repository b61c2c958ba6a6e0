"""`videoctl infra` command surface: every command has help (the lead registers the group in cli.py)."""

from __future__ import annotations

from typer.main import get_command
from typer.testing import CliRunner

from videoctl.commands.infra import app


def test_every_infra_command_has_help():
    group = get_command(app)
    assert set(group.commands) == {"verify", "setup", "lambda-setup", "register-jobdef"}
    runner = CliRunner()
    for name, command in group.commands.items():
        assert (command.help or "").strip(), name
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, name
    assert "--dry-run" in runner.invoke(app, ["setup", "--help"]).output
    assert "exit 13" in " ".join(runner.invoke(app, ["verify", "--help"]).output.split())
