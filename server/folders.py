"""Folders and groups, as in Windmill: who may read and write `f/<folder>/...`.

A folder row restricts its paths to its owners and to the users (`u/<name>`)
and groups (`g/<name>`) its `extra_perms` names: `true` grants write, `false`
read. A folder nobody created has no row and stays shared by the whole
workspace (developers write, everyone reads), as before folders existed, so
creating a folder is how a team closes it. Admins reach every folder.

The grants are read with the caller's token (`auth.principal`), so checking
a path costs no query of its own.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from server import db, errors, models

NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
GRANTEE_RE = re.compile(r"^[ug]/[A-Za-z0-9_.@-]+$")


class Folder(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: str
    name: str
    display_name: str
    owners: list[str]
    extra_perms: dict[str, bool]
    created_by: str


class Group(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: str
    name: str
    summary: str
    members: list[str]
    extra_perms: dict[str, bool]


def check_name(name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise errors.Invalid(
            f"invalid {what} name {name!r}: letters, digits, '_' and '-' only",
            [{"path": "name", "message": "letters, digits, '_' and '-' only"}],
        )
    return name


def _check_grants(owners: list[str], extra_perms: dict[str, bool]) -> None:
    """Grantees are `u/<user>` or `g/<group>`; owners must be able to write (as in Windmill)."""
    for grantee in [*owners, *extra_perms]:
        if not GRANTEE_RE.match(grantee):
            raise errors.Invalid(
                f"invalid grantee {grantee!r}: use u/<user> or g/<group>",
                [{"path": "extra_perms", "message": f"{grantee!r} is not u/<user> or g/<group>"}],
            )
    for owner in owners:
        if extra_perms.get(owner) is not True:
            raise errors.Invalid(
                f"owner {owner!r} would not have write permission on the folder",
                [{"path": "extra_perms", "message": f"{owner!r} needs true"}],
            )


def _folder(row: Any) -> Folder:
    return msgspec.convert(dict(row.items()), Folder)


async def create_folder(
    pool: db.Pool,
    *,
    workspace: str,
    name: str,
    created_by: str,
    display_name: str | None = None,
    owners: list[str] | None = None,
    extra_perms: dict[str, bool] | None = None,
) -> None:
    """Create (and so restrict) a folder; its creator owns it unless owners are given."""
    check_name(name, "folder")
    owners = owners if owners is not None else [f"u/{created_by}"]
    perms = extra_perms if extra_perms is not None else dict.fromkeys(owners, True)
    _check_grants(owners, perms)
    created = await pool.fetchval(
        db.query("create_folder"), workspace, name, display_name or name, owners, perms, created_by
    )
    if created is None:
        raise errors.Conflict(f"folder {name!r} already exists")


async def get_folder(pool: db.Pool, *, workspace: str, name: str) -> Folder:
    row = await pool.fetchrow(db.query("get_folder"), workspace, name)
    if row is None:
        raise errors.NotFound(f"no folder {name!r} in workspace {workspace!r}")
    return _folder(row)


async def list_folders(pool: db.Pool, *, workspace: str) -> list[Folder]:
    return [_folder(row) for row in await pool.fetch(db.query("list_folders"), workspace)]


def is_owner(who: models.Principal, folder: Folder) -> bool:
    return who.role == "admin" or bool(set(folder.owners) & set(who.grantees))


async def update_folder(
    pool: db.Pool,
    who: models.Principal,
    *,
    workspace: str,
    name: str,
    display_name: str | None = None,
    owners: list[str] | None = None,
    extra_perms: dict[str, bool] | None = None,
) -> Folder:
    """Change a folder's grants: its owners and admins only."""
    current = await get_folder(pool, workspace=workspace, name=name)
    if not is_owner(who, current):
        raise errors.Forbidden(f"{who.username!r} is not an owner of folder {name!r}")
    _check_grants(
        owners if owners is not None else current.owners,
        extra_perms if extra_perms is not None else current.extra_perms,
    )
    row = await pool.fetchrow(
        db.query("update_folder"), workspace, name, display_name, owners, extra_perms
    )
    return _folder(row)


async def delete_folder(pool: db.Pool, who: models.Principal, *, workspace: str, name: str) -> None:
    """Drop a folder's row: its paths are shared by the workspace again."""
    current = await get_folder(pool, workspace=workspace, name=name)
    if not is_owner(who, current):
        raise errors.Forbidden(f"{who.username!r} is not an owner of folder {name!r}")
    await pool.execute(db.query("delete_folder"), workspace, name)


async def create_group(
    pool: db.Pool, *, workspace: str, name: str, summary: str, created_by: str
) -> None:
    """Create a group; its creator owns it and is its first member."""
    check_name(name, "group")
    if await pool.fetchval(db.query("create_group"), workspace, name, summary, created_by) is None:
        raise errors.Conflict(f"group {name!r} already exists")


async def get_group(pool: db.Pool, *, workspace: str, name: str) -> Group:
    row = await pool.fetchrow(db.query("get_group"), workspace, name)
    if row is None:
        raise errors.NotFound(f"no group {name!r} in workspace {workspace!r}")
    return msgspec.convert(dict(row.items()), Group)


async def list_groups(pool: db.Pool, *, workspace: str) -> list[Group]:
    rows = await pool.fetch(db.query("list_groups"), workspace)
    return [msgspec.convert(dict(row.items()), Group) for row in rows]


async def change_member(
    pool: db.Pool, who: models.Principal, *, workspace: str, name: str, username: str, add: bool
) -> None:
    """Add or remove a member: the group's owners and admins only."""
    group = await get_group(pool, workspace=workspace, name=name)
    owners = {grantee for grantee, write in group.extra_perms.items() if write}
    if who.role != "admin" and not owners & set(who.grantees):
        raise errors.Forbidden(f"{who.username!r} is not an owner of group {name!r}")
    if add and not await pool.fetchval(db.query("user_exists"), username):
        raise errors.NotFound(f"no user {username!r}")
    query = "add_group_member" if add else "remove_group_member"
    await pool.execute(db.query(query), workspace, name, username)
