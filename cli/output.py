"""How the CLI prints: tables for people, JSON for scripts, colour only on a terminal.

Results and `--json` output go to stdout; logs, progress and errors to stderr,
so `tidemill run f/x/y | jq` sees the result alone. Colours are dropped when the
stream is not a terminal (click strips them) or `NO_COLOR` is set; spinners are
shown only on a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NoReturn

import typer

from cli import client, profiles


def _colour_ok() -> bool:
    return "NO_COLOR" not in os.environ


def style(text: str, **kwargs: Any) -> str:
    """`typer.style`, unless colours are turned off."""
    return typer.style(text, **kwargs) if _colour_ok() else text


def info(message: str) -> None:
    """A progress or status line, on stderr."""
    typer.echo(message, err=True)


def warn(message: str) -> None:
    typer.echo(style("warning: ", fg="yellow", bold=True) + message, err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error on stderr and leave with `code`."""
    typer.echo(style("error: ", fg="red", bold=True) + message, err=True)
    raise typer.Exit(code)


def api_failure(exc: client.ApiError) -> NoReturn:
    """An API error as a one-line message (plus the failing fields of a 422)."""
    lines = [exc.message]
    if exc.status == 422 and isinstance(exc.details, list):
        for item in exc.details:
            if isinstance(item, dict) and item.get("message"):
                where = item.get("path") or "(arguments)"
                lines.append(f"  {where}: {item['message']}")
    fail("\n".join(lines))


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the CLI's expected failures into messages and exit codes, not tracebacks."""
    try:
        yield
    except client.ApiError as exc:
        api_failure(exc)
    except profiles.NoServer as exc:
        fail(str(exc))


def print_json(value: Any) -> None:
    """JSON on stdout: indented for a person at a terminal, one line otherwise."""
    pretty = sys.stdout.isatty()
    typer.echo(json.dumps(value, indent=2 if pretty else None, ensure_ascii=False, default=str))


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Aligned columns with a bold header; an empty list says so instead."""
    if not rows:
        info("(none)")
        return
    texts = [[cell(v).replace("\n", " ") for v in row] for row in rows]
    widths = [max(len(h), *(_width(r[i]) for r in texts)) for i, h in enumerate(headers)]
    head = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    typer.echo(style(head.rstrip(), bold=True))
    for row in texts:
        padded = (v + " " * (w - _width(v)) for v, w in zip(row, widths, strict=True))
        typer.echo("  ".join(padded).rstrip())


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _width(text: str) -> int:
    """How wide a cell shows: its colour codes take no room."""
    return len(_ANSI.sub("", text))


def when(value: Any) -> str:
    """A timestamp from the API as local `YYYY-MM-DD HH:MM:SS`."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@contextlib.contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on stderr while a long operation runs (nothing when not a terminal)."""
    stop = start_spinner(message)
    try:
        yield
    finally:
        stop()


def start_spinner(message: str) -> Callable[[], None]:
    """Show a spinner on stderr (on a terminal only); answer the function that removes it."""
    if not sys.stderr.isatty():
        return lambda: None
    from rich.console import Console  # only on a terminal: rich costs start-up time

    status = Console(stderr=True, no_color=not _colour_ok()).status(message)
    status.start()
    return status.stop
