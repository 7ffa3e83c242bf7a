"""Saving and reading script versions.

A version is identified by the sha256 of its language and content, so saving
the same script twice gives the same hash and a new content a new one; the
path always points at the newest save. Versions are never deleted, so a job
or a caller holding a hash can always run exactly that code.

A version's lock (what its dependencies resolve to) is not computed by the
save: the save marks it `pending` and queues a `dependencies` job in the same
transaction; a worker resolves it and `store_lock` stores the lock or the
resolver's message, waking the runs that wait for it on `tidemill_locked`.
Each resolved lock is also remembered by the hash of its requirements
(`dependency_locks`), for previews to reuse.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import msgspec

from server import db, errors, introspection, models, queue, requirements, script_settings

LOCKED_CHANNEL = "tidemill_locked"
PATH_RE = re.compile(r"^(u|f)/[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")
SETTING_FIELDS = script_settings.FIELDS


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


def _input_schema(signature: introspection.Signature) -> dict[str, Any]:
    # Windmill's `order` keeps the declared order for clients that read only JSON objects
    return {**signature.schema, "order": list(signature.arg_order)}


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """What a source would be saved with: the editor's live form comes from `schema`."""

    schema: dict[str, Any]
    result_schema: dict[str, Any] | None
    warnings: list[str]
    summary: str | None


def preview(language: str, content: str) -> Preview:
    """The schema a save of this source would store, computed the same way; nothing stored.

    Raises `InvalidScript` (with the line and column) for a source that does not parse.
    """
    signature = introspection.infer_signature(normalize_language(language), content)
    return Preview(
        schema=_input_schema(signature),
        result_schema=signature.result_schema,
        warnings=list(signature.warnings),
        summary=signature.summary,
    )


async def save(
    pool: db.Pool, *, workspace: str, new: NewScript, created_by: str, head: bool = True
) -> models.ScriptHash:
    """Store a version (computing its input schema) and point its path at it.

    A flow's inline script is stored with `head=False`: runnable by hash, never listed.
    """
    path = check_path(new.path)
    language = normalize_language(new.language)
    signature = introspection.infer_signature(language, new.content)
    schema = _input_schema(signature)
    settings = {
        field: msgspec.to_builtins(getattr(new, field))
        for field in SETTING_FIELDS
        if getattr(new, field) is not None
    }
    hash_ = version_hash(language, new.content)
    planned = plan_lock(language, new.content)
    async with pool.acquire() as conn, conn.transaction():
        saved = await conn.fetchrow(
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
            None,
            planned.status,
            planned.error,
        )
        if head:
            await conn.execute(db.query("set_script_head"), workspace, path, hash_)
        if saved is not None and saved["resolve"]:
            await queue.enqueue_dependencies(
                conn,
                workspace=workspace,
                path=path,
                script_hash=hash_,
                language=language,
                tag=new.tag,
                created_by=created_by,
            )
    return hash_


class PlannedLock(msgspec.Struct, frozen=True, kw_only=True):
    """What a save knows of a version's lock before any resolver runs."""

    status: models.LockStatus
    error: str | None = None


def plan_lock(language: models.Language, content: str) -> PlannedLock:
    """Whether a version needs a lock, read from its text in microseconds, never resolving.

    Resolving (seconds, or a minute against a slow index) is left to a `dependencies`
    job on a worker, so a save stays fast; a version that needs nothing gets no lock,
    and a PEP 723 block that cannot be read fails the lock at once.
    """
    if language == "python3":
        try:
            reqs = requirements.of_python(content)
        except requirements.InvalidMetadata as exc:
            return PlannedLock(status="failed", error=str(exc))
        needed = bool(reqs.packages) or reqs.requires_python is not None
        return PlannedLock(status="pending" if needed else "none")
    if language == "deno":
        needed = bool(requirements.of_typescript(content).remote)
        return PlannedLock(status="pending" if needed else "none")
    return PlannedLock(status="none")


async def store_lock(
    pool: db.Pool, *, workspace: str, hash_: str, locked: requirements.Lock
) -> bool:
    """Store a resolved lock (or uv's message) on a pending version and wake its waiting runs.

    False when the version was no longer pending: another resolver stored it first.
    """
    status: models.LockStatus = "failed" if locked.error is not None else "ready"
    row = await pool.fetchrow(
        db.query("store_lock"), workspace, hash_, locked.text, status, locked.error
    )
    return bool(row is not None and row["stored"])


async def get_lock(pool: db.Pool, *, workspace: str, path: str, hash_: str) -> models.LockState:
    row = await pool.fetchrow(db.query("get_lock"), workspace, path, hash_)
    if row is None:
        raise errors.NotFound(f"no script version {hash_!r} at {path!r}")
    return msgspec.convert(dict(row.items()), models.LockState)


async def remember_lock(
    pool: db.Pool, *, workspace: str, requirements_hash: str, lock: str
) -> None:
    """Keep a resolved lock for the next preview with the same requirements (see `cached_lock`)."""
    await pool.execute(db.query("remember_lock"), workspace, requirements_hash, lock)


async def cached_lock(pool: db.Pool, *, workspace: str, requirements_hash: str) -> str | None:
    """The lock last resolved in the workspace from these requirements, if any.

    Filled by every resolution, a saved version's or a preview's, so a preview of a
    script whose requirements did not change runs with the lock (and the environment)
    its saved version has, without resolving again.
    """
    lock = await pool.fetchval(db.query("cached_lock"), workspace, requirements_hash)
    return None if lock is None else str(lock)


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
