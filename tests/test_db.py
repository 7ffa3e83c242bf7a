"""The schema and the named queries, against a real PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from server import db
from tests.conftest import with_database


async def test_migrations_are_idempotent(dsn: str) -> None:
    conn = await db.connect(dsn)
    try:
        assert await db.migrate(conn) == []  # the template is already migrated
        versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert versions == len(db.migration_files())
    finally:
        await conn.close()


async def test_migrations_apply_to_an_empty_database(pg_server: str) -> None:
    admin = await asyncpg.connect(pg_server)
    await admin.execute("CREATE DATABASE tidemill_empty_check")
    try:
        conn = await db.connect(with_database(pg_server, "tidemill_empty_check"))
        try:
            applied = await db.migrate(conn)
            assert applied == [name for _, name, _ in db.migration_files()]
        finally:
            await conn.close()
    finally:
        await admin.execute("DROP DATABASE tidemill_empty_check WITH (FORCE)")
        await admin.close()


@pytest.mark.parametrize("name", sorted(db.queries()))
async def test_every_named_query_prepares(dsn: str, name: str) -> None:
    """A typo in any query fails here, not in production."""
    conn = await db.connect(dsn)
    try:
        await conn.prepare(db.query(name))
    finally:
        await conn.close()


async def test_lease_uses_the_partial_index(dsn: str) -> None:
    """The lease must stay an index scan however large `completed` grows."""
    conn = await db.connect(dsn)
    try:
        await conn.execute("SET enable_seqscan = off")
        # a lease with no job in hand to end: $6..$11 describe that job
        no_job_in_hand = (None, None, None, None, "", False)
        rows = await conn.fetch(
            "EXPLAIN " + db.query("lease_job"), "w", ["default"], b"hash", 60, None, *no_job_in_hand
        )
        plan = "\n".join(r[0] for r in rows)
        assert "queue_lease" in plan
    finally:
        await conn.close()


def test_each_migration_has_its_own_version() -> None:
    versions = [version for version, _, _ in db.migration_files()]
    assert versions == sorted(set(versions))
