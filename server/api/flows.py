"""Flows over HTTP: Windmill's `flows/*` routes, OpenFlow bodies in JSON or YAML."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import audit, auth, errors, flows
from server.api import common


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


ROUTES = [create_flow, update_flow, get_flow, list_flows, delete_flow, flow_history]
