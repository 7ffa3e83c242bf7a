"""Folders and groups on Windmill's routes: who may read and write `f/<folder>/...`."""

from __future__ import annotations

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import audit, auth, folders, models
from server.api import common


class NewFolder(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    display_name: str | None = None
    owners: list[str] | None = None
    extra_perms: dict[str, bool] | None = None


class FolderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    display_name: str | None = None
    owners: list[str] | None = None
    extra_perms: dict[str, bool] | None = None


class NewGroup(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    summary: str = ""


class Member(msgspec.Struct, frozen=True, kw_only=True):
    username: str


def _member_of_workspace(request: common.AnyRequest, workspace: str) -> models.Principal:
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    return who


def _creator(request: common.AnyRequest, workspace: str) -> models.Principal:
    who = _member_of_workspace(request, workspace)
    auth.require_role(who, "admin", "developer")
    return who


@post("/api/w/{workspace:str}/folders/create", status_code=200)
async def create_folder(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Create a folder, restricting `f/<name>/...` to its owners and `extra_perms` grantees.

    `extra_perms` maps `u/<user>` or `g/<group>` to true (write) or false (read);
    without it the owners (default: the creator) get write.
    """
    who = _creator(request, workspace)
    body = common.decode(await request.body(), NewFolder)
    pool = common.pool(request)
    await folders.create_folder(
        pool,
        workspace=workspace,
        name=body.name,
        created_by=who.username,
        display_name=body.display_name,
        owners=body.owners,
        extra_perms=body.extra_perms,
    )
    await audit.record(pool, who, "folders.create", body.name, workspace=workspace)
    return Response(f"Created folder {body.name}", media_type="text/plain")


@post("/api/w/{workspace:str}/folders/update/{name:str}", status_code=200)
async def update_folder(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> Response[str]:
    """Change a folder's owners or grants (its owners and admins only)."""
    who = _member_of_workspace(request, workspace)
    auth.require_role(who, "admin", "developer")
    body = common.decode(await request.body(), FolderUpdate)
    pool = common.pool(request)
    await folders.update_folder(
        pool,
        who,
        workspace=workspace,
        name=name,
        display_name=body.display_name,
        owners=body.owners,
        extra_perms=body.extra_perms,
    )
    await audit.record(
        pool, who, "folders.update", name, workspace=workspace, extra_perms=body.extra_perms
    )
    return Response(f"Updated folder {name}", media_type="text/plain")


@get("/api/w/{workspace:str}/folders/get/{name:str}")
async def get_folder(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> folders.Folder:
    _member_of_workspace(request, workspace)
    return await folders.get_folder(common.pool(request), workspace=workspace, name=name)


@get("/api/w/{workspace:str}/folders/list")
async def list_folders(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[folders.Folder]:
    """The created (restricted) folders; a folder with no entry is shared by the workspace."""
    _member_of_workspace(request, workspace)
    return await folders.list_folders(common.pool(request), workspace=workspace)


@delete("/api/w/{workspace:str}/folders/delete/{name:str}", status_code=200)
async def delete_folder(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> Response[str]:
    """Drop a folder's grants: its paths are shared by the whole workspace again."""
    who = _member_of_workspace(request, workspace)
    auth.require_role(who, "admin", "developer")
    pool = common.pool(request)
    await folders.delete_folder(pool, who, workspace=workspace, name=name)
    await audit.record(pool, who, "folders.delete", name, workspace=workspace)
    return Response(f"deleted folder {name}", media_type="text/plain")


@post("/api/w/{workspace:str}/groups/create", status_code=200)
async def create_group(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Create a group; its creator owns it and is its first member."""
    who = _creator(request, workspace)
    body = common.decode(await request.body(), NewGroup)
    pool = common.pool(request)
    await folders.create_group(
        pool, workspace=workspace, name=body.name, summary=body.summary, created_by=who.username
    )
    await audit.record(pool, who, "groups.create", body.name, workspace=workspace)
    return Response(f"Created group {body.name}", media_type="text/plain")


@get("/api/w/{workspace:str}/groups/list")
async def list_groups(request: common.AnyRequest, workspace: FromPath[str]) -> list[folders.Group]:
    _member_of_workspace(request, workspace)
    return await folders.list_groups(common.pool(request), workspace=workspace)


@get("/api/w/{workspace:str}/groups/get/{name:str}")
async def get_group(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> folders.Group:
    _member_of_workspace(request, workspace)
    return await folders.get_group(common.pool(request), workspace=workspace, name=name)


async def _change_member(
    request: common.AnyRequest, workspace: str, name: str, *, add: bool
) -> Response[str]:
    who = _member_of_workspace(request, workspace)
    body = common.decode(await request.body(), Member)
    pool = common.pool(request)
    await folders.change_member(
        pool, who, workspace=workspace, name=name, username=body.username, add=add
    )
    action = "groups.adduser" if add else "groups.removeuser"
    await audit.record(pool, who, action, name, workspace=workspace, user=body.username)
    verb = "Added" if add else "Removed"
    return Response(f"{verb} {body.username} to group {name}", media_type="text/plain")


@post("/api/w/{workspace:str}/groups/adduser/{name:str}", status_code=200)
async def add_user(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> Response[str]:
    """Add `{username}` to a group (its owners and admins only)."""
    return await _change_member(request, workspace, name, add=True)


@post("/api/w/{workspace:str}/groups/removeuser/{name:str}", status_code=200)
async def remove_user(
    request: common.AnyRequest, workspace: FromPath[str], name: FromPath[str]
) -> Response[str]:
    """Remove `{username}` from a group (its owners and admins only)."""
    return await _change_member(request, workspace, name, add=False)


ROUTES = [
    create_folder,
    update_folder,
    get_folder,
    list_folders,
    delete_folder,
    create_group,
    list_groups,
    get_group,
    add_user,
    remove_user,
]
