"""`tidemill var set|get|list|rm`: workspace variables, secret or not."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli import client, output, session

app = typer.Typer(help="Read and write workspace variables (secrets are encrypted at rest).")

PathArg = Annotated[str, typer.Argument(metavar="PATH", help="The variable, e.g. f/team/api_key.")]


def _value_from_input(secret: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().rstrip("\n")
    value: str = typer.prompt("value", hide_input=secret)
    return value


@app.command("set")
def set_(
    ctx: typer.Context,
    path: PathArg,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value; left out, it is read from stdin or prompted for "
            "(keeps secrets out of shell history)."
        ),
    ] = None,
    secret: Annotated[
        bool, typer.Option("--secret", "-s", help="Encrypt it and never list its value.")
    ] = False,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
) -> None:
    """Create a variable, or change its value if it exists."""
    text = value if value is not None else _value_from_input(secret)
    with output.handled(), session.connect(ctx) as api:
        body = {"path": path, "value": text, "is_secret": secret}
        if description is not None:
            body["description"] = description
        try:
            api.create_variable(body)
            verb = "created"
        except client.ApiError as exc:
            if exc.status != 409:
                raise
            update: dict[str, object] = {"value": text}
            if description is not None:
                update["description"] = description
            if secret:
                update["is_secret"] = True
            api.update_variable(path, update)
            verb = "updated"
    output.info(f"{verb} {'secret ' if secret else ''}variable {path}")


@app.command()
def get(ctx: typer.Context, path: PathArg) -> None:
    """Print a variable's value (secrets too, for those who may read them)."""
    with output.handled(), session.connect(ctx) as api:
        value = api.get_variable_value(path)
    if isinstance(value, str):
        typer.echo(value)
    else:
        output.print_json(value)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List variables; secret values are not shown."""
    with output.handled(), session.connect(ctx) as api:
        found = api.list_variables()
    if as_json:
        output.print_json(found)
        return
    output.table(
        ["path", "value", "secret", "description"],
        [
            [
                v.get("path"),
                "***" if v.get("is_secret") else _short(v.get("value")),
                bool(v.get("is_secret")),
                v.get("description"),
            ]
            for v in found
        ],
    )


@app.command("rm")
def remove(ctx: typer.Context, path: PathArg) -> None:
    """Delete a variable."""
    with output.handled(), session.connect(ctx) as api:
        api.delete_variable(path)
    output.info(f"deleted variable {path}")


def _short(value: object, width: int = 40) -> str:
    text = output.cell(value)
    return text if len(text) <= width else text[: width - 1] + "…"
