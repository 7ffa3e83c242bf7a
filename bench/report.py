"""docs/benchmarks.md from one run's figures: each beside its comparison and its target."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import deps, flow40, queues, windmill

ROOT = Path(__file__).resolve().parent.parent
# Tidemill's two ways of running Python, as the figures name them and as the page does
MODES = {"tidemill": "process per job", "tidemill warm": "warm mode"}


@dataclass
class Page:
    quick: bool
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    minutes: float = 0.0
    overhead: tuple[float, float, int] | None = None  # median s ours, bare, runs
    deps: deps.Figures | None = None
    windmill: windmill.Figures | None = None
    flow40: flow40.Figures | None = None
    queues: queues.Figures | None = None


class Table:
    def __init__(self) -> None:
        self.rows: list[str] = [
            "| Figure | Tidemill | Compared with | Ratio | Target | Met |",
            "|---|---|---|---|---|---|",
        ]

    def add(
        self,
        figure: str,
        ours: float | None,
        unit: str,
        against: str = "—",
        theirs: float | None = None,
        target: str = "—",
        met: Callable[[float], bool] | None = None,
    ) -> None:
        shown = "n/a" if ours is None else f"{ours:,.{_digits(ours)}f} {unit}".strip()
        if theirs is not None:
            against = f"{against}: {theirs:,.{_digits(theirs)}f} {unit}".strip()
        ratio = "—" if ours is None or not theirs else f"{ours / theirs:.2f}x"
        verdict = "—" if met is None or ours is None else ("yes" if met(ours) else "**no**")
        self.rows.append(f"| {figure} | {shown} | {against} | {ratio} | {target} | {verdict} |")


def _digits(value: float) -> int:
    if isinstance(value, int):
        return 0
    return 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2


def render(page: Page) -> str:
    table = Table()
    notes: list[str] = []
    if page.overhead is not None:
        ours, bare, runs = page.overhead
        table.add(
            f"Sync run of a trivial script, p50 of {runs}",
            ours * 1000,
            "ms",
            "bare `python script.py`",
            bare * 1000,
            "≤ 1.15x bare",
            lambda v: v <= 1.15 * bare * 1000,
        )
    if page.deps is not None:
        d = page.deps
        table.add(
            "Save + first run of a script needing `requests`, empty uv cache",
            d.cold,
            "s",
            "`uv run --script`",
            d.uv_cold,
        )
        p50_with, p50_without = statistics.median(d.with_dep), statistics.median(d.without)
        table.add(
            "Warm run with a dependency (`six`), p50",
            p50_with * 1000,
            "ms",
            "no dependency",
            p50_without * 1000,
            "within 5 ms",
            lambda v: v - p50_without * 1000 <= 5,
        )
        table.add(
            "Environments built for 20 scripts with one lock",
            d.built,
            "",
            target="0",
            met=lambda v: v == 0,
        )
        table.add(
            "Preview again with the same requirements (lock cache), p50",
            statistics.median(d.preview_again) * 1000,
            "ms",
            "one `uv pip compile` of them, warm cache",
            statistics.median(d.compile_warm) * 1000,
        )
    if page.windmill is not None:
        _windmill(table, notes, page.windmill)
    if page.flow40 is not None:
        _flow40(table, notes, page.flow40)
    if page.queues is not None:
        _queues(table, notes, page.queues)
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Written by `uv run python -m bench` (all of them, 10 minutes or so on two quiet cores)"
            " or `uv run python -m bench --quick` (small runs); do not edit by hand.",
            "Every figure is measured in the same run as what it is compared with; "
            "times are medians over repeated runs. Ratio is Tidemill ÷ the comparison "
            "(below 1 for times and above 1 for rates is Tidemill ahead).",
            "",
            _machine(page),
            "",
            *table.rows,
            "",
            *notes,
            "",
            METHOD,
        ]
    )


def _windmill(table: Table, notes: list[str], w: windmill.Figures) -> None:
    prefect = w.seconds.get("prefect", {})
    targets = {"tidemill": 1.0, "tidemill warm": 0.25}
    for shape, label in (("light", "40 x fib(10), one after another"), ("heavy", "10 x fib(33)")):
        for name, mode in MODES.items():
            limit = targets[name] if shape == "light" else None
            table.add(
                f"{label}, {mode} (median of {w.rounds[shape]})",
                w.seconds[name][shape],
                "s",
                f"Prefect {w.prefect_version or ''}".strip(),
                prefect.get(shape),
                "—" if limit is None else f"≤ {limit:g} s",
                None if limit is None else (lambda v, lim=limit: v <= lim),
            )
    if w.prefect_error:
        notes.append(f"Prefect could not be measured in this run: `{w.prefect_error}`")


def _flow40(table: Table, notes: list[str], f: flow40.Figures) -> None:
    prefect = f.seconds.get("prefect", {})
    targets = {"flow": 1.0, "flow warm": 0.3}
    shapes = (("light", 40, "fib(10)"), ("heavy", 10, "fib(33)"))
    for shape, steps, work in shapes:
        for name in ("flow", "flow warm"):
            mode = "warm mode" if name.endswith("warm") else "process per job"
            limit = targets[name] if shape == "light" else None
            figure = f"Flow of {steps} x {work} steps, {mode} (median of {f.rounds[shape]})"
            for against, theirs in (
                (f"the same as {steps} separate jobs", f.seconds[name.replace("flow", "jobs")]),
                (f"Prefect {f.prefect_version or ''}".strip(), prefect),
            ):
                table.add(
                    figure,
                    f.seconds[name][shape],
                    "s",
                    against,
                    theirs.get(shape),
                    "—" if limit is None else f"≤ {limit:g} s",
                    None if limit is None else (lambda v, lim=limit: v <= lim),
                )
    if f.prefect_error and not prefect:
        notes.append(f"Prefect could not be measured for the flows: `{f.prefect_error}`")


def _queues(table: Table, notes: list[str], q: queues.Figures) -> None:
    peers = [p for p in ("pgqueuer", "procrastinate") if p in q.latency_ms]
    for name, mode in MODES.items():
        for peer in peers or ["—"]:
            table.add(
                f"Enqueue → start on an idle worker, p50 of {q.samples}, {mode}",
                q.latency_ms[name],
                "ms",
                f"{peer} {q.versions.get(peer, '')}".strip(),
                q.latency_ms.get(peer),
                "≤ 3 ms",
                lambda v: v <= 3,
            )
    for (name, mode), limit in zip(MODES.items(), (80, 1000), strict=True):
        for peer in peers or ["—"]:
            table.add(
                f"Drain {q.jobs:,} trivial jobs with 2 workers, {mode}",
                q.throughput[name],
                "jobs/s",
                f"{peer} {q.versions.get(peer, '')}".strip(),
                q.throughput.get(peer),
                f"≥ {limit:,} jobs/s",
                lambda v, lim=limit: v >= lim,
            )
    # (figure, MB per worker mode, target, limit in MB)
    memory = (
        ("RSS of an idle worker", q.worker_idle_mb, "≤ 60 MB", 60),
        (f"Worker RSS growth over {q.jobs:,} jobs", q.worker_growth_mb, "none (≤ 2 MB)", 2),
    )
    for name, mode in MODES.items():
        for figure, megabytes, target, limit in memory:
            table.add(
                f"{figure} ({mode})",
                megabytes[name],
                "MB",
                target=target,
                met=lambda v, lim=limit: v <= lim,
            )
    table.add(
        "RSS of the server, idle", q.server_idle_mb, "MB", target="≤ 120 MB", met=lambda v: v <= 120
    )
    table.add(
        f"RSS of the server after {2 * q.jobs:,} jobs and the latency runs",
        q.server_after_mb,
        "MB",
    )
    for peer, error in q.errors.items():
        notes.append(f"{peer} could not be measured in this run: `{error}`")


def _machine(page: Page) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick run (`--quick`)" if page.quick else "full run"
    before = " ".join(f"{x:.1f}" for x in page.load_before)
    after = " ".join(f"{x:.1f}" for x in page.load_after)
    return (
        f"Measured {when}, {kind}, {page.minutes:.0f} min: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"load average {before} before and {after} after."
    )


METHOD = """## How each figure is measured

- **Sync run** (`bench/overhead.py`): a trivial script through `run_wait_result` (HTTP →
  queue → worker → result, 2 workers) interleaved with the same script as a bare
  `python script.py` with the same interpreter.
- **Dependencies** (`bench/deps.py`): the cold first run of a script needing `requests`
  (save, which locks, then the first run, which builds the environment), each with an
  empty uv cache, against `uv run --script` of the same script with an empty cache; warm
  runs with and without a small dependency, interleaved; 20 scripts sharing one lock.
- **Windmill's shape** (`bench/windmill.py`): 40 jobs computing fib(10), each a sync
  `run_wait_result` call started when the previous one returned, then 10 computing fib(33);
  one worker; in process-per-job mode and in warm mode (`dedicated_worker`), interleaved.
  Prefect 3 is installed by the bench into its own environment, its server started with
  `prefect server start` (SQLite) and the same work run as a flow of 40 (10) tasks called
  one after another, each task's state recorded by that server; the time is the flow
  call's wall time, after a first flow run that registers the flow. Windmill's published
  figures (AWS m4.large) for the 40-task shape: Windmill 4.38 s (dedicated workers 2.09 s),
  Hatchet 1.22 s, Temporal 2.97 s, Prefect 4.87 s, Kestra 6.04 s, Airflow 116 s.
- **Flows in Windmill's shape** (`bench/flow40.py`): one flow of 40 sequential `script`
  steps computing fib(10), and one of 10 computing fib(33), each run by one
  `run_wait_result/f` call (HTTP → the flow's first step queued → each step's completion
  queues the next in its own transaction → the result), one worker; beside the same
  steps as separate sync jobs one after another, and Prefect's flow of the same
  sequential tasks (measured as for Windmill's shape, in the same run). Warm mode: the
  steps' script is `dedicated_worker`, so every step runs in the worker's kept process.
- **Queues** (`bench/queues.py`): each tool in its own database on the same PostgreSQL,
  enqueueing with its own library straight into the database (Tidemill with
  `server.queue.enqueue`, what its API calls). Latency: the job carries the time it was
  enqueued and the job's code computes `now - then` first thing (for Tidemill, the
  script's `main` in its process), one job every 0.3 s on one idle worker. Throughput:
  the jobs are queued first (Tidemill's due a few seconds later, while its 2 workers,
  started and warmed up with 4 runs, wait), then 2 workers drain them; jobs/s from the
  first start to the last end of the queued jobs only (pgqueuer and procrastinate: to the
  last start; their handlers are in-process coroutines that return at once). pgqueuer and
  procrastinate run with their defaults.
- **Where the time goes** (what the figures above cannot show): a job in process-per-job
  mode pays a `fork` of its environment's fork server (the interpreter was started before,
  once; the worker itself forks nothing) and the child's own work (read its spec, compile
  and run the script). While jobs wait, a worker pays one statement and one commit per job:
  the statement that moves the ended job to `completed` (and wakes sync waiters) also leases
  the next one and mints its token. Besides that, a job costs a working directory, two
  pipes and the supervision tasks; a warm job gets its spec in the socket message and no
  script file. The commit's flush to disk (synchronous commit, so no job runs twice after
  a crash of PostgreSQL) is most of the latency left on a quiet machine, and much more on a
  busy one. pgqueuer and procrastinate run a coroutine in the worker's own process: no
  process, no token, no directory.
- **Memory** (`bench/queues.py`): VmRSS of each worker process (`tidemill worker`, which
  hands over to `python -m worker`; its fork servers, their jobs and warm processes are
  separate processes, not counted) once idle and after the drain, and of the server
  process (`tidemill up --workers 0`).

How the figures moved as the code changed, and runs of single benchmarks:
[benchmark-notes.md](benchmark-notes.md).
"""
