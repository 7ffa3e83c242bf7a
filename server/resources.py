"""Resources: typed JSON values (a database's connection, an API's credentials).

A resource's fields may point at variables (`"$var:f/db/password"`) or other
resources (`"$res:f/db/main"`); `interpolated` resolves them, so a password
can live in one secret and be shared by many resources.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from server import db, errors, secrets

MAX_DEPTH = 10


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource as listed: its value is left out (it usually holds credentials)."""

    path: str
    resource_type: str
    description: str
    created_by: str
    updated_at: datetime


def context(workspace: str, path: str) -> str:
    return f"resources/{workspace}/{path}"


async def save(
    pool: db.Pool,
    vault: secrets.Vault,
    *,
    workspace: str,
    path: str,
    resource_type: str,
    value: Any,
    description: str,
    created_by: str,
) -> bool:
    """Create or replace a resource; True when it is new."""
    ciphertext = vault.encrypt(msgspec.json.encode(value), context=context(workspace, path))
    created = await pool.fetchval(
        db.query("upsert_resource"),
        workspace,
        path,
        resource_type,
        ciphertext,
        description,
        created_by,
    )
    return bool(created)


async def _row(pool: db.Pool, workspace: str, path: str) -> asyncpg.Record:
    row = await pool.fetchrow(db.query("get_resource"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no resource {path!r} in workspace {workspace!r}")
    return row


def _listed(row: asyncpg.Record) -> Resource:
    return Resource(
        path=row["path"],
        resource_type=row["resource_type"],
        description=row["description"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
    )


async def get(pool: db.Pool, *, workspace: str, path: str) -> Resource:
    return _listed(await _row(pool, workspace, path))


async def list_all(pool: db.Pool, *, workspace: str) -> list[Resource]:
    return [_listed(row) for row in await pool.fetch(db.query("list_resources"), workspace)]


async def get_value(pool: db.Pool, vault: secrets.Vault, *, workspace: str, path: str) -> Any:
    row = await _row(pool, workspace, path)
    return msgspec.json.decode(vault.decrypt(row["ciphertext"], context=context(workspace, path)))


Reader = Callable[[str], Coroutine[Any, Any, Any]]


async def resolve_references(
    value: Any, *, read_variable: Reader, read_resource: Reader, depth: int = 0
) -> Any:
    """Replace `$var:path` and `$res:path` strings, however deeply nested, by their values.

    The readers decide who may read what, so the caller's permissions apply.
    """
    if depth > MAX_DEPTH:
        raise errors.Invalid("resource references nest too deeply (a cycle?)")
    if isinstance(value, str):
        if value.startswith("$var:"):
            return await read_variable(value.removeprefix("$var:"))
        if value.startswith("$res:"):
            inner = await read_resource(value.removeprefix("$res:"))
            return await resolve_references(
                inner, read_variable=read_variable, read_resource=read_resource, depth=depth + 1
            )
        return value
    if isinstance(value, dict):
        return {
            key: await resolve_references(
                item, read_variable=read_variable, read_resource=read_resource, depth=depth
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            await resolve_references(
                item, read_variable=read_variable, read_resource=read_resource, depth=depth
            )
            for item in value
        ]
    return value


async def delete(pool: db.Pool, *, workspace: str, path: str) -> None:
    if await pool.fetchval(db.query("delete_resource"), workspace, path) is None:
        raise errors.NotFound(f"no resource {path!r} in workspace {workspace!r}")
