"""The audit log: who changed or read what, and when.

Runs are not written here: the job tables already record who ran what and
when, and the listing reads them too, so the hot path pays nothing for audit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from server import db, models


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    workspace: str | None
    username: str
    action: str
    target: str
    details: dict[str, Any]


async def record(
    pool: db.Pool,
    who: models.Principal | str,
    action: str,
    target: str = "",
    *,
    workspace: str | None = None,
    **details: Any,
) -> None:
    username = who if isinstance(who, str) else who.username
    await pool.execute(db.query("record_audit"), workspace, username, action, target, details)


async def entries(
    pool: db.Pool,
    *,
    username: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 100,
) -> list[Entry]:
    rows = await pool.fetch(
        db.query("list_audit"), username, action, per_page, (page - 1) * per_page
    )
    return [msgspec.convert(dict(r.items()), Entry) for r in rows]
