"""Flows in Windmill's published benchmark shape, beside the same work as separate jobs.

Windmill's shape: one flow of 40 sequential steps each computing fib(10), and one of
10 sequential fib(33) steps. Each flow is timed end to end through one
`run_wait_result/f` call, next to the same steps run as 40 (10) separate sync jobs
one after another (`bench.windmill.sequential`), in process-per-job mode and in warm
mode (steps of a `dedicated_worker` script), interleaved, on one worker. Prefect 3's
flow of the same sequential tasks runs in the same bench run (`bench.windmill.prefect`,
in its own environment against its own server); when `python -m bench` runs the
windmill bench too, its Prefect figures are reused rather than measured twice.
Windmill published 4.38 s for the 40-step flow (2.09 s with dedicated workers),
Hatchet 1.22 s.

    uv run python -m bench.flow40 [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench import windmill
from bench.stack import Stack

CONTENDERS = ("flow", "flow warm", "jobs", "jobs warm")


# the same figures as Windmill's job shape: median seconds per contender and shape
Figures = windmill.Figures


def flow_body(path: str, script: str, steps: int, n: int) -> dict[str, Any]:
    """A flow of `steps` sequential steps, each running `script` with `n`."""
    modules = [
        {
            "id": f"s{i}",
            "value": {
                "type": "script",
                "path": script,
                "input_transforms": {"n": {"type": "static", "value": n}},
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


def tidemill(rounds: dict[str, int]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {name: {} for name in CONTENDERS}
    with Stack(workers=1) as stack:
        stack.save("f/bench/fib", windmill.FIB)
        stack.save("f/bench/fib_warm", windmill.FIB, dedicated_worker=True)
        for shape, (steps, n) in windmill.SHAPES.items():
            for script, suffix in (("f/bench/fib", ""), ("f/bench/fib_warm", "_warm")):
                body = flow_body(f"f/bench/{shape}{suffix}", script, steps, n)
                status, answer = stack.call("POST", "/api/w/main/flows/create", body)
                if status != 201:
                    raise RuntimeError(f"create {body['path']}: {status} {answer}")
        # warm every path once: the warm module loads, the flow versions are cached
        for path in ("f/bench/fib", "f/bench/fib_warm"):
            windmill.sequential(stack, path, 5, 10)
        for suffix in ("", "_warm"):
            timed_flow(stack, f"f/bench/light{suffix}")
        for shape, (steps, n) in windmill.SHAPES.items():
            samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for _ in range(rounds[shape]):  # interleaved: noise hits all alike
                samples["flow"].append(timed_flow(stack, f"f/bench/{shape}"))
                samples["jobs"].append(windmill.sequential(stack, "f/bench/fib", steps, n))
                samples["flow warm"].append(timed_flow(stack, f"f/bench/{shape}_warm"))
                samples["jobs warm"].append(
                    windmill.sequential(stack, "f/bench/fib_warm", steps, n)
                )
            for name, values in samples.items():
                out[name][shape] = statistics.median(values)
    return out


def measure(quick: bool, prefect: windmill.Figures | None = None) -> Figures:
    """Ours, and Prefect's from `prefect` (a windmill bench of this run) or measured here."""
    rounds = {"light": 1, "heavy": 1} if quick else {"light": 5, "heavy": 3}
    seconds = tidemill(rounds)
    if prefect is not None:
        if "prefect" in prefect.seconds:
            seconds["prefect"] = prefect.seconds["prefect"]
        return Figures(
            rounds=rounds,
            seconds=seconds,
            prefect_version=prefect.prefect_version,
            prefect_error=prefect.prefect_error,
        )
    try:
        seconds["prefect"], version = windmill.prefect(rounds)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        return Figures(rounds=rounds, seconds=seconds, prefect_error=str(exc)[-500:])
    return Figures(rounds=rounds, seconds=seconds, prefect_version=version)


if __name__ == "__main__":
    figures = measure("--quick" in sys.argv)
    print(json.dumps(figures.__dict__, indent=2))
