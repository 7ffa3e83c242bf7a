"""The queue's guarantees, at the database level: one lease per job, lost jobs come back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from server import db, models, queue, scripts, settings
from worker import service


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


async def test_a_worker_of_several_tags_takes_the_most_urgent_of_all(pool: db.Pool) -> None:
    script = await saved_script(pool)
    jobs = {}
    for tag, priority in [("a", 1), ("b", 7), ("c", 9), ("a", 3)]:
        jobs[(tag, priority)] = await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=script,
            args={},
            created_by="admin",
            tag=tag,
            priority=priority,
        )
    order = []
    while job := await queue.lease(
        pool, worker="w", tags=["a", "b"], job_token=f"t{len(order)}", default_timeout_s=60
    ):
        order.append(job.id)
    assert order == [jobs[("b", 7)], jobs[("a", 3)], jobs[("a", 1)]]


async def test_ending_a_job_leases_the_next_in_the_same_statement(pool: db.Pool) -> None:
    script = await saved_script(pool)
    ids = await enqueue_many(pool, script, 3)
    await queue.register_worker(pool, name="w", hostname="h", pid=1, tags=["default"])
    job = await queue.lease(
        pool, worker="w", tags=["default"], job_token="t0", default_timeout_s=60
    )
    ran = []
    while job is not None:
        ran.append(str(job.id))
        tokens = await pool.fetchval("SELECT count(*) FROM tokens WHERE job_id = $1", job.id)
        assert tokens == 1
        current = await pool.fetchval("SELECT current_job_id FROM workers WHERE name = 'w'")
        assert current == job.id
        ending = queue.Ending(job_id=job.id, status="success", result=len(ran), last_log="out\n")
        ended, job = await queue.end_and_lease(
            pool,
            ending=ending,
            worker="w",
            tags=["default"],
            job_token=f"t{len(ran)}",
            default_timeout_s=60,
        )
        assert ended
    assert sorted(ran) == sorted(ids)
    assert await pool.fetchval("SELECT count(*) FROM queue") == 0
    assert await pool.fetchval("SELECT count(*) FROM tokens WHERE job_id IS NOT NULL") == 0
    assert await pool.fetchval("SELECT current_job_id FROM workers WHERE name = 'w'") is None
    done = await queue.get(pool, workspace="main", job_id=models.JobId(uuid.UUID(ran[1])))
    assert done.status == "success" and done.result == 2
    assert await queue.logs(pool, done.id) == "out\n"


async def test_a_stopping_worker_ends_its_job_and_leases_nothing(pool: db.Pool) -> None:
    script = await saved_script(pool)
    await enqueue_many(pool, script, 2)
    job = await queue.lease(pool, worker="w", tags=["default"], job_token="a", default_timeout_s=60)
    assert job is not None
    ending = queue.Ending(
        job_id=job.id, status="failure", error=models.JobError(name="E", message="m")
    )
    ended, leased = await queue.end_and_lease(
        pool, ending=ending, worker="w", tags=[], job_token="b", default_timeout_s=60
    )
    assert ended and leased is None
    assert await pool.fetchval("SELECT count(*) FROM queue WHERE status = 'queued'") == 1
    # a late end from a worker that lost the job changes nothing, and still leases
    again = queue.Ending(job_id=job.id, status="success")
    ended, leased = await queue.end_and_lease(
        pool, ending=again, worker="w", tags=["default"], job_token="c", default_timeout_s=60
    )
    assert not ended and leased is not None
    assert (await queue.get(pool, workspace="main", job_id=job.id)).status == "failure"


async def test_next_due_names_the_wait_for_a_job_queued_for_later(pool: db.Pool) -> None:
    script = await saved_script(pool)
    assert await queue.next_due_in(pool, tags=["default"]) is None
    for seconds, tag in [(30, "default"), (5, "other"), (-5, "default")]:
        await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=script,
            args={},
            created_by="admin",
            tag=tag,
            scheduled_for=datetime.now(UTC) + timedelta(seconds=seconds),
        )
    # the job due already is the lease's, not a wait; the other tag's is not this worker's
    due_in = await queue.next_due_in(pool, tags=["default"])
    assert due_in is not None and 28 < due_in <= 30


async def test_an_idle_worker_wakes_when_a_job_falls_due_not_at_its_poll(
    pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    script = await saved_script(pool)
    slow_poll = msgspec.structs.replace(config, poll_s=30)
    worker = service.Worker(slow_poll, pool, dsn, name="patient")
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop))
    try:
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        job_id = await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=script,
            args={},
            created_by="admin",
            scheduled_for=due,
        )
        for _ in range(200):
            job = await queue.get(pool, workspace="main", job_id=job_id)
            if job.started_at is not None:
                break
            await asyncio.sleep(0.05)
        assert job.started_at is not None, "not started within 10 s (a poll is 30 s)"
        assert timedelta(0) <= job.started_at - due < timedelta(seconds=1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
