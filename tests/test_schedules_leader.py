"""The scheduler's leader against a real database, with an injected clock.

Fires are judged at a `now` the test chooses (in the past, so the jobs are leasable),
which makes missed fires, late fires and double enqueues reproducible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from server import auth, db, models, queue, scheduler, schedules, scripts

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
JOB = "def main(n: int = 1):\n    return n\n"
NOTIFY = (
    "def main(error: dict, job_id: str, schedule_path: str, path: str, channel: str = 'ops'):\n"
    "    return channel\n"
)


@pytest.fixture
async def conn(dsn: str, pool: db.Pool) -> AsyncIterator[db.Connection]:
    """A connection of the kind the leader holds (`pool` has migrated the database)."""
    connection = await db.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def save_script(pool: db.Pool, path: str, content: str = JOB) -> None:
    new = scripts.NewScript(path=path, content=content, language="python3")
    await scripts.save(pool, workspace="main", new=new, created_by="admin")


async def create(
    pool: db.Pool, schedule: str, *, now: datetime = T0, **fields: Any
) -> schedules.Schedule:
    new = schedules.NewSchedule(
        path="f/demo/every", schedule=schedule, script_path="f/demo/job", **fields
    )
    return await schedules.create(pool, workspace="main", new=new, edited_by="admin", now=now)


async def fired(pool: db.Pool, path: str = "f/demo/every") -> list[datetime]:
    jobs = await queue.list_jobs(pool, workspace="main", schedule_path=path, per_page=1000)
    return sorted(job.scheduled_for for job in jobs)


async def test_a_due_fire_is_queued_once_however_many_leaders_try(
    pool: db.Pool, conn: db.Connection, dsn: str
) -> None:
    await save_script(pool, "f/demo/job")
    await create(pool, "* * * * *")
    other = await db.connect(dsn)
    try:
        now = T0 + timedelta(seconds=61)
        # two leaders that overlap (a lost connection not yet noticed) act at once
        await asyncio.gather(
            scheduler.fire_due(conn, pool, now=now, grace=scheduler.MISFIRE_GRACE),
            scheduler.fire_due(other, pool, now=now, grace=scheduler.MISFIRE_GRACE),
        )
    finally:
        await other.close()
    await scheduler.fire_due(conn, pool, now=now, grace=scheduler.MISFIRE_GRACE)
    assert await fired(pool) == [T0 + timedelta(minutes=1)]
    schedule = await schedules.get(pool, workspace="main", path="f/demo/every")
    assert schedule.last_fire == T0 + timedelta(minutes=1)
    assert schedule.next_fire == T0 + timedelta(minutes=2)


async def test_the_database_refuses_a_second_job_for_the_same_fire(pool: db.Pool) -> None:
    await save_script(pool, "f/demo/job")
    script = await scripts.get_by_path(pool, workspace="main", path="f/demo/job")

    async def enqueue() -> None:
        await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=script,
            args={},
            created_by="admin",
            scheduled_for=T0,
            schedule_path="f/demo/every",
        )

    await enqueue()
    with pytest.raises(asyncpg.UniqueViolationError) as caught:
        await enqueue()
    assert caught.value.constraint_name == scheduler.FIRE_KEY
    assert await fired(pool) == [T0]


async def test_fires_missed_while_down_run_once_then_on_time(
    pool: db.Pool, conn: db.Connection
) -> None:
    await save_script(pool, "f/demo/job")
    await create(pool, "*/5 * * * *")
    back = T0 + timedelta(hours=3, seconds=30)
    await scheduler.tick(conn, pool, now=back)
    assert await fired(pool) == [T0 + timedelta(minutes=5)]
    schedule = await schedules.get(pool, workspace="main", path="f/demo/every")
    assert schedule.next_fire == T0 + timedelta(hours=3, minutes=5)
    await scheduler.tick(conn, pool, now=back + timedelta(minutes=5))
    assert await fired(pool) == [T0 + timedelta(minutes=5), T0 + timedelta(hours=3, minutes=5)]


async def test_late_fires_within_the_grace_each_run(pool: db.Pool, conn: db.Connection) -> None:
    await save_script(pool, "f/demo/job")
    await create(pool, "* * * * * *", timezone="America/New_York")
    await scheduler.tick(conn, pool, now=T0 + timedelta(seconds=3, milliseconds=200))
    assert await fired(pool) == [T0 + timedelta(seconds=s) for s in (1, 2, 3)]


async def test_a_fire_that_cannot_run_is_skipped_and_explained(
    pool: db.Pool, conn: db.Connection
) -> None:
    await save_script(pool, "f/demo/job")
    await create(pool, "* * * * *")
    # the script changed under the schedule: it now needs an argument the schedule lacks
    await save_script(pool, "f/demo/job", "def main(needed: str):\n    return needed\n")
    await scheduler.tick(conn, pool, now=T0 + timedelta(seconds=61))
    assert await fired(pool) == []
    schedule = await schedules.get(pool, workspace="main", path="f/demo/every")
    assert schedule.error is not None and "needed" in schedule.error
    assert schedule.next_fire == T0 + timedelta(minutes=2)
    await save_script(pool, "f/demo/job")
    await scheduler.tick(conn, pool, now=T0 + timedelta(seconds=121))
    assert await fired(pool) == [T0 + timedelta(minutes=2)]
    schedule = await schedules.get(pool, workspace="main", path="f/demo/every")
    assert schedule.error is None


async def finish(pool: db.Pool, job_id: models.JobId, status: models.FinalStatus) -> None:
    """Play a worker: lease the job and end it with `status`."""
    leased = await queue.lease(
        pool, worker="w1", tags=["default"], job_token=auth.new_token(), default_timeout_s=60
    )
    assert leased is not None and leased.id == job_id
    error = models.JobError(name="ValueError", message="boom") if status == "failure" else None
    assert await queue.complete(pool, job_id=job_id, worker="w1", status=status, error=error)


async def next_run(pool: db.Pool, conn: db.Connection, minute: int) -> models.JobId:
    """Fire the schedule's run of T0 + `minute` minutes and answer its job id."""
    await scheduler.tick(conn, pool, now=T0 + timedelta(minutes=minute, seconds=1))
    jobs = await queue.list_jobs(pool, workspace="main", schedule_path="f/demo/every")
    (job,) = [j for j in jobs if j.scheduled_for == T0 + timedelta(minutes=minute)]
    return job.id


async def hook_runs(pool: db.Pool) -> list[models.Job]:
    jobs = await queue.list_jobs(pool, workspace="main", script_path="f/demo/notify")
    return sorted(jobs, key=lambda j: j.created_at)


async def test_on_failure_then_on_recovery(pool: db.Pool, conn: db.Connection) -> None:
    await save_script(pool, "f/demo/job")
    await save_script(pool, "f/demo/notify", NOTIFY)
    await create(
        pool,
        "* * * * *",
        on_failure="f/demo/notify",
        on_failure_extra_args={"channel": "alerts"},
        on_recovery="f/demo/notify",
    )

    failed = await next_run(pool, conn, 1)
    await finish(pool, failed, "failure")
    await scheduler.settle_finished(conn, pool)
    await scheduler.settle_finished(conn, pool)  # a second look changes nothing
    (on_failure,) = await hook_runs(pool)
    error = {"name": "ValueError", "message": "boom", "stack": ""}
    assert on_failure.args == {
        "channel": "alerts",
        "error": error,
        "job_id": str(failed),
        "schedule_path": "f/demo/every",
        "path": "f/demo/job",
    }
    assert on_failure.schedule_path is None  # a hook is not one of the schedule's runs
    await queue.cancel(pool, workspace="main", job_id=on_failure.id, by="test", reason="seen")

    canceled = await next_run(pool, conn, 2)
    await queue.cancel(pool, workspace="main", job_id=canceled, by="test", reason="skip")
    await scheduler.settle_finished(conn, pool)
    assert len(await hook_runs(pool)) == 1  # a canceled run is neither failure nor success

    recovered = await next_run(pool, conn, 3)
    await finish(pool, recovered, "success")
    await scheduler.tick(conn, pool, now=T0 + timedelta(minutes=3, seconds=2))
    on_recovery = (await hook_runs(pool))[-1]
    assert on_recovery.args == {
        "channel": "ops",
        "error": error,
        "job_id": str(recovered),
        "schedule_path": "f/demo/every",
        "path": "f/demo/job",
    }
    await queue.cancel(pool, workspace="main", job_id=on_recovery.id, by="test", reason="seen")

    fine = await next_run(pool, conn, 4)
    await finish(pool, fine, "success")
    await scheduler.settle_finished(conn, pool)
    assert len(await hook_runs(pool)) == 2  # success after success: no hook


async def test_a_hook_that_cannot_run_is_explained_on_the_schedule(
    pool: db.Pool, conn: db.Connection
) -> None:
    await save_script(pool, "f/demo/job")
    await save_script(pool, "f/demo/notify", NOTIFY)
    await create(pool, "* * * * *", on_failure="f/demo/notify")
    await save_script(pool, "f/demo/notify", "def main(other: int):\n    return other\n")
    failed = await next_run(pool, conn, 1)
    await finish(pool, failed, "failure")
    await scheduler.settle_finished(conn, pool)
    assert await hook_runs(pool) == []
    schedule = await schedules.get(pool, workspace="main", path="f/demo/every")
    assert schedule.error is not None and schedule.error.startswith("on_failure f/demo/notify")


async def wait_until(predicate: Any, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_one_leader_at_a_time_and_takeover_when_its_connection_closes(
    pool: db.Pool, dsn: str, conn: db.Connection
) -> None:
    candidates = [scheduler.Scheduler(dsn, pool, tick_s=0.1, retry_s=0.2) for _ in range(2)]
    stops = [asyncio.Event() for _ in candidates]
    tasks = [asyncio.ensure_future(c.run(s)) for c, s in zip(candidates, stops, strict=True)]
    try:
        await wait_until(lambda: any(c.leading for c in candidates))
        await asyncio.sleep(0.5)
        assert [c.leading for c in candidates].count(True) == 1
        leader = next(i for i, c in enumerate(candidates) if c.leading)
        # the leader's process dies: its connection closes and it campaigns no more
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND (classid::bigint << 32 | objid::bigint) = $1",
            scheduler.LOCK_KEY,
        )
        stops[leader].set()
        assert killed == 1
        await wait_until(lambda: candidates[1 - leader].leading, timeout_s=3)
        await wait_until(lambda: not candidates[leader].leading, timeout_s=3)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
