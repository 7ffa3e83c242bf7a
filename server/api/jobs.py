"""Running scripts and reading jobs, on Windmill's routes and in its shapes.

The shapes are what the real `wmill` client reads: `type` is `QueuedJob` or
`CompletedJob`, `running`/`success` are booleans, a failed job's `result` is
`{"error": {...}}`; `get_result_maybe` answers `started`/`completed`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, get_args
from uuid import UUID

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from server import auth, errors, models, previews, queue
from server.api import common, flows, runs


class CancelBody(msgspec.Struct, frozen=True, kw_only=True):
    reason: str | None = None


def job_result(job: models.Job) -> Any:
    """A completed job's result as Windmill reports it (errors wrapped in `error`)."""
    if job.status == "success":
        return job.result
    if job.error is not None:
        return {"error": msgspec.to_builtins(job.error)}
    return None


def render(job: models.Job) -> dict[str, Any]:
    """A job in Windmill's `QueuedJob` / `CompletedJob` shape, plus our plain `status`."""
    completed = job.completed
    duration_ms = None
    if completed and job.started_at is not None and job.completed_at is not None:
        duration_ms = int((job.completed_at - job.started_at).total_seconds() * 1000)
    body: dict[str, Any] = {
        "id": str(job.id),
        "type": "CompletedJob" if completed else "QueuedJob",
        "workspace_id": job.workspace,
        "job_kind": job.kind,
        "script_path": job.script_path,
        # a preview ran code that is not a saved version: no hash to fetch or rerun
        "script_hash": None if job.kind == "preview" else job.script_hash,
        "language": job.language,
        "args": job.args,
        "status": job.status,
        "running": job.status == "running",
        "canceled": job.status == "canceled" or job.canceled_by is not None,
        "canceled_by": job.canceled_by,
        "canceled_reason": job.cancel_reason,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "scheduled_for": job.scheduled_for,
        "tag": job.tag,
        "priority": job.priority,
        "schedule_path": job.schedule_path,
        "parent_job": None if job.parent_job is None else str(job.parent_job),
        "worker": job.worker,
        "attempts": job.attempts,
        "retries": job.retries,
        "max_attempts": job.max_attempts,
        "is_flow_step": False,
    }
    if completed:
        body |= {
            "success": job.status == "success",
            "result": job_result(job),
            "completed_at": job.completed_at,
            "duration_ms": duration_ms,
        }
    return body


Tag = FromQuery[str | None]
ScheduledIn = FromQuery[int | None]
ScheduledFor = FromQuery[datetime | None]
ParentJob = FromQuery[UUID | None]
Retry = FromQuery[str | None]


@post("/api/w/{workspace:str}/jobs/run/p/{path:path}", status_code=201)
async def run_by_path(
    request: common.AnyRequest,
    workspace: FromPath[str],
    path: FromPath[str],
    tag: Tag = None,
    scheduled_in_secs: ScheduledIn = None,
    scheduled_for: ScheduledFor = None,
    parent_job: ParentJob = None,
    retry: Retry = None,
) -> Response[str]:
    """Queue a run of the newest version of a script; answers 201 with the job id as text."""
    script = await runs.script_for_run(request, workspace, path=common.path_param(path), hash_=None)
    opts = runs.RunOptions(
        tag=tag,
        scheduled_in_secs=scheduled_in_secs,
        scheduled_for=scheduled_for,
        parent_job=parent_job,
        retry=runs.retry_param(retry),
    )
    return await runs.start(request, script, opts, await runs.body_args(request))


@post("/api/w/{workspace:str}/jobs/run/h/{hash_:str}", status_code=201)
async def run_by_hash(
    request: common.AnyRequest,
    workspace: FromPath[str],
    hash_: FromPath[str],
    tag: Tag = None,
    scheduled_in_secs: ScheduledIn = None,
    scheduled_for: ScheduledFor = None,
    parent_job: ParentJob = None,
    retry: Retry = None,
) -> Response[str]:
    """Queue a run of one exact version; answers 201 with the job id as text."""
    script = await runs.script_for_run(request, workspace, path=None, hash_=hash_)
    opts = runs.RunOptions(
        tag=tag,
        scheduled_in_secs=scheduled_in_secs,
        scheduled_for=scheduled_for,
        parent_job=parent_job,
        retry=runs.retry_param(retry),
    )
    return await runs.start(request, script, opts, await runs.body_args(request))


@post("/api/w/{workspace:str}/jobs/run_wait_result/p/{path:path}", status_code=200)
async def run_wait_by_path(
    request: common.AnyRequest,
    workspace: FromPath[str],
    path: FromPath[str],
    tag: Tag = None,
    parent_job: ParentJob = None,
) -> Response[Any]:
    """Run a script and answer with its result (or its error, with a non-2xx status)."""
    script = await runs.script_for_run(request, workspace, path=common.path_param(path), hash_=None)
    return await runs.run_and_wait(
        request,
        script,
        runs.RunOptions(tag=tag, parent_job=parent_job),
        await runs.body_args(request),
    )


@post("/api/w/{workspace:str}/jobs/run_wait_result/h/{hash_:str}", status_code=200)
async def run_wait_by_hash(
    request: common.AnyRequest,
    workspace: FromPath[str],
    hash_: FromPath[str],
    tag: Tag = None,
    parent_job: ParentJob = None,
) -> Response[Any]:
    """Run one exact version and answer with its result."""
    script = await runs.script_for_run(request, workspace, path=None, hash_=hash_)
    return await runs.run_and_wait(
        request,
        script,
        runs.RunOptions(tag=tag, parent_job=parent_job),
        await runs.body_args(request),
    )


async def _preview(request: common.AnyRequest, workspace: str) -> previews.Preview:
    """The preview's body, once the caller may run code of its choosing at its path."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    body = common.decode(await request.body(), previews.Preview)
    auth.require_write(who, body.path or previews.default_path(who.username))
    return body


@post("/api/w/{workspace:str}/jobs/run/preview", status_code=201)
async def run_preview(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Run code without saving it (Windmill's preview); answers 201 with the job id as text.

    The body is Windmill's `Preview`: `{content, language, args, path?, tag?}`. The code
    is read and its dependencies locked as a save would, but no version is stored; the
    job runs at `path` (default `u/<caller>/preview`), which the caller must be able to
    write, since a preview runs code of the caller's choosing there.
    """
    body = await _preview(request, workspace)
    job_id = await previews.start(
        common.pool(request),
        workspace=workspace,
        preview=body,
        created_by=common.principal(request).username,
    )
    return Response(str(job_id), status_code=201, media_type="text/plain")


@post(
    [
        "/api/w/{workspace:str}/jobs/run_wait_result/preview",
        "/api/w/{workspace:str}/jobs/run_inline/preview",
    ],
    status_code=200,
)
async def run_wait_preview(request: common.AnyRequest, workspace: FromPath[str]) -> Response[Any]:
    """Run code without saving it and answer its result (its error, with a non-2xx status).

    `run_inline/preview` is what the `wmill` client calls on a local server
    (`wmill.run_inline_script_preview`); here it runs as a job like any other preview.
    """
    body = await _preview(request, workspace)
    pool = common.pool(request)
    job_id = queue.new_job_id()
    waiters = common.job_waiters(request)
    async with waiters.expect(job_id) as done:
        await previews.start(
            pool,
            workspace=workspace,
            preview=body,
            created_by=common.principal(request).username,
            job_id=job_id,
        )
        job = await waiters.wait_completed(pool, done, workspace=workspace, job_id=job_id)
    if job.status != "success":
        runs.raise_job_error(job)
    return common.json_response(job.result)


async def _readable_job(request: common.AnyRequest, workspace: str, job_id: str) -> models.Job:
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    job = await queue.get(
        common.pool(request), workspace=workspace, job_id=queue.parse_job_id(job_id)
    )
    auth.require_run(who, job.script_path, flow=job.kind == "flow")
    auth.require_read(who, job.script_path)  # `u/` privacy and folder grants cover runs too
    return job


@get("/api/w/{workspace:str}/jobs_u/get/{job_id:str}")
async def get_job(
    request: common.AnyRequest, workspace: FromPath[str], job_id: FromPath[str]
) -> dict[str, Any]:
    """A job in Windmill's shape, wherever it is in its life, with its failed attempts."""
    job = await _readable_job(request, workspace, job_id)
    body = render(job)
    if job.kind == "preview":
        body["raw_code"] = await queue.preview_code(
            common.pool(request), workspace=workspace, job_id=job.id
        )
    if job.kind == "flow" or job.parent_job is not None:
        step_id, status = await queue.flow_status(
            common.pool(request), workspace=workspace, job_id=job.id
        )
        body |= {"flow_step_id": step_id, "is_flow_step": step_id is not None}
        if status is not None:
            body["flow_status"] = flows.with_pending_urls(request, workspace, status)
    if job.retries:
        body["failed_attempts"] = await queue.attempts(common.pool(request), job.id)
    return body


@get("/api/w/{workspace:str}/jobs_u/completed/get_result/{job_id:str}")
async def get_result(
    request: common.AnyRequest, workspace: FromPath[str], job_id: FromPath[str]
) -> Response[Any]:
    """The result of a completed job (404 while it has not completed)."""
    job = await _readable_job(request, workspace, job_id)
    if not job.completed:
        raise errors.NotFound(f"job {job_id} has not completed yet")
    return common.json_response(job_result(job))


@get("/api/w/{workspace:str}/jobs_u/completed/get_result_maybe/{job_id:str}")
async def get_result_maybe(
    request: common.AnyRequest, workspace: FromPath[str], job_id: FromPath[str]
) -> dict[str, Any]:
    """Whether a job has started and completed, with its result once it has."""
    job = await _readable_job(request, workspace, job_id)
    return {
        "started": job.status != "queued",
        "completed": job.completed,
        "success": job.status == "success",
        "result": job_result(job) if job.completed else None,
    }


@post("/api/w/{workspace:str}/jobs_u/queue/cancel/{job_id:str}", status_code=200)
async def cancel_job(
    request: common.AnyRequest, workspace: FromPath[str], job_id: FromPath[str]
) -> Response[str]:
    """Cancel a queued job (it never runs) or a running one (its processes are killed)."""
    who = common.principal(request)
    job = await _readable_job(request, workspace, job_id)
    body = common.decode(await request.body(), CancelBody)
    reason = body.reason or "canceled by request"
    if job.completed or not await queue.cancel(
        common.pool(request), workspace=workspace, job_id=job.id, by=who.username, reason=reason
    ):
        raise errors.Conflict(f"job {job_id} has already completed")
    return Response(f"job {job_id} canceled", media_type="text/plain")


@get("/api/w/{workspace:str}/jobs/list")
async def list_jobs(
    request: common.AnyRequest,
    workspace: FromPath[str],
    script_path_exact: FromQuery[str | None] = None,
    schedule_path: FromQuery[str | None] = None,
    success: FromQuery[bool | None] = None,
    running: FromQuery[bool | None] = None,
    script_path_start: FromQuery[str | None] = None,
    created_by: FromQuery[str | None] = None,
    created_after: FromQuery[datetime | None] = None,
    created_before: FromQuery[datetime | None] = None,
    job_kinds: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    page: Annotated[int, QueryParameter(ge=1)] = 1,
    per_page: Annotated[int, QueryParameter(ge=1, le=1000)] = 30,
) -> list[dict[str, Any]]:
    """Jobs newest first, filtered as Windmill filters them, a page at a time.

    Args:
        request: The request.
        workspace: The workspace.
        script_path_exact: Only this script's jobs.
        schedule_path: Only the jobs this schedule started.
        success: Only ended jobs that succeeded (true) or did not (false: failed or canceled).
        running: Only running jobs (true) or jobs not running (false).
        script_path_start: Only scripts whose path starts with this (a folder: `f/ops/`).
        created_by: Only jobs this user (or `schedule:<path>`, ...) created.
        created_after: Only jobs created after this ISO 8601 time (UTC when no offset).
        created_before: Only jobs created before this ISO 8601 time (UTC when no offset).
        job_kinds: Comma-separated job kinds (`script`, `flow`, ...).
        status: Comma-separated statuses, any of queued, running, success, failure,
            canceled (a Tidemill extension: Windmill's `success` cannot tell a failure
            from a cancel, nor `running=false` a queued job from an ended one).
        page: The page, from 1.
        per_page: Jobs per page.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    if who.scopes is not None:
        if script_path_exact is None:
            raise errors.Forbidden("a scoped token must filter jobs by script_path_exact")
        auth.require_scope(
            who,
            *auth.run_scopes(script_path_exact, flow=False),
            f"run:flow/{script_path_exact}",
        )
    statuses = _csv(status)
    unknown = sorted(set(statuses or ()) - set(JOB_STATUSES))
    if unknown:
        raise errors.Invalid(
            f"unknown status {', '.join(unknown)}; use any of {', '.join(JOB_STATUSES)}",
            [{"path": "status", "message": f"one of {', '.join(JOB_STATUSES)}"}],
        )
    jobs = await queue.list_jobs(
        common.pool(request),
        workspace=workspace,
        script_path=script_path_exact,
        schedule_path=schedule_path,
        success=success,
        running=running,
        script_path_start=script_path_start,
        created_by=created_by,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
        statuses=statuses,
        kinds=_csv(job_kinds),
        page=page,
        per_page=per_page,
    )
    return [render(job) for job in jobs if auth.may_read(who, job.script_path)]


JOB_STATUSES: tuple[str, ...] = get_args(models.JobStatus)


def _csv(value: str | None) -> list[str] | None:
    """`a,b` as a list; None (no filter) when absent or empty."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def _utc(value: datetime | None) -> datetime | None:
    """A time without an offset is UTC (as Windmill reads it)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@get("/api/w/{workspace:str}/jobs_u/get_logs/{job_id:str}", media_type="text/plain")
async def get_logs(
    request: common.AnyRequest, workspace: FromPath[str], job_id: FromPath[str]
) -> str:
    """The job's output so far (readable while it runs)."""
    job = await _readable_job(request, workspace, job_id)
    return await queue.logs(common.pool(request), job.id)


@get("/api/w/{workspace:str}/jobs_u/getupdate/{job_id:str}")
async def get_update(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    log_offset: FromQuery[int] = 0,
) -> dict[str, Any]:
    """What changed since `log_offset`: new log text, and whether the job runs or ended."""
    job = await _readable_job(request, workspace, job_id)
    # only the chunks past the offset are read, not the whole log each poll
    tail = await queue.logs_from(common.pool(request), job.id, max(log_offset, 0))
    return {
        "running": job.status == "running",
        "completed": job.completed,
        "new_logs": tail.text,
        "log_offset": tail.offset,
    }


ROUTES = [
    run_preview,
    run_wait_preview,
    run_by_path,
    run_by_hash,
    run_wait_by_path,
    run_wait_by_hash,
    get_job,
    get_result,
    get_result_maybe,
    cancel_job,
    list_jobs,
    get_logs,
    get_update,
]
