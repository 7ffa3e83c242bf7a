"""`tidemill up` as a new user runs it: embedded PostgreSQL, server, workers, one command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, wait_healthy

pytestmark = pytest.mark.e2e

TOKEN = "tm_up_test_token_abcdef0123456789"


def call(base: str, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    try:
        return json.loads(text)
    except ValueError:
        return text


class Up:
    def __init__(self, home: Path, workers: int, database_url: str | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"up-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEMILL_")}
        env |= {
            "TIDEMILL_HOME": str(home),
            "TIDEMILL_ADMIN_TOKEN": TOKEN,
            "TIDEMILL_LOST_AFTER_S": "2",
            "TIDEMILL_HEARTBEAT_S": "0.3",
        }
        if database_url:
            env["TIDEMILL_DATABASE_URL"] = database_url
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "up",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_healthy(self.base, timeout_s=120)
        except TimeoutError:
            self.stop()
            raise TimeoutError(
                "tidemill up never became healthy:\n" + self.log.read_text()
            ) from None

    def live_workers(self) -> list[dict[str, Any]]:
        workers: list[dict[str, Any]] = call(self.base, "GET", "/api/workers/list")
        return [w for w in workers if _alive(w["pid"])]

    def stop(self) -> int:
        """Ctrl-C, as a user would; the whole group is killed if it does not stop in time."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(predicate: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)


def test_up_starts_everything_and_a_second_up_keeps_the_data(reachable_tmp: Path) -> None:
    home = reachable_tmp / "home"
    up = Up(home, workers=2)
    try:
        output = up.log.read_text()
        assert up.base in output and TOKEN in output
        wait_until(lambda: len(up.live_workers()) == 2)
        call(
            up.base,
            "POST",
            "/api/w/main/scripts/create",
            {
                "path": "f/up/hello",
                "language": "python3",
                "content": "def main(name: str = 'world'):\n    return f'hello {name}'\n",
            },
        )
        result = call(
            up.base, "POST", "/api/w/main/jobs/run_wait_result/p/f/up/hello", {"name": "ada"}
        )
        assert result == "hello ada"  # a JSON string

        # a worker that dies is replaced
        victim = up.live_workers()[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                len(up.live_workers()) == 2 and all(w["pid"] != victim for w in up.live_workers())
            )
        )
    finally:
        assert up.stop() == 0
    # Ctrl-C stopped the embedded cluster too
    assert not (home / "postgres" / "pgdata" / "postmaster.pid").exists()

    again = Up(home, workers=1)
    try:
        result = call(again.base, "POST", "/api/w/main/jobs/run_wait_result/p/f/up/hello", {})
        assert result == "hello world"
    finally:
        assert again.stop() == 0


def test_up_uses_the_configured_database_and_starts_no_cluster(
    reachable_tmp: Path, dsn: str
) -> None:
    home = reachable_tmp / "home"
    up = Up(home, workers=1, database_url=dsn)
    try:
        call(
            up.base,
            "POST",
            "/api/w/main/scripts/create",
            {
                "path": "f/up/one",
                "language": "python3",
                "content": "def main():\n    return 1\n",
            },
        )
        assert call(up.base, "POST", "/api/w/main/jobs/run_wait_result/p/f/up/one", {}) == 1
    finally:
        assert up.stop() == 0
    assert not (home / "postgres").exists()
