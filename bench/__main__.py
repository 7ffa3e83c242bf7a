"""Run every benchmark and write docs/benchmarks.md: `uv run python -m bench [--quick]`.

Each figure is measured in the same run as what it is compared with, and
written beside it as a ratio and beside the issue's target. `--quick` runs
every measure small (for a smoke test, or a first look on a busy machine);
`--only NAME` runs some of them (overhead, deps, windmill, flow40, queues) and
leaves the others out of the page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from bench import report

NAMES = ("overhead", "deps", "windmill", "flow40", "queues")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs: two or three minutes")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only these")
    parser.add_argument(
        "--out", type=Path, default=report.ROOT / "docs" / "benchmarks.md", help="page to write"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(NAMES)
    page = report.Page(quick=args.quick, load_before=os.getloadavg())
    started = time.monotonic()
    if "overhead" in chosen:
        from bench import overhead

        print("overhead ...", file=sys.stderr, flush=True)
        ours, bare = overhead.measure(20 if args.quick else 200)
        page.overhead = (statistics.median(ours), statistics.median(bare), len(ours))
    if "deps" in chosen:
        from bench import deps

        print("deps ...", file=sys.stderr, flush=True)
        page.deps = deps.measure(10 if args.quick else 100)
    if "windmill" in chosen:
        from bench import windmill

        print("windmill shape ...", file=sys.stderr, flush=True)
        page.windmill = windmill.measure(args.quick)
    if "flow40" in chosen:
        from bench import flow40

        print("flows in windmill's shape ...", file=sys.stderr, flush=True)
        page.flow40 = flow40.measure(args.quick, page.windmill)
    if "queues" in chosen:
        from bench import queues

        print("queues ...", file=sys.stderr, flush=True)
        page.queues = queues.measure(args.quick)
    page.load_after = os.getloadavg()
    page.minutes = (time.monotonic() - started) / 60
    args.out.write_text(report.render(page))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
