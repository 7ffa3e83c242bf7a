"""Wake sync callers when their job ends, by LISTEN on `tidemill_done`.

One connection per server process listens; each waiting request registers
an event for its job id *before* the job is queued, so a job that ends at
once cannot be missed. If the listening connection drops, every waiter is
woken to re-check the database, and listening resumes on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from server import db, models, queue

log = logging.getLogger(__name__)


class Waiters:
    """Job-done events for the requests of this process."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._events: dict[str, asyncio.Event] = {}
        self._conn: db.Connection | None = None
        self._closing = False
        self._reconnect: asyncio.Task[None] | None = None

    async def start(self) -> None:
        conn = await db.connect(self._dsn)
        await conn.add_listener(queue.DONE_CHANNEL, self._on_done)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    def _on_done(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        event = self._events.get(str(payload))
        if event is not None:
            event.set()

    def _on_lost(self, _conn: Any) -> None:
        if self._closing:
            return
        for event in self._events.values():
            event.set()
        self._reconnect = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self.start()
            except (OSError, db.PostgresError) as exc:
                log.warning("waiters: database unreachable (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                for event in self._events.values():
                    event.set()
                return

    @contextlib.asynccontextmanager
    async def expect(self, job_id: models.JobId) -> AsyncIterator[asyncio.Event]:
        """Register interest in `job_id` for the duration of the block."""
        key = str(job_id)
        event = self._events[key] = asyncio.Event()
        try:
            yield event
        finally:
            del self._events[key]

    async def wait_completed(
        self, pool: db.Pool, event: asyncio.Event, *, workspace: str, job_id: models.JobId
    ) -> models.Job:
        """Block until the job is in `completed`; reads the database only when woken."""
        while True:
            await event.wait()
            event.clear()
            job = await queue.get_completed(pool, workspace=workspace, job_id=job_id)
            if job is not None:
                return job
