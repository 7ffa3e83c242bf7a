"""`tidemill init`, `push`, `pull`, `dev`: a workspace as a folder of files, for git and editors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from cli import client, flow_layout, layout, output, schemas, session, sync

DirArg = Annotated[
    Path,
    typer.Argument(metavar="DIR", help="The workspace folder (default: here).", file_okay=False),
]
YesFlag = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask before changing anything (for CI).")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing.")]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the plan and the outcome as JSON (implies --yes).")
]

MARKS = {"add": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def init(
    directory: DirArg = Path(),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing tidemill.yaml.")
    ] = False,
) -> None:
    """Make DIR a workspace folder: a tidemill.yaml saying which paths it holds."""
    config = directory / layout.CONFIG_FILE
    if config.exists() and not force:
        output.fail(f"{config} exists (use --force to overwrite it)")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "f").mkdir(exist_ok=True)
    config.write_text(layout.CONFIG_TEMPLATE)
    output.info(
        f"created {config}; put scripts in {directory / 'f'}/<folder>/<name>.py, then "
        "`tidemill push`, or `tidemill pull` to start from the server's"
    )


def describe(change: sync.Change) -> str:
    mark, colour = MARKS[change.action]
    kind = "" if change.kind == "file" else f"{change.kind} "
    what = f" ({', '.join(change.what)})" if change.what else ""
    return output.style(f"{mark} {kind}{change.path}{what}", fg=colour)


def _show(changes: list[sync.Change]) -> None:
    for change in changes:
        output.info(describe(change))


def _confirm(question: str, yes: bool) -> None:
    """Ask before changing anything; without a terminal to ask on, refuse instead of waiting.

    A CI job has no one to answer: it must pass `--yes`, and is told so at once rather
    than hanging on a prompt or reading an answer from whatever its stdin happens to be.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        output.fail(
            "not changing anything without confirmation: stdin is not a terminal, so there is "
            "no one to ask. Pass --yes to go ahead (as in CI), or --dry-run to see the plan."
        )
    if not typer.confirm(question, default=False, err=True):
        output.fail("nothing changed", code=1)


def report_saved(saved: list[sync.Saved]) -> int:
    """Print each pushed script's (or flow's) schema or error; answer how many need attention."""
    problems = 0
    for item in saved:
        if item.error:
            problems += 1
            output.info(output.style(f"✗ {item.path}: ", fg="red", bold=True) + item.error)
            continue
        if item.kind == "flow":
            output.info(
                output.style(f"✓ flow {item.path} ", fg="green") + schemas.signature(item.schema)
            )
            continue
        output.info(
            output.style(f"✓ {item.path} ", fg="green")
            + f"{schemas.signature(item.schema)} [{(item.hash or '')[:12]}]"
        )
        for warning in item.warnings:
            problems += 1
            output.warn(f"{item.path}: {warning}")
    return problems


def push(
    ctx: typer.Context,
    directory: DirArg = Path(),
    yes: YesFlag = False,
    dry_run: DryRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Deploy the folder's new and changed scripts and flows, and the schedules the scripts'
    .script.yaml files list.

    Exits 1 when a script or flow fails to save, a script gets a schema warning, or a
    schedule is refused.
    """
    with output.handled(), session.connect(ctx) as api:
        try:
            with output.spinner("comparing with the server…"):
                plan = sync.plan_push(api, directory)
        except layout.LayoutError as exc:
            output.fail(str(exc))
        target = f"{api.profile.url} (workspace {api.workspace})"
        if not as_json:
            _show(plan.changes)
        if not plan.changes:
            _done_json(as_json, plan.changes, [], [])
            output.info(f"{target} is up to date with {directory}")
            return
        if dry_run:
            _done_json(as_json, plan.changes, [], [])
            return
        _confirm(f"Push {len(plan.changes)} change(s) to {target}?", yes or as_json)
        with output.spinner("pushing…"):
            saved, errors = sync.apply_push(api, plan)
    problems = len(errors)
    if as_json:
        _done_json(True, plan.changes, saved, errors)
        problems += sum(1 for s in saved if s.error or s.warnings)
    else:
        problems += report_saved(saved)
        for error in errors:
            output.info(output.style("✗ ", fg="red", bold=True) + error)
    if problems:
        raise typer.Exit(1)


def _done_json(
    as_json: bool, changes: list[sync.Change], saved: list[sync.Saved], errors: list[str]
) -> None:
    if as_json:
        output.print_json(
            {
                "changes": msgspec.to_builtins(changes),
                "saved": msgspec.to_builtins(saved),
                "errors": errors,
            }
        )


def pull(
    ctx: typer.Context,
    directory: DirArg = Path(),
    yes: YesFlag = False,
    dry_run: DryRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the workspace's scripts (and their schedules) and flows into the folder as files.

    Scripts and flows that exist only in the folder are kept.
    """
    with output.handled(), session.connect(ctx) as api:
        try:
            with output.spinner("reading the workspace…"):
                plan = sync.plan_pull(api, directory)
        except layout.LayoutError as exc:
            output.fail(str(exc))
        source = f"{api.profile.url} (workspace {api.workspace})"
    if as_json:
        output.print_json(
            {
                "changes": msgspec.to_builtins(plan.changes),
                "local_only": plan.local_only,
            }
        )
    else:
        _show(plan.changes)
        for path in plan.local_only:
            output.info(output.style(f"  {path} (only in {directory}, kept)", dim=True))
    if not plan.changes:
        if not as_json:
            output.info(f"{directory} is up to date with {source}")
        return
    if dry_run:
        return
    _confirm(f"Write {len(plan.changes)} file change(s) in {directory}?", yes or as_json)
    sync.apply_pull(directory, plan)
    if not as_json:
        output.info(f"pulled {source} into {directory}")


def dev(
    ctx: typer.Context,
    directory: DirArg = Path(),
) -> None:
    """Watch the folder and push each script or flow as you save it, printing its schema or
    error (a flow is pushed when its flow.yaml or one of its inline files changes)."""
    from watchfiles import watch

    with output.handled(), session.connect(ctx) as api:
        root = directory.resolve()
        try:
            config = layout.load_config(root)
        except layout.LayoutError as exc:
            output.fail(str(exc))
        output.info(
            f"watching {directory} → {api.profile.url} (workspace {api.workspace}); Ctrl-C to stop"
        )
        try:
            for changes in watch(root, raise_interrupt=False):
                files = [Path(name) for _, name in changes]
                paths = {p for f in files if (p := _script_of(root, f)) and config.holds(p)}
                flows = {
                    p for f in files if (p := flow_layout.flow_of(root, f)) and config.holds(p)
                }
                for path in sorted(paths):
                    _push_changed(api, root, path, flow=False)
                for path in sorted(flows):
                    _push_changed(api, root, path, flow=True)
        except KeyboardInterrupt:
            pass


def _script_of(root: Path, file: Path) -> str | None:
    """The script a changed file belongs to: its code, its .script.yaml or its lock."""
    name = file.name
    for suffix in (layout.META_SUFFIX, layout.LOCK_SUFFIX):
        if name.endswith(suffix):
            return file.relative_to(root).as_posix().removesuffix(suffix)
    return layout.script_path_of(root, file)


def _push_changed(api: client.Client, root: Path, path: str, *, flow: bool) -> None:
    """Push the one script or flow that `dev` saw change, reporting rather than raising."""
    try:
        plan = sync.plan_push(
            api, root, only=set() if flow else {path}, only_flows={path} if flow else set()
        )
    except (layout.LayoutError, client.ApiError) as exc:
        output.info(output.style(f"✗ {path}: ", fg="red", bold=True) + str(exc))
        return
    if path not in (plan.flows if flow else plan.local):
        output.info(f"  {path}: removed here; the server keeps it")
        return
    if not plan.changes:
        output.info(f"  {path}: unchanged")
        return
    saved, errors = sync.apply_push(api, plan)
    report_saved(saved)
    for error in errors:
        output.info(output.style("✗ ", fg="red", bold=True) + error)
