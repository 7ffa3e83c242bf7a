"""`tidemill run PATH|FILE`: run a script, a flow or a local file, stream logs, print its result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import arguments, client, layout, output, session, streaming

INTERRUPTED = 130


def _local_schema(language: str, content: str) -> dict[str, Any] | None:
    """The schema the server would compute, read here to type `-a` values."""
    from server import errors, introspection  # the pure reader, not the web stack

    try:
        return dict(introspection.infer_signature(language, content).schema)
    except errors.TidemillError as exc:
        output.fail(f"cannot read the script: {exc.message}")


def _start_local(
    api: client.Client, file: Path, pairs: list[str], json_args: str | None
) -> tuple[str, bool]:
    """Run a local file as a preview: the server runs it without saving a version.

    A file inside a workspace folder runs at its script path (so `WM_JOB_PATH` and the
    job list name it); any other file at the server's default, `u/<you>/preview`.
    """
    language = layout.language_of(file)
    if language is None:
        output.fail(f"{file}: not a script (use .py, .ts or .sh)")
    content = file.read_text()
    args = arguments.build(pairs, json_args, _local_schema(language, content))
    with output.spinner("reading the script and locking its dependencies…"):
        job_id = api.run_preview(content, language, args, layout.script_path_in_folder(file))
    return job_id, False


def _start(
    api: client.Client, target: str, pairs: list[str], json_args: str | None
) -> tuple[str, bool]:
    """Start the run; answers its job id and whether it is a flow's."""
    file = Path(target)
    if file.is_file():
        return _start_local(api, file, pairs, json_args)
    if layout.language_of(file) is not None:
        output.fail(f"no such file: {target}")
    return _start_deployed(api, target, pairs, json_args)


def _start_deployed(
    api: client.Client, path: str, pairs: list[str], json_args: str | None
) -> tuple[str, bool]:
    """Run the script at PATH; with none there, the flow there (Windmill's `flow run`)."""
    script = api.get_script_maybe(path)
    if script is not None:
        schema = script.get("schema") or {} if pairs else None
        return api.run_path(path, arguments.build(pairs, json_args, schema)), False
    flow = api.get_flow_maybe(path)
    if flow is None:
        output.fail(f"no script or flow at {path} in workspace {api.workspace}")
    schema = flow.get("schema") or {} if pairs else None
    return api.run_flow(path, arguments.build(pairs, json_args, schema)), True


def run(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="PATH",
            help="A deployed script or flow (f/folder/name) or a local file (./script.py) "
            "to run without deploying it.",
        ),
    ],
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="NAME=VALUE",
            help="An argument, converted by the script's schema (-a count=3 -a tags=a,b).",
        ),
    ] = None,
    json_args: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="ARGS",
            help="Arguments as a JSON object, @file.json, or - for stdin; -a wins over it.",
        ),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Print the job id and return at once.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not stream the job's logs.")
    ] = False,
) -> None:
    """Run a script (or the flow at PATH, when no script is there), stream its logs to
    stderr and print its result (JSON) to stdout.

    Exits 1 when the job fails or is canceled; Ctrl-C cancels the job.
    """
    with output.handled(), session.connect(ctx) as api:
        try:
            job_id, is_flow = _start(api, target, arg or [], json_args)
        except arguments.BadArgument as exc:
            output.fail(str(exc), code=2)
        if detach:
            typer.echo(job_id)
            return
        try:
            follow = streaming.follow_flow if is_flow else streaming.follow
            job = follow(api, job_id, show_logs=not quiet)
        except KeyboardInterrupt:
            api.cancel(job_id, "interrupted from the CLI")
            output.info(f"\ncanceled job {job_id}")
            raise typer.Exit(INTERRUPTED) from None
    code = streaming.report(job)
    if code:
        raise typer.Exit(code)
