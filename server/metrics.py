"""Prometheus metrics, read from PostgreSQL at each scrape.

Workers are other processes, often on other machines, so the numbers cannot
live in the server's memory: the queue and the workers table give the
gauges, and counters are kept in tables by the database itself (a trigger on
`completed` counts every ended job and its run time, see migration 0070) or
by each worker (its dependency cache hits and misses, counted in memory and
added with its heartbeat). A scrape is a handful of small
queries, none over the job history. Any server answers the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from server import db

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEPENDENCY_CACHE_HIT = "dependency_cache_hit"
DEPENDENCY_CACHE_MISS = "dependency_cache_miss"


class _Fixed:
    """A collector of families fetched beforehand (collectors are synchronous)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def add_worker_counts(pool: db.Pool, *, worker: str, counts: dict[str, int]) -> None:
    """Add to this worker's counters (its own rows: no contention between workers).

    Workers count in memory and call this with their heartbeat, not once per event.
    """
    await pool.execute(db.query("add_worker_counts"), worker, list(counts), list(counts.values()))


def _histogram_buckets(
    bounds: list[float], counts: list[int], runs: int
) -> list[tuple[str, float]]:
    """Prometheus's cumulative buckets from per-bucket counts, ending with +Inf."""
    cumulative, buckets = 0, []
    for bound, count in zip(bounds, counts, strict=True):
        cumulative += count
        buckets.append((repr(float(bound)), float(cumulative)))
    buckets.append(("+Inf", float(runs)))
    return buckets


async def families(pool: db.Pool, *, alive_within_s: float) -> list[Metric]:
    """Every metric, read now."""
    queue_depth = GaugeMetricFamily(
        "tidemill_queue_depth", "Queued jobs that may start now, per tag", labels=["tag"]
    )
    jobs = GaugeMetricFamily(
        "tidemill_jobs", "Jobs waiting or running now, per tag and status", labels=["tag", "status"]
    )
    for row in await pool.fetch(db.query("metric_queue")):
        jobs.add_metric([row["tag"], row["status"]], row["jobs"])
        if row["status"] == "queued":
            queue_depth.add_metric([row["tag"]], row["due"])

    ended = CounterMetricFamily(
        "tidemill_jobs_completed",
        "Jobs that ended, per language and status (success, failure, canceled)",
        labels=["language", "status"],
    )
    durations = HistogramMetricFamily(
        "tidemill_job_duration_seconds",
        "Run time of ended jobs, from start to end, per language and status",
        labels=["language", "status"],
    )
    bounds: list[float] = list(await pool.fetchval(db.query("metric_duration_bounds")))
    for row in await pool.fetch(db.query("metric_job_ends")):
        labels = [row["language"], row["status"]]
        ended.add_metric(labels, row["total"])
        counts = list(row["buckets"]) or [0] * len(bounds)
        durations.add_metric(
            labels, _histogram_buckets(bounds, counts, row["runs"]), sum_value=row["sum_s"]
        )

    alive = GaugeMetricFamily(
        "tidemill_workers_alive", "Workers that heartbeated recently (TIDEMILL_LOST_AFTER_S)"
    )
    alive.add_metric([], await pool.fetchval(db.query("metric_workers_alive"), alive_within_s))

    counters = {r["name"]: r["value"] for r in await pool.fetch(db.query("metric_worker_counters"))}
    cache = CounterMetricFamily(
        "tidemill_dependency_cache",
        "Python jobs with dependencies whose environment was already built (hit) or not (miss)",
        labels=["result"],
    )
    cache.add_metric(["hit"], counters.get(DEPENDENCY_CACHE_HIT, 0))
    cache.add_metric(["miss"], counters.get(DEPENDENCY_CACHE_MISS, 0))
    return [queue_depth, jobs, ended, durations, alive, cache]


def render(found: Iterable[Metric]) -> bytes:
    """The Prometheus text exposition of `found`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(found)))
    return generate_latest(registry)


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The text of one scrape, as the route sends it."""

    body: bytes
    content_type: str = CONTENT_TYPE


async def snapshot(pool: db.Pool, *, alive_within_s: float) -> Snapshot:
    return Snapshot(body=render(await families(pool, alive_within_s=alive_within_s)))
