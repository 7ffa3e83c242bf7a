"""Health and workers: what an operator checks first."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import FromPath, FromQuery, QueryParameter

from server import audit, auth, models, queue
from server.api import common


@get("/api/health", exclude_from_auth=True)
async def health(request: common.AnyRequest) -> dict[str, str]:
    """Liveness and database reachability; the one route that needs no token."""
    await common.pool(request).fetchval("SELECT 1")
    return {"status": "ok"}


@get("/api/workers/list")
async def list_workers(request: common.AnyRequest) -> list[models.Worker]:
    """Workers that have pinged recently, with the job each is running."""
    config = common.config(request)
    return await queue.list_workers(common.pool(request), alive_within_s=config.lost_after_s)


@get("/api/w/{workspace:str}/audit/list")
async def list_audit(
    request: common.AnyRequest,
    workspace: FromPath[str],
    username: FromQuery[str | None] = None,
    operation: FromQuery[str | None] = None,
    page: Annotated[int, QueryParameter(ge=1)] = 1,
    per_page: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[audit.Entry]:
    """Admins only: saves, changes, secret reads, logins and runs, newest first."""
    who = common.principal(request)
    auth.require_role(who, "admin")
    auth.require_workspace(who, workspace)
    return await audit.entries(
        common.pool(request), username=username, action=operation, page=page, per_page=per_page
    )


ROUTES = [health, list_workers, list_audit]
