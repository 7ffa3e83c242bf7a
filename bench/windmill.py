"""Windmill's benchmark shape: 40 fib(10) jobs one after another, and 10 fib(33) jobs.

Each job waits for the previous one (a sync `run_wait_result` call), in
process-per-job mode and in warm mode (`dedicated_worker`), beside Prefect 3
installed by the bench into its own environment (`bench.peers`) and run as a
flow of the same number of sequential tasks, against `prefect server start`
(SQLite) so every task and flow run is recorded by a server as ours are.
Each figure is the median over repeated rounds.

    uv run python -m bench.windmill [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import peers
from bench.stack import Stack, free_port

FIB = """
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main(n: int) -> int:
    return fib(n)
"""
SHAPES = {"light": (40, 10), "heavy": (10, 33)}


@dataclass(frozen=True)
class Figures:
    """Median seconds per shape for each contender."""

    rounds: dict[str, int]
    seconds: dict[str, dict[str, float]]  # contender -> shape -> median s
    prefect_version: str | None = None
    prefect_error: str | None = None


def sequential(stack: Stack, path: str, jobs: int, n: int) -> float:
    started = time.perf_counter()
    for _ in range(jobs):
        stack.run_sync(path, {"n": n})
    return time.perf_counter() - started


def tidemill(rounds: dict[str, int]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"tidemill": {}, "tidemill warm": {}}
    with Stack(workers=1) as stack:
        stack.save("f/bench/fib", FIB)
        stack.save("f/bench/fib_warm", FIB, dedicated_worker=True)
        for path in ("f/bench/fib", "f/bench/fib_warm"):
            sequential(stack, path, 5, 10)  # warm both paths (the warm module loads here)
        for shape, (jobs, n) in SHAPES.items():
            samples: dict[str, list[float]] = {"tidemill": [], "tidemill warm": []}
            for _ in range(rounds[shape]):  # interleaved: noise hits both alike
                samples["tidemill"].append(sequential(stack, "f/bench/fib", jobs, n))
                samples["tidemill warm"].append(sequential(stack, "f/bench/fib_warm", jobs, n))
            for name, values in samples.items():
                out[name][shape] = statistics.median(values)
    return out


def prefect(rounds: dict[str, int]) -> tuple[dict[str, float], str]:
    """Median seconds per shape for Prefect; starts and stops its server."""
    python = peers.environment("prefect")
    home = Path(tempfile.mkdtemp(prefix="tidemill-bench-prefect-"))
    port = free_port()
    env = dict(
        os.environ,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    env.pop("VIRTUAL_ENV", None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            str(python.parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "prefect server did not start: " + (home / "server.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.5)
        out = {}
        for shape, (jobs, n) in SHAPES.items():
            run = subprocess.run(
                [
                    str(python),
                    str(peers.BENCH / "peer_prefect.py"),
                    str(jobs),
                    str(n),
                    str(rounds[shape]),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if run.returncode != 0:
                raise RuntimeError(f"prefect flow failed: {run.stderr[-2000:]}")
            out[shape] = statistics.median(json.loads(run.stdout.strip().splitlines()[-1]))
        return out, peers.version(python, "prefect")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def measure(quick: bool) -> Figures:
    rounds = {"light": 1, "heavy": 1} if quick else {"light": 5, "heavy": 3}
    seconds = tidemill(rounds)
    try:
        seconds["prefect"], version = prefect(rounds)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        return Figures(rounds=rounds, seconds=seconds, prefect_error=str(exc)[-500:])
    return Figures(rounds=rounds, seconds=seconds, prefect_version=version)


if __name__ == "__main__":
    figures = measure("--quick" in sys.argv)
    print(json.dumps(figures.__dict__, indent=2))
