"""`/metrics`: Prometheus text from the database, behind a token."""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server import db, settings
from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from tests.test_deps import running_worker
from worker import service

OK = "def main(n: int = 0):\n    return n\n"
FAIL = "def main():\n    raise ValueError('no')\n"
SLEEP = "import time\n\ndef main():\n    time.sleep(0.3)\n    return 1\n"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels (parsed by prometheus_client)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_metrics_need_a_token_and_the_metrics_scope(client: httpx.AsyncClient) -> None:
    for path in ("/metrics", "/api/metrics"):
        response = await client.get(path, headers={"Authorization": ""})
        assert response.status_code == 401
        assert response.json()["error"]["code"]
    narrow = await client.post("/api/users/tokens/create", json={"scopes": ["run:f/x/y"]})
    scraper = await client.post("/api/users/tokens/create", json={"scopes": ["metrics:read"]})
    for token, status in ((narrow.text, 403), (scraper.text, 200)):
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, response.text


async def test_metrics_count_jobs_durations_queue_and_workers(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/m/ok", OK)
    await save(client, "f/m/fail", FAIL)
    await save(client, "f/m/sleep", SLEEP)
    for path in ("f/m/ok", "f/m/ok", "f/m/fail", "f/m/sleep"):
        await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json={})
    # jobs no worker serves wait in the queue, one of them not due yet
    for _ in range(3):
        await client.post("/api/w/main/jobs/run/p/f/m/ok?tag=nobody", json={})
    later = await client.post(
        "/api/w/main/jobs/run/p/f/m/ok?tag=nobody&scheduled_in_secs=3600", json={}
    )
    assert later.status_code == 201, later.text
    found = await scrape(client)

    py_ok = (("language", "python3"), ("status", "success"))
    py_fail = (("language", "python3"), ("status", "failure"))
    assert found[("tidemill_jobs_completed_total", py_ok)] == 3
    assert found[("tidemill_jobs_completed_total", py_fail)] == 1
    assert found[("tidemill_job_duration_seconds_count", py_ok)] == 3
    assert found[("tidemill_job_duration_seconds_count", py_fail)] == 1
    # the sleeping job took ≥ 0.3 s: not in the 0.25 s bucket, in the +Inf one
    inf = found[("tidemill_job_duration_seconds_bucket", tuple(sorted((*py_ok, ("le", "+Inf")))))]
    quarter = found[
        ("tidemill_job_duration_seconds_bucket", tuple(sorted((*py_ok, ("le", "0.25")))))
    ]
    assert inf == 3
    assert quarter <= 2
    assert found[("tidemill_job_duration_seconds_sum", py_ok)] >= 0.3
    # buckets are cumulative
    bounds = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in found.items()
        if name == "tidemill_job_duration_seconds_bucket" and dict(labels)["status"] == "success"
    )
    assert [v for _, v in bounds] == sorted(v for _, v in bounds)

    assert found[("tidemill_queue_depth", (("tag", "nobody"),))] == 3
    assert found[("tidemill_jobs", (("status", "queued"), ("tag", "nobody")))] == 4
    assert found[("tidemill_workers_alive", ())] == 1
    assert found[("tidemill_dependency_cache_total", (("result", "hit"),))] == 0


async def test_a_job_canceled_before_it_started_counts_without_a_duration(
    client: httpx.AsyncClient,
) -> None:
    await save(client, "f/m/ok", OK)
    job_id = (await client.post("/api/w/main/jobs/run/p/f/m/ok", json={})).text
    response = await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={})
    assert response.status_code == 200, response.text
    await wait_completed(client, job_id)
    found = await scrape(client)
    canceled = (("language", "python3"), ("status", "canceled"))
    assert found[("tidemill_jobs_completed_total", canceled)] == 1
    assert found[("tidemill_job_duration_seconds_count", canceled)] == 0


def cache_counts(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> tuple[float, ...]:
    return tuple(
        found[("tidemill_dependency_cache_total", (("result", result),))]
        for result in ("hit", "miss")
    )


@pytest.mark.deps
async def test_dependency_cache_hits_and_misses_are_counted_off_the_jobs_path(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    await save(client, "f/m/six", "import six\n\ndef main():\n    return six.__name__\n")

    async def run_six() -> None:
        response = await client.post("/api/w/main/jobs/run_wait_result/p/f/m/six", json={})
        assert response.status_code == 200, response.text

    # a worker whose heartbeat does not come during the test: its jobs write no counter
    quiet = msgspec.structs.replace(config, heartbeat_s=3600.0, lost_after_s=7200.0)
    async with running_worker(quiet, pool, dsn):
        for _ in range(2):  # the first builds the environment (a miss), the second reuses it
            await run_six()
        assert cache_counts(await scrape(client)) == (0, 0)
    assert cache_counts(await scrape(client)) == (1, 1)  # exported when the worker stopped

    # with its usual heartbeat, a worker exports what it counted while it runs
    async with running_worker(config, pool, dsn):
        await run_six()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while cache_counts(await scrape(client)) != (2, 1):
            assert loop.time() < deadline, await scrape(client)
            await asyncio.sleep(0.1)
