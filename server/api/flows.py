"""Flows over HTTP: Windmill's `flows/*` routes, OpenFlow bodies in JSON or YAML."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, delete, get, post, route
from litestar.params import FromPath, FromQuery

from server import approvals, audit, auth, errors, flows, models, queue
from server.api import common, runs
from server.api.variables import vault


def render(flow: flows.Flow) -> dict[str, Any]:
    """A version in Windmill's Flow shape: the document plus who saved it, and when."""
    body: dict[str, Any] = msgspec.to_builtins(flow)
    body["workspace_id"] = body.pop("workspace")
    return body


async def _save(
    request: common.AnyRequest, workspace: str, path: str | None, *, create: bool
) -> tuple[str, int]:
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_role(who, "admin", "developer")
    document, raw = flows.parse(await request.body(), request.headers.get("content-type", ""))
    target = path if path is not None else document.path
    if not target:
        raise errors.Invalid("a flow needs a path", [{"path": "path", "message": "required"}])
    auth.require_write(who, target)
    pool = common.pool(request)
    version = await flows.save(
        pool,
        workspace=workspace,
        path=target,
        raw=raw,
        flow=document,
        created_by=who.username,
        create=create,
    )
    action = "flows.create" if create else "flows.update"
    await audit.record(pool, who, action, target, workspace=workspace, version=version)
    return target, version


@post("/api/w/{workspace:str}/flows/create", status_code=201)
async def create_flow(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Save a new flow (`{path, summary, description, schema, value}`); answers its path."""
    path, _version = await _save(request, workspace, None, create=True)
    return Response(path, status_code=201, media_type="text/plain")


@post("/api/w/{workspace:str}/flows/update/{path:path}", status_code=200)
async def update_flow(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Save a new version of an existing flow; answers its path."""
    saved, _version = await _save(request, workspace, common.path_param(path), create=False)
    return Response(saved, media_type="text/plain")


@get("/api/w/{workspace:str}/flows/get/{path:path}")
async def get_flow(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> dict[str, Any]:
    """The newest version of a flow, as it was saved."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    return render(await flows.get(common.pool(request), workspace=workspace, path=path))


@get("/api/w/{workspace:str}/flows/list")
async def list_flows(request: common.AnyRequest, workspace: FromPath[str]) -> list[flows.FlowHead]:
    """Every flow the caller may read, with its newest version, by path."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    heads = await flows.list_heads(common.pool(request), workspace=workspace)
    return [head for head in heads if auth.may_read(who, head.path)]


@delete("/api/w/{workspace:str}/flows/delete/{path:path}", status_code=200)
async def delete_flow(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Remove a flow's path; its versions stay for the runs that used them."""
    path = common.path_param(path)
    who = common.require_writer(request, workspace, path)
    auth.require_role(who, "admin", "developer")
    pool = common.pool(request)
    await flows.delete(pool, workspace=workspace, path=path)
    await audit.record(pool, who, "flows.delete", path, workspace=workspace)
    return Response(f"flow {path} deleted", media_type="text/plain")


@get("/api/w/{workspace:str}/flows/history/p/{path:path}")
async def flow_history(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> list[flows.FlowVersion]:
    """Every version saved at a path, newest first."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    return await flows.history(common.pool(request), workspace=workspace, path=path)


@post("/api/w/{workspace:str}/jobs/run/f/{path:path}", status_code=201)
async def run_flow(
    request: common.AnyRequest,
    workspace: FromPath[str],
    path: FromPath[str],
    tag: FromQuery[str | None] = None,
) -> Response[str]:
    """Start a run of the newest version of a flow; answers 201 with the job id as text.

    The input is checked against the flow's schema first (422).
    """
    flow = await runs.flow_for_run(request, workspace, common.path_param(path))
    return await runs.start(request, flow, runs.RunOptions(tag=tag), await runs.body_args(request))


@post("/api/w/{workspace:str}/jobs/run_wait_result/f/{path:path}", status_code=200)
async def run_flow_and_wait(
    request: common.AnyRequest,
    workspace: FromPath[str],
    path: FromPath[str],
    tag: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Run a flow and answer its result (its error, with a non-2xx status, if it failed)."""
    flow = await runs.flow_for_run(request, workspace, common.path_param(path))
    opts = runs.RunOptions(tag=tag)
    return await runs.run_and_wait(request, flow, opts, await runs.body_args(request))


@post("/api/w/{workspace:str}/jobs/restart/f/{job_id:str}/from/{step_id:str}", status_code=201)
async def restart_flow(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    step_id: FromPath[str],
) -> Response[str]:
    """Re-run a finished flow from one of its steps, reusing the earlier steps' results.

    The new run uses the same flow version and input; answers its job id as text.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    pool = common.pool(request)
    old = await queue.get(pool, workspace=workspace, job_id=queue.parse_job_id(job_id))
    auth.require_run(who, old.script_path, flow=True)
    auth.require_read(who, old.script_path)
    new_id = await queue.restart_flow(
        pool, workspace=workspace, job_id=old.id, step_id=step_id, created_by=who.username
    )
    return Response(str(new_id), status_code=201, media_type="text/plain")


def _signing_key(request: common.AnyRequest, workspace: str) -> bytes:
    return approvals.workspace_key(vault(request).derive("resume urls"), workspace)


def resume_urls_for(
    request: common.AnyRequest,
    workspace: str,
    job_id: str,
    resume_id: int,
    approver: str | None = None,
) -> dict[str, str]:
    return approvals.urls(
        _signing_key(request, workspace),
        base_url=common.config(request).base_url,
        workspace=workspace,
        job_id=job_id,
        resume_id=resume_id,
        approver=approver,
    )


def with_pending_urls(
    request: common.AnyRequest, workspace: str, status: dict[str, Any]
) -> dict[str, Any]:
    """A flow status whose waiting (suspended) steps show their resume and cancel URLs."""
    for module in status.get("modules", []):
        if module.get("type") == "WaitingForEvents" and module.get("job"):
            module["resume_urls"] = resume_urls_for(request, workspace, module["job"], 0)
    return status


def _resume_id(text: str) -> int:
    """Windmill's nonce: an unsigned 32-bit number."""
    if not text.isdigit() or int(text) >= 2**32:
        raise errors.NotFound(f"no resume id {text!r}: expected a number below 2^32")
    return int(text)


@get("/api/w/{workspace:str}/jobs/resume_urls/{job_id:str}/{resume_id:str}")
async def get_resume_urls(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    resume_id: FromPath[str],
    approver: FromQuery[str | None] = None,
) -> dict[str, str]:
    """Signed `{approvalPage, resume, cancel}` URLs for a step's job and a nonce.

    What the `wmill` client's `get_resume_urls()` calls from inside the step.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    job = await queue.get(
        common.pool(request), workspace=workspace, job_id=queue.parse_job_id(job_id)
    )
    auth.require_run(who, job.script_path, flow=job.kind == "flow")
    return resume_urls_for(request, workspace, str(job.id), _resume_id(resume_id), approver)


async def _use_resume_url(
    request: common.AnyRequest,
    workspace: str,
    job_id: str,
    resume_id: str,
    signature: str,
    approver: str | None,
    *,
    approved: bool,
) -> Response[str]:
    step = queue.parse_job_id(job_id)
    nonce = _resume_id(resume_id)
    approvals.verify(_signing_key(request, workspace), str(step), nonce, approver, signature)
    payload = common.decode_args(await request.body()) if request.method == "POST" else {}
    await queue.resume(
        common.pool(request),
        workspace=workspace,
        job_id=step,
        resume_id=nonce,
        approver=approver,
        approved=approved,
        payload=payload,
    )
    return Response("resumed" if approved else "canceled", media_type="text/plain")


@route(
    "/api/w/{workspace:str}/jobs_u/resume/{job_id:str}/{resume_id:str}/{signature:str}",
    http_method=["GET", "POST"],
    status_code=200,
    exclude_from_auth=True,
)
async def resume_suspended(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    resume_id: FromPath[str],
    signature: FromPath[str],
    approver: FromQuery[str | None] = None,
) -> Response[str]:
    """Approve a suspended step (signed URL, no token); a POST body is the resume form.

    The form is checked against the step's `resume_form` schema (422) and reaches
    later steps as `resume`. Using the same URL again changes nothing.
    """
    return await _use_resume_url(
        request, workspace, job_id, resume_id, signature, approver, approved=True
    )


@route(
    "/api/w/{workspace:str}/jobs_u/cancel/{job_id:str}/{resume_id:str}/{signature:str}",
    http_method=["GET", "POST"],
    status_code=200,
    exclude_from_auth=True,
)
async def cancel_suspended(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    resume_id: FromPath[str],
    signature: FromPath[str],
    approver: FromQuery[str | None] = None,
) -> Response[str]:
    """Refuse a suspended step (signed URL, no token): its flow fails (or goes on, if so set)."""
    return await _use_resume_url(
        request, workspace, job_id, resume_id, signature, approver, approved=False
    )


@get(
    "/api/w/{workspace:str}/jobs_u/get_flow/{job_id:str}/{resume_id:str}/{signature:str}",
    exclude_from_auth=True,
)
async def get_suspended_flow(
    request: common.AnyRequest,
    workspace: FromPath[str],
    job_id: FromPath[str],
    resume_id: FromPath[str],
    signature: FromPath[str],
    approver: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The flow a signed resume URL belongs to: what the approval page shows.

    Signed like the resume and cancel URLs (no token): who may approve the step may see
    the flow run it stops, as on Windmill's approval page: its input, its steps' states
    and the waiting step's result (not the other steps' results). Answers `{job, step_id,
    step_job, resume_form, required_events}`; `job` is the step's flow run with its
    `flow_status` and the flow version's document as `raw_flow`.
    """
    step = queue.parse_job_id(job_id)
    approvals.verify(
        _signing_key(request, workspace), str(step), _resume_id(resume_id), approver, signature
    )
    pool = common.pool(request)
    step_job = await queue.get(pool, workspace=workspace, job_id=step)
    step_id, _none = await queue.flow_status(pool, workspace=workspace, job_id=step)
    if step_job.parent_job is None or step_id is None:
        raise errors.NotFound(f"job {job_id} is not a step of a flow")
    parent_id = models.JobId(step_job.parent_job)
    parent = await queue.get(pool, workspace=workspace, job_id=parent_id)
    _step, status = await queue.flow_status(pool, workspace=workspace, job_id=parent_id)
    for other in (status or {}).get("modules", []):
        if other.get("id") != step_id:
            other.pop("result", None)  # the link shows the waiting step's result only
    flow = await flows.get_version(pool, workspace=workspace, version_id=int(parent.script_hash))
    module = next((m for m in flows.all_modules(flow.definition) if m.id == step_id), None)
    suspend = module.suspend if module is not None else None
    form = suspend.resume_form if suspend is not None else None
    return {
        "job": {
            "id": str(parent.id),
            "script_path": flow.path,
            "status": parent.status,
            "args": parent.args,
            "created_by": parent.created_by,
            "created_at": parent.created_at,
            "flow_status": status,
            "raw_flow": flow.value,
            "summary": flow.summary,
        },
        "step_id": step_id,
        "step_job": str(step),
        "resume_form": form.schema if form is not None else None,
        "required_events": suspend.required_events if suspend is not None else 1,
    }


ROUTES = [
    get_resume_urls,
    get_suspended_flow,
    resume_suspended,
    cancel_suspended,
    restart_flow,
    create_flow,
    update_flow,
    get_flow,
    list_flows,
    delete_flow,
    flow_history,
    run_flow,
    run_flow_and_wait,
]
