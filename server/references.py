"""`$var:path` and `$res:path` in a job's arguments, and the secrets a job may print.

The stored job keeps the reference (`"$var:f/db/password"`), never the value:
the worker resolves the references when it starts the job, reading them as the
user who started it (`auth.user_principal`), so a job can reach nothing its
starter could not. What it resolves from secret variables, and the secret
variables the script reads itself with its job token (recorded on the token by
`auth.record_job_secret_read`), are what the worker masks in the job's logs.
"""

from __future__ import annotations

from typing import Any

import msgspec

from server import audit, auth, db, errors, models, resources, secrets, variables

MARKERS = (b'"$var:', b'"$res:')


class Resolved(msgspec.Struct, frozen=True, kw_only=True):
    """A job's arguments with their references replaced, and the secret values among them."""

    args: dict[str, Any]
    secrets: list[str]


def has_references(args: dict[str, Any]) -> bool:
    """Whether any string in the arguments, however nested, starts a reference (one encode)."""
    encoded = msgspec.json.encode(args)
    return any(marker in encoded for marker in MARKERS)


def paths_in(value: Any) -> list[str]:
    """The paths the references in a value name (`$var:` and `$res:` alike), however nested."""
    if isinstance(value, str):
        for prefix in ("$var:", "$res:"):
            if value.startswith(prefix):
                return [value.removeprefix(prefix)]
        return []
    if isinstance(value, dict):
        return [path for item in value.values() for path in paths_in(item)]
    if isinstance(value, list):
        return [path for item in value for path in paths_in(item)]
    return []


def check_caller(who: models.Principal, args: dict[str, Any]) -> None:
    """The caller queueing a job may read what its references name, with its token's scopes.

    The worker reads them later with the user's rights alone, which a narrowly scoped
    token (a webhook's `run:f/x/y`) must not widen.
    """
    if not has_references(args):
        return
    for path in paths_in(args):
        auth.require_read(who, path)
        auth.require_scope(who, f"read:{path}")


async def resolve_args(
    pool: db.Pool,
    vault: secrets.Vault,
    *,
    workspace: str,
    username: str,
    job_id: models.JobId,
    args: dict[str, Any],
) -> Resolved:
    """Replace the references in `args` as `username` may read them.

    Raises:
        errors.Forbidden: The starter may not read a referenced path.
        errors.NotFound: A referenced variable or resource does not exist.
    """
    if not has_references(args):
        return Resolved(args=args, secrets=[])
    who = await auth.user_principal(pool, username, workspace)
    found: list[str] = []

    async def read_variable(path: str) -> str:
        auth.require_read(who, path)
        value, is_secret = await variables.reveal(pool, vault, workspace=workspace, path=path)
        if is_secret:
            found.append(value)
            await audit.record(
                pool, who, "variables.read_secret", path, workspace=workspace, job_id=str(job_id)
            )
        return value

    async def read_resource(path: str) -> Any:
        auth.require_read(who, path)
        return await resources.get_value(pool, vault, workspace=workspace, path=path)

    resolved = await resources.resolve_references(
        args, read_variable=read_variable, read_resource=read_resource
    )
    return Resolved(args=resolved, secrets=found)


async def secret_values(
    pool: db.Pool, vault: secrets.Vault, *, workspace: str, paths: list[str]
) -> list[str]:
    """The values of these secret variables (those deleted since are skipped)."""
    values = []
    for path in paths:
        try:
            value, _ = await variables.reveal(pool, vault, workspace=workspace, path=path)
        except errors.NotFound:  # deleted since: the value the job got is gone from here too
            continue
        values.append(value)
    return values
