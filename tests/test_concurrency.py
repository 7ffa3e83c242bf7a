"""Concurrency limits per script: extra runs wait in the queue, never more than N at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from server import db, queue, scripts, settings
from tests.test_api_jobs import wait_completed
from worker import service

OVERLAP = (
    "import time\n\n"
    "def main(log: str):\n"
    "    start = time.time()\n"
    "    time.sleep(0.5)\n"
    "    with open(log, 'a') as f:\n"
    "        f.write(f'{start} {time.time()}\\n')\n"
)


async def test_at_most_n_run_at_once(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings, shared_dir: Path
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": "f/limit/slow",
            "content": OVERLAP,
            "language": "python3",
            "concurrent_limit": 2,
        },
    )
    assert response.status_code == 201
    workers = [service.Worker(config, pool, dsn, name=f"w{i}") for i in range(4)]
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(w.run(stop)) for w in workers]
    try:
        log = shared_dir / "spans"
        log.touch()
        log.chmod(0o666)  # written by the jobs of four workers, each its own user
        ids = [
            (await client.post("/api/w/main/jobs/run/p/f/limit/slow", json={"log": str(log)})).text
            for _ in range(6)
        ]
        for job_id in ids:
            done = await wait_completed(client, job_id, timeout_s=30)
            assert done["success"] is True, done
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(spans) == 6
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # the limit was used, and never exceeded


async def test_the_window_counts_recent_starts(pool: db.Pool) -> None:
    for path, window in (("f/limit/windowed", 60), ("f/limit/plain", None)):
        new = scripts.NewScript(
            path=path,
            content="def main():\n    return 1\n",
            language="python3",
            concurrent_limit=1,
            concurrency_time_window_s=window,
        )
        await scripts.save(pool, workspace="main", new=new, created_by="admin")
        script = await scripts.get_by_path(pool, workspace="main", path=path)
        for _ in range(2):
            await queue.enqueue(
                pool, job_id=queue.new_job_id(), script=script, args={}, created_by="admin"
            )
        first = await queue.lease(
            pool, worker="w", tags=["default"], job_token=f"a{path}", default_timeout_s=60
        )
        assert first is not None
        assert (
            await queue.lease(
                pool, worker="w", tags=["default"], job_token=f"b{path}", default_timeout_s=60
            )
            is None
        )
        await queue.complete(pool, job_id=first.id, worker="w", status="success")
        again = await queue.lease(
            pool, worker="w", tags=["default"], job_token=f"c{path}", default_timeout_s=60
        )
        if window is None:
            assert again is not None  # only running jobs count
            await queue.complete(pool, job_id=again.id, worker="w", status="success")
        else:
            assert again is None  # the first started within the window: still counted


async def test_a_timeout_above_the_ceiling_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": "f/limit/long",
            "content": "def main():\n    pass\n",
            "language": "python3",
            "timeout": 10**7,
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "timeout"
