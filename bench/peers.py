"""The peers Tidemill is measured against, each installed from PyPI into an environment of its own.

Environments live in a cache directory (`TIDEMILL_BENCH_CACHE`, default
`~/.cache/tidemill-bench`) and are made once with `uv venv` + `uv pip install`;
the peers never share Tidemill's environment, so their dependencies cannot
change what Tidemill is measured with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from uv import find_uv_bin

BENCH = Path(__file__).resolve().parent
PEERS = {
    # Prefect's server fails to start with FastAPI 0.150 and later
    "prefect": ["prefect", "fastapi<0.150"],
    "queues": ["pgqueuer", "procrastinate[psycopg]", "asyncpg"],
}


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "tidemill-bench"
    return Path(os.environ.get("TIDEMILL_BENCH_CACHE") or default)


def environment(name: str) -> Path:
    """The interpreter of peer environment `name`, made on first use."""
    env = cache_dir() / name
    python = env / "bin" / "python"
    marker = env / ".installed"
    if marker.exists():
        return python
    uv = find_uv_bin()
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(env)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), *PEERS[name]],
        check=True,
        capture_output=True,
    )
    marker.write_text(" ".join(PEERS[name]))
    return python


def version(python: Path, package: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()
