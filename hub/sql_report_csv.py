# /// script
# dependencies = ["asyncpg>=0.29"]
# ///
"""Run a SQL report on PostgreSQL and return it as CSV, ready to mail or upload."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
from typing import Any, Literal

import asyncpg


def cell(value: Any) -> Any:
    """A value as a spreadsheet reads it: ISO dates, plain decimals, JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def main(
    dsn: str,
    query: str,
    params: list[Any] | None = None,
    delimiter: Literal[",", ";", "\t"] = ",",
    header: bool = True,
    filename: str = "report.csv",
    timeout_s: float = 300,
) -> dict[str, Any]:
    """Run `query` (read-only) and render its rows as CSV.

    Args:
        dsn: postgresql://user:password@host:5432/db (keep it in a secret variable).
        query: One SELECT; $1, $2, ... take `params`.
        params: The values of $1, $2, ...
        delimiter: "," or ";" (what spreadsheets in many locales expect), or a tab.
        header: Start with the column names.
        filename: The name to give the file (passed on to the next step, e.g. an upload).
        timeout_s: The statement timeout.

    Returns:
        The CSV text, its filename, the row count and the column names.
    """
    conn = await asyncpg.connect(dsn, timeout=timeout_s, command_timeout=timeout_s)
    try:
        async with conn.transaction(readonly=True):
            statement = await conn.prepare(query)
            columns = [attribute.name for attribute in statement.get_attributes()]
            records = await statement.fetch(*(params or []))
    finally:
        await conn.close()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if header:
        writer.writerow(columns)
    writer.writerows([cell(v) for v in record.values()] for record in records)
    return {"csv": out.getvalue(), "filename": filename, "rows": len(records), "columns": columns}
