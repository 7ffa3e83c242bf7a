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


def admin_dsn() -> str:
    """The PostgreSQL the comparative benchmarks share (each tool in a database of its own)."""
    return os.environ.get("TIDEMILL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> str:
    """Drop and create database `name` on the benchmarks' server; its DSN."""
    import asyncio

    import asyncpg

    async def recreate() -> None:
        conn = await asyncpg.connect(admin_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    base, _, _ = admin_dsn().rpartition("/")
    return f"{base}/{name}"


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stack:
    """`tidemill up` in a temporary home; uses `database_url`, else TIDEMILL_DATABASE_URL.

    `workers=0` starts the server alone: `start_workers` then adds worker
    processes the benchmark controls (to fill the queue first, or read their memory).
    """

    def __init__(self, workers: int = 2, database_url: str | None = None) -> None:
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="tidemill-bench-"))
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: http.client.HTTPConnection | None = None
        self.env = dict(os.environ, TIDEMILL_HOME=str(self.home), TIDEMILL_ADMIN_TOKEN=TOKEN)
        if database_url:
            self.env["TIDEMILL_DATABASE_URL"] = database_url
        self.extra: list[subprocess.Popen[bytes]] = []

    def start_workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        """Start `count` `tidemill worker` processes against this stack."""
        env = dict(self.env, TIDEMILL_BASE_URL=f"http://127.0.0.1:{self.port}")
        procs = []
        for i in range(count):
            with open(self.home / f"worker-{len(self.extra) + i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cli", "worker"],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        self.extra += procs
        return procs

    def stop_workers(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.extra.remove(proc)

    def __enter__(self) -> Stack:
        env = self.env
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
        self.stop_workers(list(self.extra))
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(30)
        shutil.rmtree(self.home, ignore_errors=True)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One request on a kept-alive connection (a client would reuse its connection)."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                self.conn.request(
                    method,
                    path,
                    body=None if body is None else json.dumps(body),
                    headers={
                        "Authorization": f"Bearer {TOKEN}",
                        "Content-Type": "application/json",
                    },
                )
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed the kept-alive connection while it was idle
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        text = response.read().decode()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def save(self, path: str, content: str, language: str = "python3", **settings: Any) -> None:
        status, body = self.call(
            "POST",
            "/api/w/main/scripts/create",
            {"path": path, "content": content, "language": language, **settings},
        )
        if status != 201:
            raise RuntimeError(f"save {path}: {status} {body}")

    def run_sync(self, path: str, args: dict[str, Any]) -> Any:
        status, body = self.call("POST", f"/api/w/main/jobs/run_wait_result/p/{path}", args)
        if status != 200:
            raise RuntimeError(f"run {path}: {status} {body}")
        return body

    def run_async(self, path: str, args: dict[str, Any]) -> str:
        status, body = self.call("POST", f"/api/w/main/jobs/run/p/{path}", args)
        if status != 201:
            raise RuntimeError(f"run {path}: {status} {body}")
        return str(body)
