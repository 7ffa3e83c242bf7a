"""Variables on Windmill's routes: create, update, get, get_value, list, delete."""

from __future__ import annotations

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import audit, auth, errors, scripts, secrets, variables
from server.api import common


class NewVariable(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    value: str
    is_secret: bool = False
    description: str = ""


class VariableUpdate(msgspec.Struct, frozen=True, kw_only=True):
    value: str | None = None
    is_secret: bool | None = None
    description: str | None = None


def vault(request: common.AnyRequest) -> secrets.Vault:
    value: secrets.Vault = request.app.state.vault
    return value


@post("/api/w/{workspace:str}/variables/create", status_code=201)
async def create_variable(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Create a variable; `is_secret` ones are never shown again except by `get_value`."""
    body = common.decode(await request.body(), NewVariable)
    who = common.require_writer(request, workspace, scripts.check_path(body.path))
    if not await variables.save(
        common.pool(request),
        vault(request),
        workspace=workspace,
        path=body.path,
        value=body.value,
        is_secret=body.is_secret,
        description=body.description,
        created_by=who.username,
    ):
        raise errors.Conflict(f"variable {body.path!r} already exists; use variables/update")
    await audit.record(
        common.pool(request), who, "variables.create", body.path, workspace=workspace
    )
    return Response(body.path, status_code=201, media_type="text/plain")


@post("/api/w/{workspace:str}/variables/update/{path:path}", status_code=200)
async def update_variable(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Change a variable's value, secrecy or description (fields left out stay)."""
    path = common.path_param(path)
    who = common.require_writer(request, workspace, path)
    body = common.decode(await request.body(), VariableUpdate)
    pool, keys = common.pool(request), vault(request)
    current = await variables.get(pool, keys, workspace=workspace, path=path)
    value = body.value
    if value is None:
        value = await variables.get_value(pool, keys, workspace=workspace, path=path)
    await variables.save(
        pool,
        keys,
        workspace=workspace,
        path=path,
        value=value,
        is_secret=current.is_secret if body.is_secret is None else body.is_secret,
        description=current.description if body.description is None else body.description,
        created_by=who.username,
    )
    await audit.record(pool, who, "variables.update", path, workspace=workspace)
    return Response(path, media_type="text/plain")


@get("/api/w/{workspace:str}/variables/get/{path:path}")
async def get_variable(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> variables.Variable:
    """A variable; a secret's value is null here (use `get_value`)."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    return await variables.get(common.pool(request), vault(request), workspace=workspace, path=path)


@get("/api/w/{workspace:str}/variables/get_value/{path:path}")
async def get_variable_value(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[bytes]:
    """The value itself (JSON string), secret or not, to those who may read the path."""
    path = common.path_param(path)
    common.require_reader(request, workspace, path)
    pool = common.pool(request)
    value, is_secret = await variables.reveal(pool, vault(request), workspace=workspace, path=path)
    if is_secret:
        who = common.principal(request)
        await audit.record(pool, who, "variables.read_secret", path, workspace=workspace)
        await auth.record_job_secret_read(pool, who, path)  # a job's logs will mask it
    return common.json_response(value)


@get("/api/w/{workspace:str}/variables/list")
async def list_variables(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[variables.Variable]:
    """Every variable the caller may read; secret values are null."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    listed = await variables.list_all(common.pool(request), vault(request), workspace=workspace)
    return [v for v in listed if auth.may_read(who, v.path)]


@delete("/api/w/{workspace:str}/variables/delete/{path:path}", status_code=200)
async def delete_variable(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    path = common.path_param(path)
    who = common.require_writer(request, workspace, path)
    await variables.delete(common.pool(request), workspace=workspace, path=path)
    await audit.record(common.pool(request), who, "variables.delete", path, workspace=workspace)
    return Response(f"variable {path} deleted", media_type="text/plain")


ROUTES = [
    create_variable,
    update_variable,
    get_variable,
    get_variable_value,
    list_variables,
    delete_variable,
]
