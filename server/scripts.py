"""Saving and reading script versions.

A version is identified by the sha256 of its language and content, so saving
the same script twice gives the same hash and a new content a new one; the
path always points at the newest save. Versions are never deleted, so a job
or a caller holding a hash can always run exactly that code.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import msgspec

from server import db, errors, introspection, models, requirements

PATH_RE = re.compile(r"^(u|f)/[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")
SETTING_FIELDS = (
    "timeout",
    "tag",
    "priority",
    "concurrent_limit",
    "concurrency_time_window_s",
    "dedicated_worker",
    "retry",
)


class NewScript(msgspec.Struct, frozen=True, kw_only=True):
    """The body of `scripts/create`, in Windmill's field names."""

    path: str
    content: str
    language: str
    summary: str | None = None
    description: str | None = None
    timeout: int | None = None
    tag: str | None = None
    priority: int | None = None
    concurrent_limit: int | None = None
    concurrency_time_window_s: int | None = None
    dedicated_worker: bool | None = None
    retry: models.RetryPolicy | None = None


def normalize_language(language: str) -> models.Language:
    try:
        return models.LANGUAGE_ALIASES[language.lower()]
    except KeyError:
        known = ", ".join(sorted(models.LANGUAGE_ALIASES))
        raise errors.Invalid(
            f"unknown language {language!r}; use one of {known}",
            [{"path": "language", "message": "unknown language"}],
        ) from None


def check_path(path: str) -> str:
    if not PATH_RE.match(path):
        raise errors.Invalid(
            f"invalid path {path!r}: use f/<folder>/<name> or u/<user>/<name>",
            [{"path": "path", "message": "must look like f/<folder>/<name> or u/<user>/<name>"}],
        )
    return path


def version_hash(language: models.Language, content: str) -> models.ScriptHash:
    digest = hashlib.sha256(language.encode() + b"\0" + content.encode())
    return models.ScriptHash(digest.hexdigest())


async def save(
    pool: db.Pool, *, workspace: str, new: NewScript, created_by: str, head: bool = True
) -> models.ScriptHash:
    """Store a version (computing its input schema) and point its path at it.

    A flow's inline script is stored with `head=False`: runnable by hash, never listed.
    """
    path = check_path(new.path)
    language = normalize_language(new.language)
    signature = introspection.infer_signature(language, new.content)
    # Windmill's `order` keeps the declared order for clients that read only JSON objects
    schema = {**signature.schema, "order": list(signature.arg_order)}
    settings = {
        field: msgspec.to_builtins(getattr(new, field))
        for field in SETTING_FIELDS
        if getattr(new, field) is not None
    }
    hash_ = version_hash(language, new.content)
    locked = await _lock(language, new.content)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            db.query("save_script_version"),
            workspace,
            path,
            hash_,
            language,
            new.content,
            new.summary if new.summary is not None else (signature.summary or ""),
            new.description or "",
            schema,
            settings,
            created_by,
            signature.result_schema,
            list(signature.warnings),
            locked.text,
            _lock_status(locked),
            locked.error,
        )
        if head:
            await conn.execute(db.query("set_script_head"), workspace, path, hash_)
    return hash_


async def _lock(language: models.Language, content: str) -> requirements.Lock:
    """Lock a Python version's requirements now, within `requirements.LOCK_TIMEOUT_S`.

    Locking at save time keeps a run from ever resolving; a version that needs
    nothing gets no lock, and one that cannot be resolved keeps uv's message.
    """
    if language != "python3":
        return requirements.Lock()
    try:
        reqs = requirements.of_python(content)
    except requirements.InvalidMetadata as exc:
        return requirements.Lock(error=str(exc))
    if not reqs.packages and reqs.requires_python is None:
        return requirements.Lock()
    return await requirements.lock(reqs)


def _lock_status(locked: requirements.Lock) -> models.LockStatus:
    if locked.error is not None:
        return "failed"
    return "ready" if locked.text is not None else "none"


def _script(row: Any) -> models.Script:
    return msgspec.convert(dict(row.items()), models.Script)


async def get_by_path(pool: db.Pool, *, workspace: str, path: str) -> models.Script:
    row = await pool.fetchrow(db.query("get_script_by_path"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no script at {path!r} in workspace {workspace!r}")
    return _script(row)


async def get_by_hash(pool: db.Pool, *, workspace: str, hash_: str) -> models.Script:
    row = await pool.fetchrow(db.query("get_script_by_hash"), workspace, hash_)
    if row is None:
        raise errors.NotFound(f"no script version {hash_!r} in workspace {workspace!r}")
    return _script(row)


async def list_heads(pool: db.Pool, *, workspace: str) -> list[models.ScriptHead]:
    rows = await pool.fetch(db.query("list_scripts"), workspace)
    return [msgspec.convert(dict(r.items()), models.ScriptHead) for r in rows]


class Version(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a path's history, in Windmill's field names."""

    script_hash: models.ScriptHash
    summary: str
    created_by: str
    created_at: datetime


async def history(pool: db.Pool, *, workspace: str, path: str) -> list[Version]:
    """Every version of a path, newest first (404 when the path has none)."""
    rows = await pool.fetch(db.query("script_history"), workspace, path)
    if not rows:
        raise errors.NotFound(f"no script at {path!r} in workspace {workspace!r}")
    return [msgspec.convert(dict(r.items()), Version) for r in rows]


async def list_latest(pool: db.Pool, *, workspace: str) -> list[models.Script]:
    """The newest version of every script, content and schema included."""
    return [_script(r) for r in await pool.fetch(db.query("list_latest_versions"), workspace)]
