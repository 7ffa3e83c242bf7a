"""The queue's guarantees, at the database level: one lease per job, lost jobs come back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from server import db, models, queue, scripts


async def saved_script(pool: db.Pool) -> models.Script:
    new = scripts.NewScript(
        path="f/q/noop", content="def main(n: int = 0):\n    return n\n", language="python3"
    )
    await scripts.save(pool, workspace="main", new=new, created_by="admin")
    return await scripts.get_by_path(pool, workspace="main", path="f/q/noop")


async def enqueue_many(pool: db.Pool, script: models.Script, count: int) -> set[str]:
    ids = set()
    for n in range(count):
        job_id = await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=script,
            args={"n": n},
            created_by="admin",
        )
        ids.add(str(job_id))
    return ids


async def test_racing_workers_lease_each_job_exactly_once(pool: db.Pool) -> None:
    script = await saved_script(pool)
    ids = await enqueue_many(pool, script, 300)
    leased: list[tuple[str, str]] = []

    async def lease_until_empty(worker: str) -> None:
        await queue.register_worker(pool, name=worker, hostname="h", pid=1, tags=["default"])
        while True:
            job = await queue.lease(
                pool,
                worker=worker,
                tags=["default"],
                job_token=f"t-{worker}-{len(leased)}",
                default_timeout_s=60,
            )
            if job is None:
                return
            leased.append((str(job.id), worker))
            assert await queue.complete(pool, job_id=job.id, worker=worker, status="success")

    await asyncio.gather(*(lease_until_empty(f"w{i}") for i in range(8)))
    assert sorted(job for job, _ in leased) == sorted(ids)
    assert len({worker for _, worker in leased}) > 1
    assert await pool.fetchval("SELECT count(*) FROM queue") == 0
    assert await pool.fetchval("SELECT count(*) FROM completed WHERE attempts = 1") == 300


async def test_higher_priority_first_and_future_jobs_wait(pool: db.Pool) -> None:
    script = await saved_script(pool)
    low = await queue.enqueue(
        pool, job_id=queue.new_job_id(), script=script, args={}, created_by="admin"
    )
    high = await queue.enqueue(
        pool, job_id=queue.new_job_id(), script=script, args={}, created_by="admin", priority=5
    )
    later = await queue.enqueue(
        pool,
        job_id=queue.new_job_id(),
        script=script,
        args={},
        created_by="admin",
        priority=9,
        scheduled_for=datetime.now(UTC) + timedelta(hours=1),
    )
    order = []
    while job := await queue.lease(
        pool, worker="w", tags=["default"], job_token=f"t{len(order)}", default_timeout_s=60
    ):
        order.append(job.id)
    assert order == [high, low]
    assert later not in order


@pytest.mark.parametrize(("max_attempts", "outcome"), [(3, "requeued"), (1, "failed")])
async def test_jobs_of_silent_workers_are_recovered(
    pool: db.Pool, max_attempts: int, outcome: str
) -> None:
    script = await saved_script(pool)
    job_id = await queue.enqueue(
        pool,
        job_id=queue.new_job_id(),
        script=script,
        args={},
        created_by="admin",
        max_attempts=max_attempts,
    )
    assert await queue.lease(
        pool, worker="gone", tags=["default"], job_token="t", default_timeout_s=60
    )
    assert await queue.recover_lost(pool, lost_after_s=60) == []  # still fresh
    await pool.execute("UPDATE queue SET heartbeat_at = now() - interval '1 minute'")
    assert await queue.recover_lost(pool, lost_after_s=10) == [(job_id, outcome)]
    job = await queue.get(pool, workspace="main", job_id=job_id)
    if outcome == "requeued":
        assert job.status == "queued" and job.worker is None
        again = await queue.lease(
            pool, worker="alive", tags=["default"], job_token="t2", default_timeout_s=60
        )
        assert again is not None and again.attempts == 2
    else:
        assert job.status == "failure"
        assert job.error is not None and job.error.name == "WorkerLost"
    # the lost worker's late report is refused rather than overwriting the outcome
    assert not await queue.complete(pool, job_id=job_id, worker="gone", status="success")


async def test_tags_route_jobs(pool: db.Pool) -> None:
    script = await saved_script(pool)
    gpu = await queue.enqueue(
        pool, job_id=queue.new_job_id(), script=script, args={}, created_by="admin", tag="gpu"
    )
    assert (
        await queue.lease(pool, worker="w", tags=["default"], job_token="a", default_timeout_s=1)
        is None
    )
    job = await queue.lease(pool, worker="w", tags=["gpu"], job_token="b", default_timeout_s=1)
    assert job is not None and job.id == gpu
