"""Tokens and passwords: who is calling, and what they may do.

Tokens are random and high-entropy, so a sha256 is enough to store them
safely and keeps the per-request check to one indexed lookup; passwords are
low-entropy, so they get argon2.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server import db, errors, models, queue

PREFIX_LENGTH = 10  # shown in listings: enough to tell tokens apart, useless to an attacker
TOKEN_PREFIX = "tm_"  # noqa: S105 - a prefix, not a secret
_hasher = PasswordHasher()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _principal(row: Any) -> models.Principal:
    values: dict[str, Any] = dict(row.items())
    if values["scopes"] is not None:
        values["scopes"] = tuple(values["scopes"])
    values["grantees"] = tuple(values["grantees"] or ())
    values["folders"] = values["folders"] or {}
    return msgspec.convert(values, models.Principal)


async def principal(
    pool: db.Pool, token: str | None, workspace: str | None = None
) -> models.Principal:
    """The principal behind a bearer token, or Unauthorized.

    Its folder grants are those of `workspace` (the request's), else the token's.
    """
    if not token:
        raise errors.Unauthorized("missing token: send 'Authorization: Bearer <token>'")
    row = await pool.fetchrow(db.query("token_principal"), queue.token_hash(token), workspace)
    if row is None:
        raise errors.Unauthorized("invalid or expired token")
    return _principal(row)


async def user_principal(pool: db.Pool, username: str, workspace: str) -> models.Principal:
    """A user acting in `workspace` with its own rights (a job's starter, for its arguments)."""
    row = await pool.fetchrow(db.query("user_principal"), username, workspace)
    if row is None:
        raise errors.Forbidden(f"user {username!r} no longer exists")
    return _principal(row)


async def record_job_secret_read(pool: db.Pool, who: models.Principal, path: str) -> None:
    """A job read secret `path` with its token: its worker will mask the value in its logs."""
    if who.job_id is not None:
        await pool.execute(db.query("record_job_secret_read"), who.job_id, path)


async def job_secret_reads(pool: db.Pool, job_id: models.JobId) -> list[str]:
    """The paths of the secret variables a running job has read through the API."""
    paths: list[str] = await pool.fetchval(db.query("job_secret_reads"), job_id)
    return paths


async def store_token(
    pool: db.Pool,
    *,
    token: str,
    username: str,
    label: str = "",
    scopes: list[str] | None = None,
    workspace: str | None = None,
    expires_in_s: int | None = None,
) -> None:
    expires_at = (
        None if expires_in_s is None else datetime.now(UTC) + timedelta(seconds=expires_in_s)
    )
    await pool.execute(
        db.query("insert_token"),
        queue.token_hash(token),
        username,
        label,
        scopes,
        workspace,
        expires_at,
        token[:PREFIX_LENGTH],
    )


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token as its owner sees it listed: never the token itself."""

    prefix: str
    label: str
    scopes: list[str] | None
    workspace: str | None
    expires_at: datetime | None
    created_at: datetime


async def list_tokens(pool: db.Pool, username: str) -> list[TokenInfo]:
    rows = await pool.fetch(db.query("list_tokens"), username)
    return [msgspec.convert(dict(r.items()), TokenInfo) for r in rows]


async def revoke_token(pool: db.Pool, username: str, prefix: str) -> None:
    if await pool.fetchval(db.query("delete_token"), username, prefix) is None:
        raise errors.NotFound(f"no token of yours starts with {prefix!r}")


async def login(pool: db.Pool, username: str, password: str) -> str:
    """A fresh token for a user whose password matches."""
    row = await pool.fetchrow(db.query("get_user"), username)
    if row is None or not password_matches(row["password_hash"], password):
        raise errors.Unauthorized("wrong username or password")
    token = new_token()
    await store_token(pool, token=token, username=username, label="login", expires_in_s=7 * 86400)
    return token


async def create_user(pool: db.Pool, *, username: str, password: str, role: models.Role) -> None:
    created = await pool.fetchval(db.query("create_user"), username, hash_password(password), role)
    if created is None:
        raise errors.Conflict(f"user {username!r} already exists")


def require_role(who: models.Principal, *roles: models.Role) -> None:
    if who.role not in roles:
        raise errors.Forbidden(f"role {who.role!r} may not do this; needs {' or '.join(roles)}")


def require_workspace(who: models.Principal, workspace: str) -> None:
    """A job token (or a workspace-bound token) reaches only its own workspace."""
    if who.workspace is not None and who.workspace != workspace:
        raise errors.Forbidden(f"this token is limited to workspace {who.workspace!r}")


def require_scope(who: models.Principal, scope: str, *alternatives: str) -> None:
    """A token with scopes may do only what one of them names (`run:f/x/y`, `run:*`)."""
    if who.scopes is None:
        return
    for wanted in (scope, *alternatives):
        kind = wanted.split(":", 1)[0]
        if wanted in who.scopes or f"{kind}:*" in who.scopes:
            return
    raise errors.Forbidden(f"this token's scopes do not include {scope!r}")


def run_scopes(path: str, *, flow: bool) -> tuple[str, str]:
    """The scopes that let a token run a script or a flow at `path` (and read its runs).

    Windmill's webhook tokens carry `run:script/<path>` or `run:flow/<path>`, which name
    one kind only; `run:<path>` names whichever of the two is at the path.
    """
    return (f"run:flow/{path}" if flow else f"run:script/{path}", f"run:{path}")


def require_run(who: models.Principal, path: str, *, flow: bool) -> None:
    """The token may run the script (or, with `flow`, the flow) at `path`."""
    require_scope(who, *run_scopes(path, flow=flow))


def _owner(path: str) -> str | None:
    """`u/<user>/...` belongs to that user; `f/...` is shared in the workspace."""
    parts = path.split("/", 2)
    return parts[1] if parts[0] == "u" and len(parts) > 1 else None


def _folder(path: str) -> str | None:
    parts = path.split("/", 2)
    return parts[1] if parts[0] == "f" and len(parts) > 1 else None


def folder_access(who: models.Principal, path: str) -> models.FolderAccess:
    """What `who` may do under `path`'s owner: its own `u/`, a folder's grants, else all.

    A folder nobody created (no row) is shared by the whole workspace, as before
    folders existed; a created folder is restricted to its owners and grantees.
    """
    if who.role == "admin":
        return "write"
    owner = _owner(path)
    if owner is not None:
        return "write" if owner == who.username else "none"
    folder = _folder(path)
    if folder is None:
        return "write"
    return who.folders.get(folder, "write")


def may_read(who: models.Principal, path: str) -> bool:
    return folder_access(who, path) != "none"


def require_read(who: models.Principal, path: str) -> None:
    if not may_read(who, path):
        owner = _owner(path)
        if owner is not None:
            raise errors.Forbidden(f"{path!r} is private to {owner!r}")
        raise errors.Forbidden(f"folder {_folder(path)!r} is not shared with {who.username!r}")


def require_write(who: models.Principal, path: str) -> None:
    """Writes need the developer or admin role, a matching scope, and write access to the
    path: its `u/` owner, or a grant of write on its folder when the folder is restricted."""
    require_role(who, "admin", "developer")
    require_scope(who, f"write:{path}")
    require_read(who, path)
    if folder_access(who, path) != "write":
        raise errors.Forbidden(f"{who.username!r} may read but not write folder {_folder(path)!r}")
