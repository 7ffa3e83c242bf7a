"""Resources on Windmill's routes: create, update_value, get, get_value, list, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import audit, auth, errors, resources, scripts, variables
from server.api import common
from server.api.variables import vault


class NewResource(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    value: Any
    resource_type: str = "object"
    description: str = ""


class ValueUpdate(msgspec.Struct, frozen=True, kw_only=True):
    value: Any


@post("/api/w/{workspace:str}/resources/create", status_code=201)
async def create_resource(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Create a resource: a typed JSON value, stored encrypted."""
    body = common.decode(await request.body(), NewResource)
    who = common.require_writer(request, workspace, scripts.check_path(body.path))
    if not await resources.save(
        common.pool(request),
        vault(request),
        workspace=workspace,
        path=body.path,
        resource_type=body.resource_type,
        value=body.value,
        description=body.description,
        created_by=who.username,
    ):
        raise errors.Conflict(f"resource {body.path!r} already exists; use update_value")
    await audit.record(
        common.pool(request), who, "resources.create", body.path, workspace=workspace
    )
    return Response(body.path, status_code=201, media_type="text/plain")


@post("/api/w/{workspace:str}/resources/update_value/{path:path}", status_code=200)
async def update_resource_value(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Replace a resource's value, keeping its type and description."""
    path = common.path_param(path)
    who = common.require_writer(request, workspace, path)
    body = common.decode(await request.body(), ValueUpdate)
    pool = common.pool(request)
    current = await resources.get(pool, workspace=workspace, path=path)
    await resources.save(
        pool,
        vault(request),
        workspace=workspace,
        path=path,
        resource_type=current.resource_type,
        value=body.value,
        description=current.description,
        created_by=who.username,
    )
    await audit.record(pool, who, "resources.update", path, workspace=workspace)
    return Response(path, media_type="text/plain")


@get("/api/w/{workspace:str}/resources/get/{path:path}")
async def get_resource(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> resources.Resource:
    """A resource's type and description (its value only through `get_value`)."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    return await resources.get(common.pool(request), workspace=workspace, path=path)


@get("/api/w/{workspace:str}/resources/get_value/{path:path}")
async def get_resource_value(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[bytes]:
    """The value as stored, references (`$var:`, `$res:`) left as they are."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    value = await resources.get_value(
        common.pool(request), vault(request), workspace=workspace, path=path
    )
    return common.json_response(value)


@get("/api/w/{workspace:str}/resources/get_value_interpolated/{path:path}")
async def get_resource_value_interpolated(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[bytes]:
    """The value with `$var:` and `$res:` references replaced, as the caller may read them."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    pool, keys = common.pool(request), vault(request)

    async def read_variable(ref: str) -> str:
        common.require_reader(request, workspace, ref)
        value, is_secret = await variables.reveal(pool, keys, workspace=workspace, path=ref)
        if is_secret:
            await auth.record_job_secret_read(pool, common.principal(request), ref)
        return value

    async def read_resource(ref: str) -> Any:
        common.require_reader(request, workspace, ref)
        return await resources.get_value(pool, keys, workspace=workspace, path=ref)

    value = await resources.get_value(pool, keys, workspace=workspace, path=path)
    resolved = await resources.resolve_references(
        value, read_variable=read_variable, read_resource=read_resource
    )
    return common.json_response(resolved)


@get("/api/w/{workspace:str}/resources/list")
async def list_resources(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[resources.Resource]:
    """Every resource the caller may read, without values."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    listed = await resources.list_all(common.pool(request), workspace=workspace)
    return [r for r in listed if auth.may_read(who, r.path)]


@delete("/api/w/{workspace:str}/resources/delete/{path:path}", status_code=200)
async def delete_resource(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    path = common.path_param(path)
    who = common.require_writer(request, workspace, path)
    await resources.delete(common.pool(request), workspace=workspace, path=path)
    await audit.record(common.pool(request), who, "resources.delete", path, workspace=workspace)
    return Response(f"resource {path} deleted", media_type="text/plain")


ROUTES = [
    create_resource,
    update_resource_value,
    get_resource,
    get_resource_value,
    get_resource_value_interpolated,
    list_resources,
    delete_resource,
]
