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


async def principal(pool: db.Pool, token: str | None) -> models.Principal:
    """The principal behind a bearer token, or Unauthorized."""
    if not token:
        raise errors.Unauthorized("missing token: send 'Authorization: Bearer <token>'")
    row = await pool.fetchrow(db.query("token_principal"), queue.token_hash(token))
    if row is None:
        raise errors.Unauthorized("invalid or expired token")
    values: dict[str, Any] = dict(row.items())
    if values["scopes"] is not None:
        values["scopes"] = tuple(values["scopes"])
    return msgspec.convert(values, models.Principal)


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


def require_scope(who: models.Principal, scope: str) -> None:
    """A token with scopes may do only what one of them names (`run:f/x/y`, `run:*`)."""
    if who.scopes is None:
        return
    kind = scope.split(":", 1)[0]
    if scope in who.scopes or f"{kind}:*" in who.scopes:
        return
    raise errors.Forbidden(f"this token's scopes do not include {scope!r}")


def _owner(path: str) -> str | None:
    """`u/<user>/...` belongs to that user; `f/...` is shared in the workspace."""
    parts = path.split("/", 2)
    return parts[1] if parts[0] == "u" and len(parts) > 1 else None


def may_read(who: models.Principal, path: str) -> bool:
    owner = _owner(path)
    return owner is None or owner == who.username or who.role == "admin"


def require_read(who: models.Principal, path: str) -> None:
    if not may_read(who, path):
        raise errors.Forbidden(f"{path!r} is private to {_owner(path)!r}")


def require_write(who: models.Principal, path: str) -> None:
    """Writes need the developer or admin role, a matching scope, and ownership of `u/` paths."""
    require_role(who, "admin", "developer")
    require_scope(who, f"write:{path}")
    require_read(who, path)
