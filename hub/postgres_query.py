# /// script
# dependencies = ["asyncpg>=0.29"]
# ///
"""Run a SQL query on PostgreSQL and return its rows as JSON objects."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import asyncpg


def to_json(value: Any) -> Any:
    """A database value as JSON can carry it (dates as ISO text, decimals as numbers)."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


async def main(
    dsn: str,
    query: str,
    params: list[Any] | None = None,
    max_rows: int = 10000,
    read_only: bool = True,
    timeout_s: float = 60,
) -> list[dict[str, Any]]:
    """Run `query` with `$1, $2, ...` bound to `params`; answer the rows.

    Args:
        dsn: postgresql://user:password@host:5432/db (keep it in a secret variable).
        query: One SQL statement; use $1, $2, ... for values, never string formatting.
        params: The values of $1, $2, ...
        max_rows: Refuse results larger than this (protects the job's result size).
        read_only: Run in a read-only transaction, so a mistaken UPDATE cannot write.
        timeout_s: The statement timeout.

    Returns:
        One object per row, column name to value.
    """
    conn = await asyncpg.connect(dsn, timeout=timeout_s, command_timeout=timeout_s)
    try:
        async with conn.transaction(readonly=read_only):
            records = await conn.fetch(query, *(params or []))
    finally:
        await conn.close()
    if len(records) > max_rows:
        raise ValueError(f"{len(records)} rows, more than max_rows={max_rows}; add a LIMIT")
    return [{key: to_json(value) for key, value in record.items()} for record in records]
