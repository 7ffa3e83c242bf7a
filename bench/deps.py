"""Dependencies: cold first run vs `uv run --script`, warm runs, and one env per lock.

Prints, in one run:
1. the cold first run of a script needing `requests` (save, which queues the
   `dependencies` job, then the first run, which waits for the lock and builds the
   environment), each with an empty uv cache, once the workers are up, against
   `uv run --script` of the same script (PEP 723 block) with an empty cache;
2. warm runs of a script with a small dependency (`six`) against one with none,
   interleaved (target: p50 within 5 ms), back to back and then paced (0.1 s
   apart: the worker has finished with the previous job);
3. 20 scripts with one lock: how many environments were built;
4. previews of a script with new requirements: the first (its `dependencies` job
   resolves the lock, the environment is built), then again with the same
   requirements (the workspace's lock cache: no job, no resolver, a warm
   environment), against one `uv pip compile` of those requirements with a warm
   uv cache (what each preview's request spent before previews were locked by jobs).

    uv run python bench/deps.py [N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from uv import find_uv_bin

from bench.stack import Stack, percentile
from server import requirements

REQUESTS = "import requests\n\ndef main():\n    return requests.__name__\n"
REQUESTS_723 = (
    '# /// script\n# dependencies = ["requests"]\n# ///\n' + REQUESTS + "\nprint(main())\n"
)
SIX = "import six\n\ndef main():\n    return six.PY3\n"
NONE = "def main():\n    return True\n"
PINNED = "# pin: six==1.16.0\nimport six\n\ndef main(n: int = 0):\n    return six.__version__\n"
# paced runs: time for the worker to finish with a job before the next arrives
PAUSE_S = 0.1


class Figures(NamedTuple):
    saved: float
    cold: float
    uv_cold: float
    with_dep: list[float]
    without: list[float]
    paced_dep: list[float]
    paced_none: list[float]
    built: int
    preview_first: float
    preview_again: list[float]
    compile_warm: list[float]


def measure(runs: int) -> Figures:
    """All three measures; uv's cache is emptied for the cold ones only."""
    previous = os.environ.get("UV_CACHE_DIR")
    try:
        return _measure(runs)
    finally:
        if previous is None:
            os.environ.pop("UV_CACHE_DIR", None)
        else:
            os.environ["UV_CACHE_DIR"] = previous


def _measure(runs: int) -> Figures:
    os.environ["UV_CACHE_DIR"] = tempfile.mkdtemp(prefix="tidemill-bench-uv-")
    with Stack(workers=2) as stack:
        wait_for_workers(stack, 2)
        started = time.perf_counter()
        stack.save("f/bench/req", REQUESTS)
        saved = time.perf_counter() - started
        stack.run_sync("f/bench/req", {})
        cold = time.perf_counter() - started

        stack.save("f/bench/with_six", SIX)
        stack.save("f/bench/no_deps", NONE)
        for _ in range(5):
            stack.run_sync("f/bench/with_six", {})
            stack.run_sync("f/bench/no_deps", {})
        with_dep, without = warm_runs(stack, runs, pause_s=0.0)
        paced_dep, paced_none = warm_runs(stack, runs, pause_s=PAUSE_S)

        envs = stack.home / "envs"
        before = set(envs.iterdir())
        for i in range(20):
            stack.save(f"f/bench/shared_{i}", SIX.replace("six.PY3", f"six.PY3 or {i}"))
            stack.run_sync(f"f/bench/shared_{i}", {})
        built = len(set(envs.iterdir()) - before)

        preview_first = timed_preview(stack, 0)
        preview_again = [timed_preview(stack, n) for n in range(1, runs + 1)]
    compile_warm = []
    for _ in range(max(runs // 4, 3)):
        started = time.perf_counter()
        asyncio.run(requirements.lock(requirements.of_python(PINNED)))
        compile_warm.append(time.perf_counter() - started)

    script = Path(tempfile.mkdtemp()) / "req.py"
    script.write_text(REQUESTS_723)
    env = dict(os.environ, UV_CACHE_DIR=tempfile.mkdtemp(prefix="tidemill-bench-uv-"))
    started = time.perf_counter()
    subprocess.run(
        [find_uv_bin(), "run", "--script", str(script)], env=env, capture_output=True, check=True
    )
    uv_cold = time.perf_counter() - started
    return Figures(
        saved,
        cold,
        uv_cold,
        with_dep,
        without,
        paced_dep,
        paced_none,
        built,
        preview_first,
        preview_again,
        compile_warm,
    )


def timed_preview(stack: Stack, n: int) -> float:
    """Seconds for one sync preview of `PINNED` (its body changes, its requirements do not)."""
    started = time.perf_counter()
    status, body = stack.call(
        "POST",
        "/api/w/main/jobs/run_wait_result/preview",
        {"content": PINNED.replace("n: int = 0", f"n: int = {n}"), "language": "python3"},
    )
    if status != 200:
        raise RuntimeError(f"preview: {status} {body}")
    return time.perf_counter() - started


def main(runs: int) -> None:
    f = measure(runs)
    saved, cold, uv_cold, with_dep, without, paced_dep, paced_none, built = f[:8]
    print(
        f"(1) cold, empty uv cache: tidemill save {saved * 1000:.0f} ms, "
        f"save + first run {cold * 1000:.0f} ms; `uv run --script` {uv_cold * 1000:.0f} ms; "
        f"ratio {cold / uv_cold:.2f}"
    )
    report("(2) warm, with `six`", with_dep)
    report("(2) warm, no dependency", without)
    gap = (statistics.median(with_dep) - statistics.median(without)) * 1000
    print(f"    p50 gap {gap:+.1f} ms (target within 5 ms) over {runs} runs each, back to back")
    report(f"(2) paced {PAUSE_S:g} s, with `six`", paced_dep)
    report(f"(2) paced {PAUSE_S:g} s, no dependency", paced_none)
    gap = (statistics.median(paced_dep) - statistics.median(paced_none)) * 1000
    print(f"    p50 gap {gap:+.1f} ms over {runs} runs each, {PAUSE_S:g} s apart")
    print(
        f"(3) 20 scripts with one lock built {built} environment(s) (target 0 new: "
        "the lock of `six` was already built in (2))"
    )
    print(f"(4) first preview with new requirements {f.preview_first * 1000:.0f} ms")
    report("(4) preview again, same requirements", f.preview_again)
    report("    one `uv pip compile` of them, warm", f.compile_warm)


def warm_runs(stack: Stack, runs: int, *, pause_s: float) -> tuple[list[float], list[float]]:
    """Interleaved sync runs of the two scripts; `pause_s` between runs lets workers settle."""
    with_dep, without = [], []
    for _ in range(runs):
        time.sleep(pause_s)
        started = time.perf_counter()
        assert stack.run_sync("f/bench/with_six", {}) is True
        with_dep.append(time.perf_counter() - started)
        time.sleep(pause_s)
        started = time.perf_counter()
        assert stack.run_sync("f/bench/no_deps", {}) is True
        without.append(time.perf_counter() - started)
    return with_dep, without


def wait_for_workers(stack: Stack, count: int) -> None:
    """Until the workers are up: a cold run measures dependencies, not a worker's boot."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, workers = stack.call("GET", "/api/workers/list")
        if status == 200 and len(workers) >= count:
            time.sleep(1)  # their fork servers start just after they register
            return
        time.sleep(0.2)
    raise RuntimeError("the workers did not start")


def report(label: str, samples: list[float]) -> None:
    p50, p95 = statistics.median(samples) * 1000, percentile(samples, 95) * 1000
    print(f"{label:<28} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    import sys

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
