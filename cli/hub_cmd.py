"""`tidemill hub list|show|add`: ready-made scripts, deployed or copied into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import hub, layout, output, schemas, session, sync, sync_cmd

app = typer.Typer(help="Ready-made scripts: HTTP, Slack, email, PostgreSQL, S3, ...")

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="A hub script (see `hub list`).")]


def _entry(name: str) -> hub.Entry:
    try:
        return hub.find(name)
    except hub.UnknownEntry as exc:
        output.fail(str(exc))


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the hub's scripts."""
    found = hub.entries()
    if as_json:
        output.print_json(
            [
                {
                    "name": e.name,
                    "language": e.language,
                    "summary": e.meta.summary,
                    "description": e.meta.description,
                    "dependencies": e.dependencies,
                }
                for e in found
            ]
        )
        return
    output.table(
        ["name", "language", "summary", "needs"],
        [[e.name, e.language, e.meta.summary, ", ".join(e.dependencies)] for e in found],
    )


@app.command()
def show(
    name: NameArg,
    code: Annotated[bool, typer.Option("--code", help="Print only the source.")] = False,
) -> None:
    """Describe a hub script: what it does, its parameters and dependencies, and its code."""
    entry = _entry(name)
    content = entry.file.read_text()
    if code:
        typer.echo(content, nl=False)
        return
    from server import errors, introspection  # the pure reader, as `run ./file` uses

    try:
        schema = dict(introspection.infer_signature(entry.language, content).schema)
    except errors.TidemillError as exc:
        output.fail(f"{entry.name}: {exc.message}")
    typer.echo(output.style(f"{entry.name}: {entry.meta.summary}", bold=True))
    typer.echo(entry.meta.description)
    typer.echo(f"language: {entry.language}")
    typer.echo(f"needs: {', '.join(entry.dependencies) or 'the standard library only'}")
    typer.echo("parameters:")
    for _, text, prop in schemas.parameters(schema):
        description = f" - {prop['description']}" if prop.get("description") else ""
        typer.echo(f"  {text}{description}")
    typer.echo(output.style(f"--- {entry.file.name}", dim=True))
    typer.echo(content, nl=False)


@app.command()
def add(
    ctx: typer.Context,
    name: NameArg,
    path: Annotated[
        str | None,
        typer.Argument(help="Where it goes in the workspace (default: f/hub/NAME)."),
    ] = None,
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            metavar="DIR",
            file_okay=False,
            help="Copy the files into this workspace folder instead of deploying them.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --into: overwrite files that are there.")
    ] = False,
) -> None:
    """Deploy a hub script at PATH (or copy it into a folder with --into, to push later)."""
    entry = _entry(name)
    where = path or f"f/hub/{entry.name}"
    if not layout.PATH_RE.match(where):
        output.fail(f"invalid path {where!r}: use f/<folder>/<name> or u/<user>/<name>")
    script = entry.script(where)
    if into is not None:
        files = layout.files_of(script)
        clashes = [n for n in files if (into / n).exists()]
        if clashes and not force:
            output.fail(f"{', '.join(clashes)} exist in {into} (use --force to overwrite)")
        for file_name, text in files.items():
            (into / file_name).parent.mkdir(parents=True, exist_ok=True)
            (into / file_name).write_text(text)
        output.info(f"copied {entry.name} to {into / script.code_file}; `tidemill push` deploys it")
        return
    with output.handled(), session.connect(ctx) as api:
        saved = sync.save_script(api, script)
    if entry.dependencies:
        output.info(f"{where} needs {', '.join(entry.dependencies)}")
    if sync_cmd.report_saved([saved]):
        raise typer.Exit(1)
