"""Logging in, users and tokens."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import audit, auth, errors, models
from server.api import common


class LoginBody(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    password: str


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    password: str
    role: models.Role = "developer"


class NewToken(msgspec.Struct, frozen=True, kw_only=True):
    label: str = ""
    scopes: list[str] | None = None
    expires_in: int | None = None
    workspace_id: str | None = None


@post("/api/auth/login", exclude_from_auth=True, status_code=200)
async def login(request: common.AnyRequest) -> Response[str]:
    """Exchange a username and password for a token (text)."""
    body = common.decode(await request.body(), LoginBody)
    pool = common.pool(request)
    try:
        token = await auth.login(pool, body.username, body.password)
    except errors.Unauthorized:
        await audit.record(pool, body.username, "auth.login_failed")
        raise
    await audit.record(pool, body.username, "auth.login")
    return Response(token, media_type="text/plain")


@post("/api/users/create", status_code=201)
async def create_user(request: common.AnyRequest) -> Response[str]:
    """Admin only: add a user with a role (`admin`, `developer` or `operator`)."""
    who = common.principal(request)
    auth.require_role(who, "admin")
    body = common.decode(await request.body(), NewUser)
    pool = common.pool(request)
    await auth.create_user(pool, username=body.username, password=body.password, role=body.role)
    await audit.record(pool, who, "users.create", body.username, role=body.role)
    return Response(f"user {body.username} created", status_code=201, media_type="text/plain")


@post("/api/users/tokens/create", status_code=201)
async def create_token(request: common.AnyRequest) -> Response[str]:
    """A new token for the caller, optionally narrowed by scopes and an expiry (seconds)."""
    who = common.principal(request)
    body = common.decode(await request.body(), NewToken)
    if who.scopes is not None and (body.scopes is None or not set(body.scopes) <= set(who.scopes)):
        raise errors.Forbidden("a scoped token can only create tokens within its own scopes")
    token = auth.new_token()
    await auth.store_token(
        common.pool(request),
        token=token,
        username=who.username,
        label=body.label,
        scopes=body.scopes,
        workspace=body.workspace_id or who.workspace,
        expires_in_s=body.expires_in,
    )
    await audit.record(
        common.pool(request),
        who,
        "tokens.create",
        body.label,
        scopes=body.scopes,
        expires_in=body.expires_in,
    )
    return Response(token, status_code=201, media_type="text/plain")


def _whoami(who: models.Principal) -> dict[str, Any]:
    """The caller in the fields of Windmill's `GlobalUserInfo` and `User`, plus our role.

    Users have no email here, so `email` is null; `scopes` and `workspace_id` say how far
    the token reaches (null: unrestricted).
    """
    return {
        "username": who.username,
        "email": None,
        "role": who.role,
        "is_admin": who.role == "admin",
        "is_super_admin": who.role == "admin",
        "super_admin": who.role == "admin",
        "operator": who.role == "operator",
        "disabled": False,
        "scopes": None if who.scopes is None else list(who.scopes),
        "workspace_id": who.workspace,
        "job_id": None if who.job_id is None else str(who.job_id),
    }


@get("/api/users/whoami")
async def whoami(request: common.AnyRequest) -> dict[str, Any]:
    """Who the token belongs to: username, role, and the token's scopes and workspace."""
    return _whoami(common.principal(request))


@get("/api/w/{workspace:str}/users/whoami")
async def whoami_in_workspace(
    request: common.AnyRequest, workspace: FromPath[str]
) -> dict[str, Any]:
    """The same, for a workspace the token may reach (Windmill's workspace route)."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    return _whoami(who)


@get("/api/users/tokens/list")
async def list_tokens(request: common.AnyRequest) -> list[auth.TokenInfo]:
    """The caller's tokens: prefix, label, scopes and expiry (never the token itself)."""
    return await auth.list_tokens(common.pool(request), common.principal(request).username)


@delete("/api/users/tokens/delete/{prefix:str}", status_code=200)
async def delete_token(request: common.AnyRequest, prefix: FromPath[str]) -> Response[str]:
    """Revoke one of the caller's tokens by the prefix its listing shows."""
    who = common.principal(request)
    pool = common.pool(request)
    await auth.revoke_token(pool, who.username, prefix)
    await audit.record(pool, who, "tokens.delete", prefix)
    return Response(f"token {prefix} revoked", media_type="text/plain")


ROUTES = [
    login,
    whoami,
    whoami_in_workspace,
    create_user,
    create_token,
    list_tokens,
    delete_token,
]
