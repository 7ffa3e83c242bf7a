"""What the CLI tests share: a real server and worker, and the CLI run in-process.

Each CLI test module starts one `tidemill server` and one `tidemill worker` (real
processes, on a database cloned from the template) and runs every command through
typer's runner against them, as a user's terminal would. Tests use their own
script paths, so they do not see each other's work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from typer.testing import CliRunner, Result

from cli import main
from tests.conftest import (
    ADMIN_TOKEN,
    ROOT,
    Processes,
    process_env,
    reachable_dir,
    wait_healthy,
    with_database,
)

ADMIN_PASSWORD = "admin-password-for-cli-tests"


@dataclass
class Live:
    """A running server (and worker) and the environment the CLI needs to reach it."""

    url: str
    env: dict[str, str]
    processes: Processes
    config_home: Path

    def cli(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        """Run `tidemill ARGS` in-process with this server's URL and admin token."""
        return CliRunner().invoke(
            main.app, list(args), env={**self.env, **env}, input=input, catch_exceptions=False
        )

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        )

    def save(self, path: str, content: str, language: str = "python3") -> str:
        with self.api() as api:
            response = api.post(
                "/api/w/main/scripts/create",
                json={"path": path, "content": content, "language": language},
            )
        assert response.status_code == 201, response.text
        return response.text


def start_live(pg_server: str, template_db: str, tmp: Path) -> Iterator[Live]:
    """Start a server and a worker on a fresh clone of the template database."""
    import asyncio

    name = f"tidemill_cli_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    home = reachable_dir()  # the worker's jobs run as another user, who must reach it
    env = process_env(
        with_database(pg_server, name),
        home=home / "home",
        tmp=tmp,
        TIDEMILL_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    running = Processes(env, tmp)
    try:
        running.start("server")
        running.start("worker")
        url = f"http://127.0.0.1:{env['TIDEMILL_PORT']}"
        wait_healthy(url)
        config_home = tmp / "config"
        yield Live(
            url=url,
            env={
                "TIDEMILL_URL": url,
                "TIDEMILL_TOKEN": ADMIN_TOKEN,
                "XDG_CONFIG_HOME": str(config_home),
                "NO_COLOR": "1",
            },
            processes=running,
            config_home=config_home,
        )
    finally:
        running.stop_all()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(home, ignore_errors=True)


def wait_for(predicate: Any, timeout_s: float = 30, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError("condition not met in time")


def in_terminal(
    live: Live, *args: str, answer: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `tidemill ARGS` as a process whose stdin is a terminal (a pty), typing `answer`.

    Questions are only asked on a terminal; stdout and stderr stay pipes, so the
    output has no colours or spinners and can be read back.
    """
    main_fd, terminal_fd = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            cwd=ROOT,
            env={**os.environ, **live.env},
            stdin=terminal_fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(main_fd, answer.encode())
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        os.close(main_fd)
        os.close(terminal_fd)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
