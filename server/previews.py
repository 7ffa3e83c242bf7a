"""Previews: running code that is not saved, as Windmill's `jobs/run/preview` does.

`tidemill run ./file.py` and an editor's "Test" button want to run what is on
screen without adding a version to the script's history. A preview is read like
a save (its input schema from `main`'s signature, its arguments checked against
it), but nothing is written to `script_versions`: the code and lock are kept
with the job instead.

Its dependencies take a saved version's path: the request only reads them from
the text, and a `dependencies` job on a worker resolves them while the preview
job waits, so no request ever waits on a resolver. Previews are run again and
again (an editor's Test button, `tidemill dev`), so a lock already resolved in
the workspace from the same requirements (by a save or an earlier preview) is
reused as it is: no job, no resolver call, and the environment is already built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from server import arguments, db, errors, introspection, models, queue, requirements, scripts


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    """The body of `jobs/run/preview`, in Windmill's field names (its `Preview` schema).

    Only `kind: code` is supported. `lock` and `dedicated_worker` are accepted and
    ignored: the code is locked the way a save is, by a `dependencies` job.
    """

    content: str | None = None
    path: str | None = None
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    language: str | None = None
    tag: str | None = None
    kind: Literal["code"] = "code"
    dedicated_worker: bool | None = None
    lock: str | None = None


def default_path(username: str) -> str:
    """Where a preview without a path runs: the caller's own namespace."""
    return f"u/{username}/preview"


def prepare(*, workspace: str, preview: Preview, username: str) -> models.Script:
    """The unsaved version a preview runs: schema read, lock planned (never resolved here).

    Raises:
        errors.Invalid: No content or language, or a bad path or language.
        errors.InvalidScript: The code does not parse or has no `main`.
    """
    missing = [f for f in ("content", "language") if getattr(preview, f) is None]
    if missing:
        raise errors.Invalid(
            f"a preview needs {' and '.join(missing)}",
            [{"path": f, "message": "required"} for f in missing],
        )
    assert preview.content is not None and preview.language is not None
    path = scripts.check_path(preview.path or default_path(username))
    language = scripts.normalize_language(preview.language)
    signature = introspection.infer_signature(language, preview.content)
    planned = scripts.plan_lock(language, preview.content)
    return models.Script(
        workspace=models.WorkspaceId(workspace),
        path=path,
        hash=scripts.version_hash(language, preview.content),
        language=language,
        content=preview.content,
        summary=signature.summary or "",
        description="",
        schema={**signature.schema, "order": list(signature.arg_order)},
        result_schema=signature.result_schema,
        warnings=list(signature.warnings),
        settings={},
        created_by=username,
        created_at=datetime.now(UTC),
        lock_status=planned.status,
        lock_error=planned.error,
    )


async def start(
    pool: db.Pool,
    *,
    workspace: str,
    preview: Preview,
    created_by: str,
    job_id: models.JobId | None = None,
) -> models.JobId:
    """Queue a preview run; its arguments are checked as a saved script's would be.

    `job_id` is the caller's when it must wait for the job before it is queued.

    Raises:
        errors.Invalid: Bad arguments (each failing field named), or a bad body.
    """
    script = prepare(workspace=workspace, preview=preview, username=created_by)
    args = arguments.validate(script.schema, preview.args)
    key = None
    if script.lock_status == "pending":
        key = requirements.requirements_hash(script.language, script.content)
        cached = await scripts.cached_lock(pool, workspace=workspace, requirements_hash=key)
        if cached is not None:
            script = msgspec.structs.replace(script, lock=cached, lock_status="ready")
    return await queue.enqueue_preview(
        pool,
        job_id=job_id or queue.new_job_id(),
        preview=script,
        args=args,
        created_by=created_by,
        tag=preview.tag,
        requirements_hash=key,
    )
