"""Saving and reading scripts (`scripts/create`, `list`, `get/p`, `get/h`)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath

from server import audit, auth, errors, models, scripts
from server.api import common


def render(script: models.Script) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(script)
    body["workspace_id"] = body.pop("workspace")
    return body


@post("/api/w/{workspace:str}/scripts/create", status_code=201)
async def create_script(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Save a version of a script and answer with its hash (as text, like Windmill).

    The body is `{path, content, language, summary?, description?}` plus Windmill's
    settings (`timeout`, `tag`, `priority`, ...). The input schema is computed from
    `main`'s signature without running the script.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_role(who, "admin", "developer")
    new = common.decode(await request.body(), scripts.NewScript)
    auth.require_write(who, new.path)
    ceiling = common.config(request).max_timeout_s
    if new.timeout is not None and not 0 < new.timeout <= ceiling:
        raise errors.Invalid(
            f"timeout must be between 1 and {ceiling} seconds (TIDEMILL_MAX_TIMEOUT_S)",
            [{"path": "timeout", "message": f"must be between 1 and {ceiling}"}],
        )
    pool = common.pool(request)
    hash_ = await scripts.save(pool, workspace=workspace, new=new, created_by=who.username)
    await audit.record(pool, who, "scripts.create", new.path, workspace=workspace, hash=hash_)
    return Response(hash_, status_code=201, media_type="text/plain")


@get("/api/w/{workspace:str}/scripts/list")
async def list_scripts(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[models.ScriptHead]:
    """Every script path the caller may read, with its newest version, by path."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    heads = await scripts.list_heads(common.pool(request), workspace=workspace)
    return [head for head in heads if auth.may_read(who, head.path)]


@get("/api/w/{workspace:str}/scripts/get/p/{path:path}")
async def get_by_path(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> dict[str, Any]:
    """The newest version of a script, with its schema."""
    path = common.path_param(path)
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_read(who, path)
    return render(await scripts.get_by_path(common.pool(request), workspace=workspace, path=path))


@get("/api/w/{workspace:str}/scripts/get/h/{hash_:str}")
async def get_by_hash(
    request: common.AnyRequest, workspace: FromPath[str], hash_: FromPath[str]
) -> dict[str, Any]:
    """One exact version of a script."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    script = await scripts.get_by_hash(common.pool(request), workspace=workspace, hash_=hash_)
    auth.require_read(who, script.path)
    return render(script)


@get("/api/w/{workspace:str}/scripts/history/p/{path:path}")
async def history(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> list[scripts.Version]:
    """Every version saved at a path, newest first; each stays runnable by its hash."""
    path = common.path_param(path)
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_read(who, path)
    return await scripts.history(common.pool(request), workspace=workspace, path=path)


ROUTES = [create_script, list_scripts, get_by_path, get_by_hash, history]
