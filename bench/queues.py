"""Queue latency, throughput and memory, beside pgqueuer and procrastinate on the same PostgreSQL.

Every tool gets a database of its own on the server `TIDEMILL_BENCH_PG`
names (default the local 127.0.0.1:5432) and enqueues through its own
library, straight into the database (Tidemill with `server.queue.enqueue`,
the function its API calls). The peers run from their own environment
(`bench.peers`), their handlers in `bench/peer_queues.py`.

- Latency: enqueue -> start on an idle worker. Each job carries the time it
  was enqueued and its code computes `now - then` as its first act (for
  Tidemill that is the script's `main`, in its own process or a warm one);
  jobs are spaced so the worker is idle each time. p50 over the samples.
- Throughput: N trivial jobs queued first, then drained by 2 workers; jobs/s
  from the first job's start to the last job's end.
- Memory: RSS of each Tidemill worker process while idle (before the drain)
  and after it, and of the server process (`tidemill up`).

    uv run python -m bench.queues [--quick]
"""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import peers
from bench.stack import Stack, fresh_database, rss_mb
from server import db, models, queue, scripts

LATENCY = "import time\n\n\ndef main(t: float):\n    return time.time() - t\n"
NOOP = "def main():\n    return 1\n"
SPACING_S = 0.3
MODES = {"tidemill": False, "tidemill warm": True}


@dataclass
class Figures:
    jobs: int
    samples: int
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50
    throughput: dict[str, float] = field(default_factory=dict)  # jobs/s
    worker_idle_mb: dict[str, float] = field(default_factory=dict)
    worker_growth_mb: dict[str, float] = field(default_factory=dict)
    server_idle_mb: float = 0.0
    server_after_mb: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


# -- Tidemill ---------------------------------------------------------------------


async def _script(pool: db.Pool, path: str) -> models.Script:
    return await scripts.get_by_path(pool, workspace="main", path=path)


async def _enqueue(
    pool: db.Pool, script: models.Script, args: dict[str, object], at: datetime.datetime | None
) -> None:
    await queue.enqueue(
        pool,
        job_id=queue.new_job_id(),
        script=script,
        args=args,
        created_by="admin",
        scheduled_for=at,
    )


async def tidemill_latency(dsn: str, path: str, samples: int) -> list[float]:
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        script = await _script(pool, path)
        for _ in range(samples):
            await _enqueue(pool, script, {"t": time.time()}, None)
            await asyncio.sleep(SPACING_S)
        while await pool.fetchval("SELECT count(*) FROM queue WHERE script_path = $1", path):
            await asyncio.sleep(0.1)
        rows = await pool.fetch(
            "SELECT result FROM completed WHERE script_path = $1 AND status = 'success'", path
        )
        return [float(r["result"]) * 1000 for r in rows]
    finally:
        await pool.close()


async def tidemill_fill(dsn: str, path: str, jobs: int) -> datetime.datetime:
    """Queue `jobs` runs due a little later, when all are queued (or nearly: a loaded machine).

    Answers the time they are due: it tells them from the runs made before.
    """
    pool = await db.create_pool(dsn, min_size=4, max_size=4)
    try:
        script = await _script(pool, path)
        due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5 + jobs / 250)
        for start in range(0, jobs, 4):
            await asyncio.gather(
                *(_enqueue(pool, script, {}, due) for _ in range(min(4, jobs - start)))
            )
        return due
    finally:
        await pool.close()


async def tidemill_drained(dsn: str, path: str, jobs: int, due: datetime.datetime) -> float:
    """Wait until the `jobs` runs of `path` due at `due` completed; their jobs/s, first start
    to last end (the warm-up runs before them, and the wait for `due`, are not counted)."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        count = "SELECT count(*) FROM completed WHERE script_path = $1 AND scheduled_for = $2"
        while await pool.fetchval(count, path, due) < jobs:
            await asyncio.sleep(0.5)
        span = await pool.fetchval(
            "SELECT extract(epoch FROM max(completed_at) - min(started_at)) FROM completed"
            " WHERE script_path = $1 AND scheduled_for = $2",
            path,
            due,
        )
        return jobs / float(span)
    finally:
        await pool.close()


def tidemill(figures: Figures) -> None:
    dsn = fresh_database("tidemill_bench")
    with Stack(workers=0, database_url=dsn) as stack:
        assert stack.proc is not None
        for name, warm in MODES.items():
            suffix = "_warm" if warm else ""
            stack.save(f"f/bench/latency{suffix}", LATENCY, dedicated_worker=warm)
            stack.save(f"f/bench/noop{suffix}", NOOP, dedicated_worker=warm)
            workers = stack.start_workers(1)
            for _ in range(3):  # the warm module loads; fork servers start
                stack.run_sync(f"f/bench/latency{suffix}", {"t": time.time()})
            samples = asyncio.run(
                tidemill_latency(dsn, f"f/bench/latency{suffix}", figures.samples)
            )
            figures.latency_ms[name] = statistics.median(samples)
            stack.stop_workers(workers)

            workers = stack.start_workers(2)
            for _ in range(4):
                stack.run_sync(f"f/bench/noop{suffix}", {})
            due = asyncio.run(tidemill_fill(dsn, f"f/bench/noop{suffix}", figures.jobs))
            time.sleep(1)
            if not figures.server_idle_mb:
                figures.server_idle_mb = rss_mb(stack.proc.pid)
            idle = [rss_mb(w.pid) for w in workers]
            figures.worker_idle_mb[name] = max(idle)
            figures.throughput[name] = asyncio.run(
                tidemill_drained(dsn, f"f/bench/noop{suffix}", figures.jobs, due)
            )
            after = [rss_mb(w.pid) for w in workers]
            figures.worker_growth_mb[name] = max(a - b for a, b in zip(after, idle, strict=True))
            stack.stop_workers(workers)
        figures.server_after_mb = rss_mb(stack.proc.pid)


# -- pgqueuer and procrastinate -------------------------------------------------------


def peer(figures: Figures, name: str, python: Path) -> None:
    script = str(peers.BENCH / "peer_queues.py")
    work = Path(tempfile.mkdtemp(prefix=f"tidemill-bench-{name}-"))
    try:
        dsn = fresh_database(f"{name}_bench")
        subprocess.run([str(python), script, name, dsn, "setup"], check=True, capture_output=True)
        out = work / "latency.txt"
        worker = subprocess.Popen([str(python), script, name, dsn, "work", str(out), "forever"])
        time.sleep(3)  # started and idle
        subprocess.run(
            [str(python), script, name, dsn, "enqueue", str(figures.samples), str(SPACING_S)],
            check=True,
            capture_output=True,
        )
        time.sleep(1)
        worker.kill()
        worker.wait()
        figures.latency_ms[name] = statistics.median(_column(out, 1)) * 1000

        dsn = fresh_database(f"{name}_bench")
        subprocess.run([str(python), script, name, dsn, "setup"], check=True, capture_output=True)
        subprocess.run(
            [str(python), script, name, dsn, "enqueue", str(figures.jobs)],
            check=True,
            capture_output=True,
        )
        outs = [work / f"drain-{i}.txt" for i in range(2)]
        drains = [
            subprocess.Popen([str(python), script, name, dsn, "work", str(o), "drain"])
            for o in outs
        ]
        for drain in drains:
            drain.wait(1800)
        started = [t for o in outs for t in _column(o, 0)]
        if len(started) != figures.jobs:
            raise RuntimeError(f"{name} ran {len(started)} of {figures.jobs} jobs")
        # the start of the last job: the trivial handler's own end is no later than the next read
        figures.throughput[name] = figures.jobs / (max(started) - min(started))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _column(path: Path, index: int) -> list[float]:
    if not path.exists():
        return []
    return [float(line.split()[index]) for line in path.read_text().splitlines() if line]


def measure(quick: bool) -> Figures:
    figures = Figures(jobs=500 if quick else 10_000, samples=15 if quick else 50)
    tidemill(figures)
    python = peers.environment("queues")
    for name in ("pgqueuer", "procrastinate"):
        try:
            figures.versions[name] = peers.version(python, name)
            peer(figures, name, python)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            figures.errors[name] = str(exc)[-500:]
    return figures


if __name__ == "__main__":
    print(json.dumps(measure("--quick" in sys.argv).__dict__, indent=2))
