"""docs/cli.md is generated from the typer app; every command has help."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from cli import docs, main


def _commands(command: Any, ctx: typer.Context, path: list[str]) -> list[list[str]]:
    found = [path]
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            found += _commands(sub, typer.Context(sub, info_name=name, parent=ctx), [*path, name])
    return found


def test_docs_cli_md_is_current() -> None:
    assert docs.DOC.read_text() == docs.render(), "stale: run `python -m cli.docs`"


def test_every_command_has_help() -> None:
    root: Any = typer.main.get_command(main.app)
    commands = _commands(root, typer.Context(root, info_name="tidemill"), [])
    assert len(commands) > 25
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(main.app, [*path, "--help"], env={"NO_COLOR": "1"})
        assert result.exit_code == 0, path
        assert "Usage:" in result.stdout, path
        ctx_command = root
        for name in path:
            ctx_command = ctx_command.get_command(typer.Context(ctx_command), name)
        assert (ctx_command.help or "").strip(), f"{' '.join(path)} has no help"
