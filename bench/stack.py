"""Start a throwaway `tidemill up` for a benchmark, and talk to it over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "tm_bench_token_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


class Stack:
    """`tidemill up` in a temporary home; uses TIDEMILL_DATABASE_URL when it is set."""

    def __init__(self, workers: int = 2) -> None:
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="tidemill-bench-"))
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> Stack:
        env = dict(os.environ, TIDEMILL_HOME=str(self.home), TIDEMILL_ADMIN_TOKEN=TOKEN)
        with open(self.home / "up.log", "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "up",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/api/health")[0] == 200:
                    return self
            except OSError:
                self.conn = None
                time.sleep(0.2)
        raise RuntimeError("tidemill up did not start: " + (self.home / "up.log").read_text())

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(30)
        shutil.rmtree(self.home, ignore_errors=True)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One request on a kept-alive connection (a client would reuse its connection)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        response = self.conn.getresponse()
        text = response.read().decode()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def save(self, path: str, content: str, language: str = "python3") -> None:
        status, body = self.call(
            "POST",
            "/api/w/main/scripts/create",
            {"path": path, "content": content, "language": language},
        )
        if status != 201:
            raise RuntimeError(f"save {path}: {status} {body}")

    def run_sync(self, path: str, args: dict[str, Any]) -> Any:
        status, body = self.call("POST", f"/api/w/main/jobs/run_wait_result/p/{path}", args)
        if status != 200:
            raise RuntimeError(f"run {path}: {status} {body}")
        return body
