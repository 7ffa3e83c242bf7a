"""Connections, the named-query loader and migrations.

Every runtime query lives in `server/sql/*.sql` under a `-- name: x` header; code
calls them by name (`db.query("lease_job")`), so the SQL can be read, reviewed
and EXPLAINed in one place. Migrations are numbered files applied in order
under an advisory lock, so any number of processes can start at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import asyncpg
import msgspec

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_246_118_001  # pg_advisory_lock key: "tidemill migrate"
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)

Pool = asyncpg.Pool
Connection = asyncpg.Connection
AnyConnection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
PostgresError = asyncpg.PostgresError

# what "the database is away" looks like: refused, dropped, shutting down or starting up.
# Callers wait and retry (workers) or answer 503 (the server); none of it is a bug.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    # asyncpg's "cannot switch to state N; another operation is in progress": a pooled
    # connection whose server went away mid-query (seen in tests/test_chaos.py)
    asyncpg.exceptions.InternalClientError,
)


@functools.cache
def queries() -> Mapping[str, str]:
    """All named queries, read once from the `.sql` files."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        parts = _NAME.split(path.read_text())
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in found:
                raise ValueError(f"query {name!r} is defined twice ({path.name})")
            found[name] = body.strip()
    return MappingProxyType(found)


def query(name: str) -> str:
    return queries()[name]


async def _init_connection(conn: AnyConnection) -> None:
    """JSON in and out as Python values, encoded by msgspec."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


async def connect(dsn: str) -> Connection:
    """A single connection with Tidemill's codecs, for LISTEN and one-off work."""
    conn: Connection = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def connect_when_up(dsn: str, *, give_up_after_s: float = 300.0) -> Connection:
    """A connection, waiting (with backoff) while the database is away, e.g. restarting.

    Raises:
        The last connection error, once `give_up_after_s` has passed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_s
    delay = 0.1
    while True:
        try:
            return await connect(dsn)
        except UNAVAILABLE as exc:
            if loop.time() > deadline:
                raise
            log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _keep_session(_conn: AnyConnection) -> None:
    """A connection goes back to the pool as it is, without asyncpg's reset query.

    That query (`UNLISTEN *`, `RESET ALL`, ...) is a round trip on every release: as
    many as the statements of a job's lease and end. Nothing leaves session state on
    a pooled connection (no `SET`, `LISTEN` or cursor; `migrate` releases its lock), and
    asyncpg still rolls back a transaction left open.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for each migration, in order."""
    found: list[tuple[int, str, str]] = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        if found and found[-1][0] == version:
            raise ValueError(f"migrations {found[-1][1]} and {path.stem} share version {version}")
        found.append((version, path.stem, path.read_text()))
    return found


async def migrate(conn: AnyConnection) -> list[str]:
    """Apply the migrations this database lacks; returns the names applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied


def record(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return None if row is None else dict(row.items())
