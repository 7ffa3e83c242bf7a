"""Flows against Windmill's published benchmark shape, with the same work as plain jobs.

Windmill's shape: one flow of 40 sequential steps each computing fib(10), and one of
10 sequential fib(33) steps. Each is timed end to end through `run_wait_result/f`,
next to the same steps run as 40 (or 10) separate sync jobs one after another, and,
when `uv` can fetch it, Prefect's 40-task flow in the same run. Windmill published
4.38 s for the 40-step flow (2.09 s with dedicated workers), Hatchet 1.22 s.

    uv run python -m bench.flow40 [rounds]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from uv import find_uv_bin

from bench.stack import Stack

FIB = (
    "def fib(n: int) -> int:\n"
    "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n"
    "def main(n: int, previous: int = 0):\n"
    "    return fib(n)\n"
)

PREFECT = """
import time
from prefect import flow, task

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@task
def step(n, previous):
    return fib(n)

@flow
def forty(n: int, steps: int):
    previous = 0
    for _ in range(steps):
        previous = step(n, previous)
    return previous

forty(10, 1)  # start Prefect's ephemeral API before timing
started = time.perf_counter()
forty(10, 40)
print(f"{time.perf_counter() - started:.3f}")
"""


def flow_body(path: str, steps: int, n: int) -> dict[str, Any]:
    modules = [
        {
            "id": f"s{i}",
            "value": {
                "type": "script",
                "path": "f/bench/fib",
                "input_transforms": {
                    "n": {"type": "static", "value": n},
                    "previous": {
                        "type": "javascript",
                        "expr": "previous_result" if i else "0",
                    },
                },
            },
        }
        for i in range(steps)
    ]
    return {"path": path, "summary": f"{steps} x fib({n})", "value": {"modules": modules}}


def timed_flow(stack: Stack, path: str) -> float:
    started = time.perf_counter()
    status, body = stack.call("POST", f"/api/w/main/jobs/run_wait_result/f/{path}", {})
    if status != 200:
        raise RuntimeError(f"{path}: {status} {body}")
    return time.perf_counter() - started


def timed_jobs(stack: Stack, steps: int, n: int) -> float:
    started = time.perf_counter()
    previous = 0
    for _ in range(steps):
        previous = stack.run_sync("f/bench/fib", {"n": n, "previous": previous})
    return time.perf_counter() - started


def prefect_seconds() -> str:
    script = Path(tempfile.mkdtemp()) / "prefect_forty.py"
    script.write_text(PREFECT)
    try:
        done = subprocess.run(
            [find_uv_bin(), "run", "--no-project", "--with", "prefect", "python", str(script)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return "did not run: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return f"{float(lines[-1]):.2f} s"


def main(rounds: int) -> None:
    with Stack(workers=2) as stack:
        stack.save("f/bench/fib", FIB)
        for path, steps, n in (("f/bench/flow40", 40, 10), ("f/bench/flow10", 10, 33)):
            status, body = stack.call("POST", "/api/w/main/flows/create", flow_body(path, steps, n))
            if status != 201:
                raise RuntimeError(f"create {path}: {status} {body}")
        timed_flow(stack, "f/bench/flow40")  # warm
        results: dict[str, list[float]] = {}
        for _ in range(rounds):
            results.setdefault("flow, 40 x fib(10)", []).append(timed_flow(stack, "f/bench/flow40"))
            results.setdefault("40 separate jobs", []).append(timed_jobs(stack, 40, 10))
            results.setdefault("flow, 10 x fib(33)", []).append(timed_flow(stack, "f/bench/flow10"))
            results.setdefault("10 separate jobs", []).append(timed_jobs(stack, 10, 33))
    for name, samples in results.items():
        print(f"{name:24} median {statistics.median(samples):6.2f} s  (best {min(samples):.2f} s)")
    print(f"{'Prefect, 40 tasks':24} {prefect_seconds()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
