"""First start: migrations, the default workspace, the admin user and token.

Idempotent, so every process runs it on start and a second `tidemill up`
reuses what the first created.
"""

from __future__ import annotations

import os
import secrets

import msgspec

from server import auth, db, settings

DEFAULT_WORKSPACE = "main"


class FirstStart(msgspec.Struct, frozen=True, kw_only=True):
    """What a user needs to know after start: the admin token, and a new password."""

    admin_token: str
    generated_password: str | None


def _read_or_create_token(config: settings.Settings) -> str:
    if config.admin_token:
        return config.admin_token
    path = config.admin_token_file
    if path.exists():
        return path.read_text().strip()
    token = auth.new_token()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


async def ensure(pool: db.Pool, config: settings.Settings) -> FirstStart:
    """Bring a database (new or old) to a state Tidemill can serve from."""
    async with pool.acquire() as conn:
        await db.migrate(conn)
    await pool.execute(db.query("ensure_workspace"), DEFAULT_WORKSPACE, DEFAULT_WORKSPACE)
    existing = await pool.fetchrow(db.query("get_user"), "admin")
    generated = None
    if existing is None:
        password = config.admin_password
        if password is None:
            password = generated = secrets.token_urlsafe(12)
        await pool.execute(db.query("ensure_user"), "admin", auth.hash_password(password), "admin")
    token = _read_or_create_token(config)
    await auth.store_token(pool, token=token, username="admin", label="admin")
    return FirstStart(admin_token=token, generated_password=generated)
