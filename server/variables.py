"""Variables: named values, plain or secret, readable by scripts through the API.

Every value is encrypted at rest; a secret's value is only ever returned by
`get_value`, never by a listing or `get`.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from server import db, errors, secrets


class Variable(msgspec.Struct, frozen=True, kw_only=True):
    """A variable as listed: a secret's value is left out."""

    path: str
    value: str | None
    is_secret: bool
    description: str
    created_by: str
    updated_at: datetime


def context(workspace: str, path: str) -> str:
    return f"variables/{workspace}/{path}"


def _listed(vault: secrets.Vault, workspace: str, row: asyncpg.Record) -> Variable:
    value = None
    if not row["is_secret"]:
        value = vault.decrypt(row["ciphertext"], context=context(workspace, row["path"])).decode()
    return Variable(
        path=row["path"],
        value=value,
        is_secret=row["is_secret"],
        description=row["description"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
    )


async def save(
    pool: db.Pool,
    vault: secrets.Vault,
    *,
    workspace: str,
    path: str,
    value: str,
    is_secret: bool,
    description: str,
    created_by: str,
) -> bool:
    """Create or replace a variable; True when it is new."""
    ciphertext = vault.encrypt(value.encode(), context=context(workspace, path))
    created = await pool.fetchval(
        db.query("upsert_variable"), workspace, path, ciphertext, is_secret, description, created_by
    )
    return bool(created)


async def _row(pool: db.Pool, workspace: str, path: str) -> asyncpg.Record:
    row = await pool.fetchrow(db.query("get_variable"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no variable {path!r} in workspace {workspace!r}")
    return row


async def get(pool: db.Pool, vault: secrets.Vault, *, workspace: str, path: str) -> Variable:
    return _listed(vault, workspace, await _row(pool, workspace, path))


async def reveal(
    pool: db.Pool, vault: secrets.Vault, *, workspace: str, path: str
) -> tuple[str, bool]:
    """The value, secret or not, and whether it is a secret: the one read that returns one."""
    row = await _row(pool, workspace, path)
    value = vault.decrypt(row["ciphertext"], context=context(workspace, path)).decode()
    return value, bool(row["is_secret"])


async def get_value(pool: db.Pool, vault: secrets.Vault, *, workspace: str, path: str) -> str:
    value, _ = await reveal(pool, vault, workspace=workspace, path=path)
    return value


async def list_all(pool: db.Pool, vault: secrets.Vault, *, workspace: str) -> list[Variable]:
    rows = await pool.fetch(db.query("list_variables"), workspace)
    return [_listed(vault, workspace, row) for row in rows]


async def delete(pool: db.Pool, *, workspace: str, path: str) -> None:
    if await pool.fetchval(db.query("delete_variable"), workspace, path) is None:
        raise errors.NotFound(f"no variable {path!r} in workspace {workspace!r}")
