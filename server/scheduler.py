"""The scheduler: one leader among the servers turns due schedules into jobs.

Every server process runs a `Scheduler`. The one holding a session-level
advisory lock on its own connection is the leader, and only the leader acts;
when its connection closes (the process died, the network went) PostgreSQL
drops the lock and another server takes it within `retry_s`.

Exactly-once does not rest on there being one leader: each fire is keyed by
(workspace, schedule path, fire time) in `schedule_fires`, a row written by a
trigger inside the statement that queues the job (migration 0003), so a second
enqueue of the same fire fails, whoever attempts it.

The leader also watches its schedules' finished runs, through the fires not yet
settled, and queues their `on_failure` / `on_recovery` scripts (or flows).

A schedule of a flow (`is_flow`) starts the flow's newest version at each fire; the
flow's job carries the fire time as `scheduled_for`, so the same key holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from server import arguments, db, errors, flows, models, queue, schedules

log = logging.getLogger(__name__)

LOCK_KEY = 7_246_118_002  # pg_advisory_lock key: "tidemill scheduler"
TICK_S = 0.5
RETRY_S = 1.0
MISFIRE_GRACE = timedelta(seconds=10)
FIRE_RETENTION = timedelta(days=1)
BATCH = 100
FIRE_KEY = "schedule_fires_pkey"

# what the scheduler survives by reconnecting and trying again
# A connection killed mid-statement may also surface as asyncpg's InternalClientError
# ("another operation is in progress"): the campaign starts over on a new connection.
RETRYABLE = (OSError, asyncpg.InterfaceError, asyncpg.PostgresError, asyncpg.InternalClientError)


class Scheduler:
    """A candidate for leader in one server process; acts only while it leads."""

    def __init__(
        self,
        dsn: str,
        pool: db.Pool,
        *,
        tick_s: float = TICK_S,
        retry_s: float = RETRY_S,
        grace: timedelta = MISFIRE_GRACE,
    ) -> None:
        self.dsn = dsn
        self.pool = pool
        self.tick_s = tick_s
        self.retry_s = retry_s
        self.grace = grace
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign for the lock and lead while holding it, until `stop` is set."""
        while not stop.is_set():
            try:
                await self._campaign(stop)
            except RETRYABLE as exc:
                log.warning("scheduler: database trouble (%s); trying again", exc)
            await _sleep_or(stop, self.retry_s)

    async def _campaign(self, stop: asyncio.Event) -> None:
        conn = await db.connect(self.dsn)
        try:
            while not stop.is_set():
                if await conn.fetchval(db.query("try_scheduler_lock"), LOCK_KEY):
                    await self._lead(conn, stop)
                    return
                await _sleep_or(stop, self.retry_s)
        finally:
            # closing gives up the lock at once, so another server takes over
            with contextlib.suppress(*RETRYABLE):
                await conn.close(timeout=2)

    async def _lead(self, conn: db.Connection, stop: asyncio.Event) -> None:
        log.info("scheduler: this server is the leader")
        self._leading = True
        try:
            while not stop.is_set():
                wait_s = await tick(conn, self.pool, grace=self.grace)
                await _sleep_or(stop, min(max(wait_s, 0.0), self.tick_s))
        finally:
            self._leading = False


@contextlib.asynccontextmanager
async def running(dsn: str, pool: db.Pool) -> AsyncIterator[Scheduler]:
    """A scheduler campaigning in the background for the duration of the block."""
    scheduler = Scheduler(dsn, pool)
    stop = asyncio.Event()
    task = asyncio.ensure_future(scheduler.run(stop))
    try:
        yield scheduler
    finally:
        stop.set()
        await task


async def tick(
    conn: db.Connection,
    pool: db.Pool,
    *,
    grace: timedelta = MISFIRE_GRACE,
    now: datetime | None = None,
) -> float:
    """One pass of the leader; answers how long it may sleep before the next fire.

    Args:
        conn: The leader's connection (the one holding the lock).
        pool: For queueing jobs and reading scripts.
        grace: How late a fire may be and still run as itself (see `schedules.plan`).
        now: The time to act at; the database's clock when None (tests inject one).
    """
    if now is None:
        now = await conn.fetchval(db.query("scheduler_clock"))
        assert now is not None
    await fire_due(conn, pool, now=now, grace=grace)
    await settle_finished(conn, pool)
    await conn.execute(db.query("prune_fires"), now - FIRE_RETENTION)
    wait_s: float | None = await conn.fetchval(db.query("seconds_to_next_fire"))
    return float("inf") if wait_s is None else wait_s


async def fire_due(conn: db.Connection, pool: db.Pool, *, now: datetime, grace: timedelta) -> None:
    """Queue the fires of every schedule due at `now` and move each to its next fire."""
    for row in await conn.fetch(db.query("due_schedules"), now, BATCH):
        schedule = schedules.from_row(row)
        assert schedule.next_fire is not None
        plan = schedules.plan(
            schedule.schedule,
            schedules.zone(schedule.timezone),
            due=schedule.next_fire,
            now=now,
            grace=grace,
        )
        error = None
        try:
            target = await schedules.runnable(
                pool, schedule.workspace, path=schedule.script_path, is_flow=schedule.is_flow
            )
            # the script or flow may have changed since the schedule was saved: check again
            args = arguments.validate(flows.input_schema(target), schedule.args)
        except (errors.NotFound, errors.Invalid) as exc:
            error = f"cannot run {schedule.script_path}: {exc.message}"
            log.warning("schedule %s: %s", schedule.path, error)
        else:
            for fire_at in plan.fires:
                await _enqueue_fire(pool, schedule, target, args, fire_at)
        await conn.execute(
            db.query("advance_schedule"),
            schedule.workspace,
            schedule.path,
            schedule.next_fire,
            plan.next_fire,
            plan.fires[-1],
            error,
        )


async def _enqueue_fire(
    pool: db.Pool,
    schedule: schedules.Schedule,
    target: flows.Runnable,
    args: dict[str, Any],
    fire_at: datetime,
) -> None:
    try:
        if isinstance(target, flows.Flow):
            await queue.enqueue_flow(
                pool,
                job_id=queue.new_job_id(),
                flow=target,
                args=args,
                created_by=schedule.edited_by,
                schedule_path=schedule.path,
                scheduled_for=fire_at,
            )
            return
        await queue.enqueue(
            pool,
            job_id=queue.new_job_id(),
            script=target,
            args=args,
            created_by=schedule.edited_by,
            scheduled_for=fire_at,
            schedule_path=schedule.path,
            retry=schedule.retry,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != FIRE_KEY:
            raise
        log.info("schedule %s: the fire at %s was queued already", schedule.path, fire_at)


async def settle_finished(conn: db.Connection, pool: db.Pool) -> None:
    """Act once on each finished scheduled run: `on_failure`, and `on_recovery` after one.

    Each fire is settled in a transaction that holds its schedule's row, so runs of
    one schedule are judged one after another, in the order they finished. Canceled
    runs are neither failures nor successes: they call no hook and change nothing.
    """
    for run in await conn.fetch(db.query("finished_fires"), BATCH):
        async with conn.transaction():
            state = await conn.fetchrow(
                db.query("settle_fire"),
                run["workspace"],
                run["schedule_path"],
                run["fire_at"],
                run["status"],
            )
            if state is None or run["status"] == "canceled":
                continue
            failed = run["status"] == "failure"
            if not failed and state["last_failure"] is None:
                continue  # a success after a success changes nothing
            kind = "on_failure" if failed else "on_recovery"
            problem = None
            if state[kind] is not None:
                problem = await _run_hook(
                    pool,
                    kind=kind,
                    hook_path=state[kind],
                    workspace=run["workspace"],
                    created_by=state["edited_by"],
                    for_job=run["job_id"],
                    args=schedules.hook_args(
                        state[f"{kind}_extra_args"],
                        # on_recovery is told which failure it recovers from
                        error=run["error"] if failed else state["last_failure"]["error"],
                        job_id=str(run["job_id"]),
                        schedule_path=run["schedule_path"],
                        path=run["script_path"],
                    ),
                )
            await conn.execute(
                db.query("record_run_outcome"),
                run["workspace"],
                run["schedule_path"],
                {"job_id": str(run["job_id"]), "error": run["error"]} if failed else None,
                problem,
            )


async def _run_hook(
    pool: db.Pool,
    *,
    kind: str,
    hook_path: str,
    workspace: str,
    created_by: str,
    for_job: uuid.UUID,
    args: dict[str, Any],
) -> str | None:
    """Queue a hook once per run; answers why it could not run, if it could not.

    The hook's job id is derived from the run's, so a leader that settles the same
    run again (its predecessor died between queueing the hook and settling) finds
    the job there and queues nothing.
    """
    job_id = models.JobId(uuid.uuid5(for_job, kind))
    path, is_flow = schedules.hook_target(hook_path)
    try:
        target = await schedules.runnable(pool, workspace, path=path, is_flow=is_flow)
        args = arguments.validate(flows.input_schema(target), args)
    except (errors.NotFound, errors.Invalid) as exc:
        problem = f"{kind} {hook_path} could not run: {exc.message}"
        log.warning("%s", problem)
        return problem
    if await _exists(pool, workspace, job_id):
        return None
    if isinstance(target, flows.Flow):
        await queue.enqueue_flow(pool, job_id=job_id, flow=target, args=args, created_by=created_by)
    else:
        await queue.enqueue(pool, job_id=job_id, script=target, args=args, created_by=created_by)
    return None


async def _exists(pool: db.Pool, workspace: str, job_id: models.JobId) -> bool:
    try:
        await queue.get(pool, workspace=workspace, job_id=job_id)
    except errors.NotFound:
        return False
    return True


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
