"""`GET /api/w/{ws}/jobs_u/getupdate_sse/{id}`: a job's logs and state as server-sent events.

Each event is one JSON object in the shape of `getupdate` (`new_logs`, `log_offset`,
`running`, `completed`) plus the job's `status`; the last one, sent when the job has
ended, also carries the whole job as `jobs_u/get` renders it, and the stream closes.
Every event's `id` is its log offset, so a browser that reconnects (sending
`Last-Event-ID`) resumes where it was instead of receiving the logs again.

The token comes from the `Authorization` header or, since `EventSource` cannot set
headers, from `?token=`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage

from server import auth, db, models, queue
from server.api import common, jobs

POLL_S = 0.2
KEEPALIVE_S = 15.0


def _update(job: models.Job, tail: queue.LogTail) -> ServerSentEventMessage:
    body: dict[str, Any] = {
        "status": job.status,
        "running": job.status == "running",
        "completed": job.completed,
        "new_logs": tail.text,
        "log_offset": tail.offset,
    }
    if job.completed:
        body["job"] = jobs.render(job)
    return ServerSentEventMessage(data=msgspec.json.encode(body).decode(), id=str(tail.offset))


async def _updates(
    pool: db.Pool, job: models.Job, offset: int, poll_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    """An event whenever there are new logs or a new status; the last one when the job ends.

    The log is read once from `offset`, then only the chunks written since the last
    read (by chunk id), so a long log costs each poll its new rows, not the whole text.
    """
    status: str | None = None
    quiet_since = time.monotonic()
    tail = await queue.logs_from(pool, job.id, offset)
    while True:
        if tail.text or job.status != status or job.completed:
            yield _update(job, tail)
            status, quiet_since = job.status, time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            yield ServerSentEventMessage(comment="keep-alive")
            quiet_since = time.monotonic()
        if job.completed:
            return
        await asyncio.sleep(poll_s)
        # the logs after the state: a job seen running may have written more by now,
        # which the next round sends; a job seen ended has all its logs written
        job = await queue.get(pool, workspace=job.workspace, job_id=job.id)
        tail = await queue.logs_after(pool, job.id, tail)


@get("/api/w/{workspace:str}/jobs_u/getupdate_sse/{job_id:str}")
async def getupdate_sse(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    log_offset: FromQuery[int] = 0,
) -> ServerSentEvent:
    """Stream a job's new logs and state changes until it ends.

    Args:
        request: The request; its `Last-Event-ID` header, when a browser reconnects,
            wins over `log_offset`.
        workspace: The job's workspace.
        job_id: The job.
        log_offset: Skip the logs before this offset (as `getupdate` does).
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    job = await queue.get(
        common.pool(request), workspace=workspace, job_id=queue.parse_job_id(job_id)
    )
    auth.require_run(who, job.script_path, flow=job.kind == "flow")
    resume = request.headers.get("last-event-id", "")
    offset = int(resume) if resume.isdigit() else max(log_offset, 0)
    return ServerSentEvent(
        _updates(common.pool(request), job, offset, POLL_S),
        retry_duration=1000,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


ROUTES = [getupdate_sse]
