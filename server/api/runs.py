"""Starting runs of scripts and flows over HTTP: the shared path of the run routes, webhooks
and custom routes.

Every way in ends here, so arguments are validated, scopes checked and sync
waits done the same way whichever route a caller used.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from uuid import UUID

import msgspec
from litestar import Response

from server import arguments, auth, errors, flows, models, queue, references, scripts
from server.api import common


async def script_for_run(
    request: common.AnyRequest, workspace: str, *, path: str | None, hash_: str | None
) -> models.Script:
    """The version to run, once the caller's workspace and scopes allow it."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    pool = common.pool(request)
    if path is not None:
        script = await scripts.get_by_path(pool, workspace=workspace, path=path)
    else:
        assert hash_ is not None
        script = await scripts.get_by_hash(pool, workspace=workspace, hash_=hash_)
    auth.require_run(who, script.path, flow=False)
    auth.require_read(who, script.path)
    return script


async def flow_for_run(request: common.AnyRequest, workspace: str, path: str) -> flows.Flow:
    """The flow to run, once the caller's workspace and scopes allow it."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    flow = await flows.get(common.pool(request), workspace=workspace, path=path)
    auth.require_run(who, flow.path, flow=True)
    auth.require_read(who, flow.path)
    return flow


async def target_at(request: common.AnyRequest, workspace: str, path: str) -> flows.Runnable:
    """The script at `path`, else the flow there: what `webhooks/{path}` runs."""
    try:
        return await script_for_run(request, workspace, path=path, hash_=None)
    except errors.NotFound:
        try:
            return await flow_for_run(request, workspace, path)
        except errors.NotFound:
            raise errors.NotFound(
                f"no script or flow at {path!r} in workspace {workspace!r}"
            ) from None


class RunOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The query parameters of the run routes (the ones the `wmill` client sends)."""

    tag: str | None = None
    scheduled_in_secs: int | None = None
    scheduled_for: datetime | None = None
    parent_job: UUID | None = None
    retry: models.RetryPolicy | None = None

    def start_at(self) -> datetime | None:
        if self.scheduled_in_secs:
            return datetime.now(UTC) + timedelta(seconds=self.scheduled_in_secs)
        return self.scheduled_for


def retry_param(text: str | None) -> models.RetryPolicy | None:
    """The `retry` query parameter the `wmill` client sends: a JSON retry policy."""
    if not text:
        return None
    try:
        return msgspec.json.decode(text, type=models.RetryPolicy)
    except msgspec.ValidationError as exc:
        raise errors.Invalid(f"retry: {exc}", [{"path": "retry", "message": str(exc)}]) from None
    except msgspec.DecodeError:
        raise errors.BadRequest("the retry parameter is not valid JSON") from None


async def body_args(request: common.AnyRequest) -> dict[str, Any]:
    return common.decode_args(await request.body())


async def _enqueue(
    request: common.AnyRequest,
    target: flows.Runnable,
    job_id: models.JobId,
    opts: RunOptions,
    args: dict[str, Any],
    created_by: str | None,
) -> None:
    if created_by is None:  # the caller runs it: its token may read what the arguments name
        references.check_caller(common.principal(request), args)
    starter = created_by or common.principal(request).username
    args = arguments.validate(flows.input_schema(target), args)
    if isinstance(target, flows.Flow):
        # a flow starts at once; its steps carry their own retries
        await queue.enqueue_flow(
            common.pool(request),
            job_id=job_id,
            flow=target,
            args=args,
            created_by=starter,
            tag=opts.tag,
        )
        return
    await queue.enqueue(
        common.pool(request),
        job_id=job_id,
        script=target,
        args=args,
        created_by=starter,
        tag=opts.tag,
        scheduled_for=opts.start_at(),
        parent_job=opts.parent_job,
        retry=opts.retry,
    )


async def start(
    request: common.AnyRequest,
    target: flows.Runnable,
    opts: RunOptions,
    args: dict[str, Any],
    *,
    created_by: str | None = None,
    status_code: int = 201,
) -> Response[str]:
    """Queue a run; answers the job id as text, as Windmill does.

    `created_by` defaults to the caller; public routes run as their owner.
    """
    job_id = queue.new_job_id()
    await _enqueue(request, target, job_id, opts, args, created_by)
    return Response(str(job_id), status_code=status_code, media_type="text/plain")


async def run_and_wait(
    request: common.AnyRequest, target: flows.Runnable, opts: RunOptions, args: dict[str, Any]
) -> Response[bytes]:
    """Queue a run and answer its result (its error, with a non-2xx status, if it failed)."""
    job = await finished_job(request, target, opts, args)
    if job.status != "success":
        raise_job_error(job)
    return common.json_response(job.result)


def raise_job_error(job: models.Job) -> NoReturn:
    """A failed or canceled job as the error a sync caller receives."""
    error = msgspec.to_builtins(job.error) if job.error else {}
    details = {**error, "job_id": str(job.id)}
    if job.status == "canceled":
        raise errors.JobCanceled(error.get("message", "the job was canceled"), details)
    raise errors.JobFailed(f"{error.get('name', 'Error')}: {error.get('message', '')}", details)


async def finished_job(
    request: common.AnyRequest,
    target: flows.Runnable,
    opts: RunOptions,
    args: dict[str, Any],
    *,
    created_by: str | None = None,
) -> models.Job:
    """Queue a run and wait, on a notification, for it to complete."""
    job_id = queue.new_job_id()
    waiters = common.job_waiters(request)
    async with waiters.expect(job_id) as done:
        await _enqueue(request, target, job_id, opts, args, created_by)
        return await waiters.wait_completed(
            common.pool(request), done, workspace=target.workspace, job_id=job_id
        )
