"""`tidemill schedule add|list|show|rm|pause|resume`: cron schedules from a terminal.

Schedules that belong in git go in a script's `.script.yaml` instead (see `push`);
these commands are for the quick change and for looking.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli import arguments, output, session

app = typer.Typer(help="Run scripts and flows on cron schedules (time-zone aware).")

PathArg = Annotated[str, typer.Argument(metavar="PATH", help="The schedule's path.")]


@app.command("add")
def add(
    ctx: typer.Context,
    script: Annotated[
        str, typer.Argument(help="The script (or flow) to run, e.g. f/reports/daily.")
    ],
    cron: Annotated[
        str, typer.Argument(help="5 fields (min hour day month weekday), or 6 with seconds first.")
    ],
    path: Annotated[
        str | None, typer.Option(help="The schedule's own path (default: the script's).")
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", help="An IANA zone, e.g. Europe/Paris.")
    ] = "UTC",
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", "-a", metavar="NAME=VALUE", help="An argument for each run."),
    ] = None,
    json_args: Annotated[
        str | None, typer.Option("--json", metavar="ARGS", help="Arguments as a JSON object.")
    ] = None,
    summary: Annotated[str, typer.Option(help="What it is for.")] = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it paused.")] = False,
    flow: Annotated[
        bool, typer.Option("--flow", help="SCRIPT names a flow (Windmill's is_flow).")
    ] = False,
) -> None:
    """Run SCRIPT (or, with --flow, a flow) on a cron schedule; prints its next fire times."""
    with output.handled(), session.connect(ctx) as api:
        schema = None
        if arg:
            found = api.get_flow(script) if flow else api.get_script(script)
            schema = found.get("schema") or {}
        try:
            args = arguments.build(arg or [], json_args, schema)
        except arguments.BadArgument as exc:
            output.fail(str(exc), code=2)
        where = path or script
        api.create_schedule(
            {
                "path": where,
                "schedule": cron,
                "timezone": timezone,
                "script_path": script,
                "is_flow": flow,
                "args": args,
                "enabled": not disabled,
                "summary": summary,
            }
        )
        created = api.get_schedule_maybe(where) or {}
    output.info(f"created schedule {where}")
    for fire in created.get("next_fires") or []:
        output.info(f"  next: {fire}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List schedules with their next fire."""
    with output.handled(), session.connect(ctx) as api:
        found = api.list_schedules()
    if as_json:
        output.print_json(found)
        return
    output.table(
        ["path", "cron", "timezone", "script", "enabled", "next", "error"],
        [
            [
                s.get("path"),
                s.get("schedule"),
                s.get("timezone"),
                s.get("script_path"),
                bool(s.get("enabled")),
                (s.get("next_fires") or [""])[0],
                s.get("error"),
            ]
            for s in found
        ],
    )


@app.command("show")
def show(ctx: typer.Context, path: PathArg) -> None:
    """Print one schedule (JSON), with its next five fire times."""
    with output.handled(), session.connect(ctx) as api:
        found = api.get_schedule_maybe(path)
    if found is None:
        output.fail(f"no schedule at {path!r}")
    output.print_json(found)


@app.command("rm")
def remove(ctx: typer.Context, path: PathArg) -> None:
    """Delete a schedule (runs it already queued still run)."""
    with output.handled(), session.connect(ctx) as api:
        api.delete_schedule(path)
    output.info(f"deleted schedule {path}")


@app.command("pause")
def pause(ctx: typer.Context, path: PathArg) -> None:
    """Stop a schedule from firing until it is resumed."""
    with output.handled(), session.connect(ctx) as api:
        api.set_schedule_enabled(path, False)
    output.info(f"paused schedule {path}")


@app.command("resume")
def resume(ctx: typer.Context, path: PathArg) -> None:
    """Turn a paused schedule back on; it fires from now on (missed fires are not replayed)."""
    with output.handled(), session.connect(ctx) as api:
        api.set_schedule_enabled(path, True)
    output.info(f"resumed schedule {path}")
