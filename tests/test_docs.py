"""The docs name every command, setting and route, so none ships undocumented.

Each check walks the real thing (the typer app, server/settings.py, the
Litestar app's routes) and looks for it in docs/*.md and README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from cli import main as cli_main
from server import app, settings

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def docs_text() -> str:
    files = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    return "\n".join(f.read_text() for f in files)


def commands(group: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every command and sub-command as it is typed: `schedule add`, `var set`, ..."""
    found = []
    for name, command in getattr(group, "commands", {}).items():
        found.append(" ".join((*prefix, name)))
        found += commands(command, (*prefix, name))
    return found


def test_every_cli_command_is_documented() -> None:
    text = docs_text()
    names = commands(typer.main.get_command(cli_main.app))
    assert {"up", "server", "worker"} <= set(names)
    missing = [n for n in names if not re.search(rf"tidemill {re.escape(n)}\b", text)]
    assert not missing, f"undocumented commands: {missing}"


def test_every_setting_is_documented() -> None:
    text = docs_text()
    names = set(re.findall(r"\bTIDEMILL_[A-Z0-9_]+\b", Path(settings.__file__).read_text()))
    assert "TIDEMILL_DATABASE_URL" in names
    missing = sorted(n for n in names if not re.search(rf"\b{n}\b", text))
    assert not missing, f"undocumented settings: {missing}"


def normalize(path: str) -> str:
    """`/api/w/{workspace:str}/x/{path:path}` and `/api/w/{ws}/x/{path}` -> `/api/w/{}/x/{}`."""
    return PLACEHOLDER.sub("{}", path)


def test_every_api_route_is_documented() -> None:
    documented = {normalize(p) for p in re.findall(r"/api/[^\s`'\",)]*", docs_text())}
    routes = app.create_app(settings.from_env({}), "postgresql://unused").routes
    paths = {normalize(r.path) for r in routes if r.path.startswith("/api/")}
    assert "/api/health" in paths
    missing = sorted(paths - documented)
    assert not missing, f"undocumented routes: {missing}"
