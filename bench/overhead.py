"""Overhead of a sync run: HTTP -> queue -> worker -> result, against a bare interpreter.

Runs a trivial script N times through `run_wait_result` and, interleaved in the
same loop, the same script as `python script.py` with the same interpreter;
prints p50/p95 of both and the ratio (target: p50 within 1.15x).

    uv run python bench/overhead.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stack import Stack, percentile

TRIVIAL = "def main():\n    return 1\n"


def measure(runs: int) -> tuple[list[float], list[float]]:
    """Seconds per sync run through Tidemill and per bare `python script.py`, interleaved."""
    bare_file = Path(tempfile.mkdtemp()) / "trivial.py"
    bare_file.write_text(TRIVIAL + "\nimport json\nprint(json.dumps(main()))\n")
    with Stack(workers=2) as stack:
        stack.save("f/bench/trivial", TRIVIAL)
        for _ in range(5):  # warm both paths
            stack.run_sync("f/bench/trivial", {})
            subprocess.run([sys.executable, str(bare_file)], capture_output=True, check=True)
        ours, bare = [], []
        for _ in range(runs):
            started = time.perf_counter()
            assert stack.run_sync("f/bench/trivial", {}) == 1
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run([sys.executable, str(bare_file)], capture_output=True, check=True)
            bare.append(time.perf_counter() - started)
    return ours, bare


def main(runs: int) -> None:
    ours, bare = measure(runs)
    report("sync run through HTTP + queue", ours)
    report("bare `python script.py`", bare)
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"ratio (p50): {ratio:.2f}  (target <= 1.15)  over {runs} runs each")


def report(label: str, samples: list[float]) -> None:
    p50, p95 = statistics.median(samples) * 1000, percentile(samples, 95) * 1000
    print(f"{label:<32} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
