"""The `tidemill` command.

Commands that start processes (`up`, `server`, `worker`, `secrets`) import the
server and worker packages only when they run; every other command talks to a
running server over HTTP, so it starts fast and works against a remote server.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli import (
    auth_cmd,
    curl_cmd,
    hub_cmd,
    jobs_cmd,
    run_cmd,
    schedules_cmd,
    secrets_cmd,
    session,
    sync_cmd,
    variables_cmd,
)

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-P", envvar="TIDEMILL_PROFILE", help="A saved server (`tidemill login`)."
        ),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", envvar="TIDEMILL_WORKSPACE", help="The workspace to work in."
        ),
    ] = None,
) -> None:
    """Tidemill: turn scripts into endpoints, forms, webhooks and schedules.

    Commands other than up/server/worker talk to a server chosen by `tidemill login`
    (or TIDEMILL_URL and TIDEMILL_TOKEN).
    """
    ctx.obj = session.Globals(profile=profile, workspace=workspace)


def _process_error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command(rich_help_panel="Processes")
def up(
    workers: Annotated[int, typer.Option(help="Worker processes to run.")] = 2,
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default: $TIDEMILL_PORT or 8000).")
    ] = None,
) -> None:
    """Run everything: server, workers, and an embedded PostgreSQL if no database is set."""
    from cli import processes
    from server import errors, settings
    from worker import main as worker_main

    worker_main.configure_logging()
    try:
        processes.up(settings.from_env(port=port), workers)
    except errors.TidemillError as exc:
        _process_error(exc.message)
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)


@app.command(rich_help_panel="Processes")
def server(
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default: $TIDEMILL_PORT or 8000).")
    ] = None,
) -> None:
    """Run the HTTP API (and UI) against $TIDEMILL_DATABASE_URL."""
    from cli import processes
    from server import errors, settings
    from worker import main as worker_main

    worker_main.configure_logging()
    try:
        processes.serve(settings.from_env(port=port))
    except errors.TidemillError as exc:
        _process_error(exc.message)
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)


@app.command(rich_help_panel="Processes")
def worker(
    tags: Annotated[str, typer.Option(help="Comma-separated job tags to take.")] = "default",
) -> None:
    """Run one worker against $TIDEMILL_DATABASE_URL; start more for more throughput."""
    import os
    import sys

    from worker import main as worker_main

    # a worker process of its own (the same pid), without the CLI's modules in memory
    command = worker_main.command([t.strip() for t in tags.split(",") if t.strip()])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our interpreter, running our module


app.command(rich_help_panel="Scripts and jobs")(run_cmd.run)
app.command(rich_help_panel="Scripts and jobs")(jobs_cmd.jobs)
app.command(rich_help_panel="Scripts and jobs")(jobs_cmd.logs)
app.command(rich_help_panel="Scripts and jobs")(jobs_cmd.cancel)
app.command(rich_help_panel="Scripts and jobs")(curl_cmd.curl)
app.command(rich_help_panel="Folder sync")(sync_cmd.init)
app.command(rich_help_panel="Folder sync")(sync_cmd.push)
app.command(rich_help_panel="Folder sync")(sync_cmd.pull)
app.command(rich_help_panel="Folder sync")(sync_cmd.dev)
app.add_typer(schedules_cmd.app, name="schedule", rich_help_panel="Workspace")
app.add_typer(hub_cmd.app, name="hub", rich_help_panel="Workspace")
app.add_typer(variables_cmd.app, name="var", rich_help_panel="Workspace")
app.command(rich_help_panel="Servers")(auth_cmd.login)
app.command(rich_help_panel="Servers")(auth_cmd.whoami)
app.add_typer(auth_cmd.profile_app, name="profile", rich_help_panel="Servers")
app.add_typer(secrets_cmd.app, name="secrets", rich_help_panel="Processes")
