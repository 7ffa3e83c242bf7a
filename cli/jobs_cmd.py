"""`tidemill jobs`, `logs ID [-f]`, `cancel ID`: the run history from a terminal."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from cli import output, session, streaming

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _status(job: dict[str, Any]) -> str:
    status = str(job.get("status") or ("running" if job.get("running") else "queued"))
    colour = {"success": "green", "failure": "red", "canceled": "yellow", "running": "cyan"}
    return output.style(status, fg=colour.get(status))


def _script(job: dict[str, Any]) -> str:
    """The script a job ran; a preview ran unsaved code, which its path alone would hide."""
    path = str(job.get("script_path") or "")
    return f"{path} (preview)" if job.get("job_kind") == "preview" else path


def _duration(job: dict[str, Any]) -> str:
    ms = job.get("duration_ms")
    if not isinstance(ms, int):
        return ""
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def jobs(
    ctx: typer.Context,
    path: Annotated[
        str | None, typer.Option("--path", "-p", help="Only this script's jobs.")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="Only jobs this schedule started.")] = None,
    success: Annotated[
        bool | None,
        typer.Option("--success/--failure", help="Only successful (or only failed) jobs."),
    ] = None,
    running: Annotated[bool, typer.Option("--running", help="Only running jobs.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="How many to show.")
    ] = 30,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    with output.handled(), session.connect(ctx) as api:
        found = api.list_jobs(
            script_path_exact=path,
            schedule_path=schedule,
            success=success,
            running=True if running else None,
            per_page=limit,
        )
    if as_json:
        output.print_json(found)
        return
    output.table(
        ["id", "script", "status", "created", "duration", "by"],
        [
            [
                j.get("id"),
                _script(j),
                _status(j),
                output.when(j.get("created_at")),
                _duration(j),
                j.get("schedule_path") or j.get("created_by"),
            ]
            for j in found
        ],
    )


def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The job's id.")],
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing until the job ends; exit 1 if it failed."
        ),
    ] = False,
) -> None:
    """Print a job's logs (so far, or as they come with -f)."""
    with output.handled(), session.connect(ctx) as api:
        if not follow:
            sys.stdout.write(api.get_logs(job_id))
            sys.stdout.flush()
            return
        try:
            job = streaming.follow(api, job_id, out=sys.stdout)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    code = streaming.report(job, print_result=False)
    if code:
        raise typer.Exit(code)


def cancel(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The job's id.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the job).")] = None,
) -> None:
    """Cancel a queued or running job."""
    with output.handled(), session.connect(ctx) as api:
        api.cancel(job_id, reason)
    output.info(f"canceled job {job_id}")
