"""A schedule firing every second, in real time, with two servers and a real worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server import app, db, queue, scheduler, settings
from tests.conftest import ADMIN_TOKEN, serving
from worker import service

pytestmark = pytest.mark.e2e

TICK = "def main():\n    return 'tick'\n"


def leaders(servers: tuple[Litestar, ...]) -> int:
    return sum(bool(server.state.scheduler.leading) for server in servers)


async def until(predicate: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def watch_leaders(servers: tuple[Litestar, ...], seen: list[int]) -> None:
    while True:
        seen.append(leaders(servers))
        await asyncio.sleep(0.05)


async def kill_leader_connection(pool: db.Pool) -> int:
    """Close the leader's connection from the database side, as a dead host would."""
    killed: int = await pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
        " WHERE locktype = 'advisory' AND granted AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND (classid::bigint << 32 | objid::bigint) = $1",
        scheduler.LOCK_KEY,
    )
    return killed


async def test_every_second_with_two_servers_runs_one_job_per_tick_across_a_takeover(
    config: settings.Settings, dsn: str, pool: db.Pool, worker: service.Worker
) -> None:
    async with (
        serving(app.create_app(config, dsn)) as first,
        serving(app.create_app(config, dsn)) as second,
    ):
        servers = (first, second)
        await until(lambda: leaders(servers) == 1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first),
            base_url="http://tidemill.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as client:
            saved = await client.post(
                "/api/w/main/scripts/create",
                json={"path": "f/demo/tick", "content": TICK, "language": "python3"},
            )
            assert saved.status_code == 201, saved.text
            seen: list[int] = []
            watcher = asyncio.ensure_future(watch_leaders(servers, seen))
            started = time.monotonic()
            created = await client.post(
                "/api/w/main/schedules/create",
                json={
                    "path": "f/demo/every",
                    "schedule": "* * * * * *",
                    "script_path": "f/demo/tick",
                },
            )
            assert created.status_code == 201, created.text
            await asyncio.sleep(2.2)
            assert await kill_leader_connection(pool) == 1
            await asyncio.sleep(2.2)
            stopped = await client.post(
                "/api/w/main/schedules/setenabled/f/demo/every", json={"enabled": False}
            )
            elapsed = time.monotonic() - started
            assert stopped.status_code == 200
            watcher.cancel()
        # never two leaders; and a leader again soon after the old one's connection closed
        assert max(seen) == 1
        assert seen[-1] == 1

    jobs = await queue.list_jobs(pool, workspace="main", schedule_path="f/demo/every")
    fires = sorted(job.scheduled_for for job in jobs)
    assert all(fire.microsecond == 0 for fire in fires)
    # one job per second, none twice and none missing, even across the change of leader
    assert fires == [fires[0] + timedelta(seconds=i) for i in range(len(fires))]
    assert elapsed - 1.5 <= len(fires) <= elapsed + 1

    async def all_ran() -> bool:
        done = await queue.list_jobs(
            pool, workspace="main", schedule_path="f/demo/every", success=True
        )
        return len(done) == len(fires)

    deadline = time.monotonic() + 20
    while not await all_ran():
        assert time.monotonic() < deadline, "the worker did not run every fire"
        await asyncio.sleep(0.1)
