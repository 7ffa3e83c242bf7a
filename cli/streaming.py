"""Following a job: its logs as they are written, then its outcome.

Logs come from `jobs_u/getupdate/{id}?log_offset=`, polled quickly while output
flows and more slowly while it does not; the server reads the job's state
before its logs, so the answer that says "completed" carries the last of them.
A flow has no logs of its own: each step's are printed when the step ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import typer

from cli import client, output

FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5


def follow(
    api: client.Client, job_id: str, *, show_logs: bool = True, out: TextIO | None = None
) -> Any:
    """Print the job's logs (on `out`, stderr by default) until it completes.

    Returns:
        The completed job, as `jobs_u/get` renders it.
    """
    out = out or sys.stderr
    offset = 0
    delay = FIRST_POLL_S
    stop_spinner: Callable[[], None] | None = None
    try:
        while True:
            update = api.get_update(job_id, offset)
            new = update.get("new_logs") or ""
            started = new or update.get("running") or update.get("completed")
            if started and stop_spinner is not None:
                stop_spinner()
                stop_spinner = None
            elif not started and stop_spinner is None and delay > FIRST_POLL_S:
                stop_spinner = output.start_spinner("queued, waiting for a worker…")
            if new and show_logs:
                out.write(new)
                out.flush()
            offset = int(update.get("log_offset", offset))
            if update.get("completed"):
                return api.get_job(job_id)
            delay = FIRST_POLL_S if new else min(delay * 1.5, MAX_POLL_S)
            time.sleep(delay)
    finally:
        if stop_spinner is not None:
            stop_spinner()


ENDED_STEPS = ("Success", "Failure")


def follow_flow(
    api: client.Client, job_id: str, *, show_logs: bool = True, out: TextIO | None = None
) -> Any:
    """Print each step of a flow as it ends (a header, then its logs) until the flow ends.

    Returns:
        The completed flow job, as `jobs_u/get` renders it.
    """
    out = out or sys.stderr
    shown: set[str] = set()
    delay = FIRST_POLL_S
    while True:
        job = api.get_job(job_id)
        status = job.get("flow_status") or {}
        steps = [*status.get("modules", []), status.get("failure_module") or {}]
        for step in steps:
            name, state = step.get("id"), step.get("type")
            if name is None or state not in ENDED_STEPS or name in shown:
                continue
            shown.add(name)
            if show_logs:
                note = " (skipped)" if step.get("skipped") else ""
                out.write(output.style(f"── step {name}: {state}{note}\n", dim=True))
                if step.get("job"):
                    out.write(api.get_logs(str(step["job"])))
                out.flush()
        if job.get("type") == "CompletedJob":
            return job
        delay = FIRST_POLL_S if shown else min(delay * 1.5, MAX_POLL_S)
        time.sleep(delay)


def report(job: dict[str, Any], *, print_result: bool = True) -> int:
    """Print a completed job's result (stdout) or its error (stderr); answer the exit code."""
    if job.get("success"):
        if print_result:
            output.print_json(job.get("result"))
        return 0
    result = job.get("result")
    error = result.get("error") if isinstance(result, dict) else None
    error = error if isinstance(error, dict) else {}
    if job.get("status") == "canceled" or job.get("canceled"):
        reason = job.get("canceled_reason") or error.get("message") or "canceled"
        typer.echo(output.style("job canceled: ", fg="yellow", bold=True) + reason, err=True)
        return 1
    stack = str(error.get("stack") or "").rstrip()
    headline = f"{error.get('name', 'Error')}: {error.get('message', '')}"
    if stack:
        typer.echo(stack, err=True)
    if not stack.endswith(headline):
        typer.echo(output.style(headline, fg="red", bold=True), err=True)
    typer.echo(output.style(f"job {job.get('id')} failed", fg="red"), err=True)
    return 1
