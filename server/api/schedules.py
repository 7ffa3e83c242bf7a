"""Cron schedules on Windmill's routes (`schedules/create`, `list`, `get`, `update`, ...).

Reads are open to every role in the workspace; writes need `admin` or `developer`.
Each schedule is shown with `next_fires`: its next five fire times in its own
time zone, so DST and zone mistakes show up before they happen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath

from server import auth, models, references, schedules
from server.api import common


class EnabledBody(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool


def render(schedule: schedules.Schedule, now: datetime) -> dict[str, Any]:
    """A schedule in Windmill's shape, with its upcoming fires (ISO, with offset)."""
    body: dict[str, Any] = msgspec.to_builtins(schedule)
    body["workspace_id"] = body.pop("workspace")
    body["next_fires"] = [fire.isoformat() for fire in schedules.upcoming(schedule, now)]
    return body


def _writer(request: common.AnyRequest, workspace: str) -> models.Principal:
    """The caller, if their role may change schedules in `workspace`."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_role(who, "admin", "developer")
    return who


def _check_spec(who: models.Principal, path: str, spec: schedules.ScheduleSpec) -> None:
    """The caller may write the schedule's path and read every script or flow it runs, its
    own and its hooks': the runs are made as the caller (`u/` privacy, folder grants)."""
    auth.require_write(who, path)
    for target in (spec.script_path, spec.on_failure, spec.on_recovery):
        if target:  # a hook may be written `script/<path>` or `flow/<path>`, as in Windmill
            auth.require_read(who, schedules.hook_target(target.removeprefix("script/"))[0])
    references.check_caller(who, spec.args)


@post("/api/w/{workspace:str}/schedules/create", status_code=201)
async def create_schedule(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Save a schedule and answer with its path (text, as Windmill does).

    The body is `{path, schedule, timezone?, script_path, is_flow?, args?, enabled?,
    summary?, on_failure?, on_failure_extra_args?, on_recovery?, on_recovery_extra_args?,
    retry?}`; `schedule` is a cron expression of 5 fields, or 6 with seconds first. With
    `is_flow`, `script_path` names a flow.
    """
    who = _writer(request, workspace)
    new = common.decode(await request.body(), schedules.NewSchedule)
    auth.require_scope(who, f"write:{new.path}")
    _check_spec(who, new.path, new)
    await schedules.create(
        common.pool(request),
        workspace=workspace,
        new=new,
        edited_by=who.username,
        now=datetime.now(UTC),
    )
    return Response(new.path, status_code=201, media_type="text/plain")


@get("/api/w/{workspace:str}/schedules/list")
async def list_schedules(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[dict[str, Any]]:
    """Every schedule of the workspace, by path."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    now = datetime.now(UTC)
    found = await schedules.list_all(common.pool(request), workspace=workspace)
    return [render(schedule, now) for schedule in found if auth.may_read(who, schedule.path)]


@get("/api/w/{workspace:str}/schedules/get/{path:path}")
async def get_schedule(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> dict[str, Any]:
    """One schedule, with its next fires."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_read(who, common.path_param(path))
    schedule = await schedules.get(
        common.pool(request), workspace=workspace, path=common.path_param(path)
    )
    return render(schedule, datetime.now(UTC))


@post("/api/w/{workspace:str}/schedules/update/{path:path}", status_code=200)
async def update_schedule(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Replace a schedule's definition (the create body without `path`).

    Leaving out `enabled` keeps the schedule on or off as it was.
    """
    path = common.path_param(path)
    who = _writer(request, workspace)
    auth.require_scope(who, f"write:{path}")
    spec = common.decode(await request.body(), schedules.ScheduleSpec)
    _check_spec(who, path, spec)
    await schedules.update(
        common.pool(request),
        workspace=workspace,
        path=path,
        spec=spec,
        edited_by=who.username,
        now=datetime.now(UTC),
    )
    return Response(path, media_type="text/plain")


@delete("/api/w/{workspace:str}/schedules/delete/{path:path}", status_code=200)
async def delete_schedule(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Remove a schedule; runs it has already queued still run."""
    path = common.path_param(path)
    who = _writer(request, workspace)
    auth.require_scope(who, f"write:{path}")
    auth.require_write(who, path)
    await schedules.delete(common.pool(request), workspace=workspace, path=path)
    return Response(f"schedule {path} deleted", media_type="text/plain")


@post("/api/w/{workspace:str}/schedules/setenabled/{path:path}", status_code=200)
async def set_enabled(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    """Turn a schedule on or off with `{enabled}`; turned on, it starts from now."""
    path = common.path_param(path)
    who = _writer(request, workspace)
    auth.require_scope(who, f"write:{path}")
    auth.require_write(who, path)
    body = common.decode(await request.body(), EnabledBody)
    await schedules.set_enabled(
        common.pool(request),
        workspace=workspace,
        path=path,
        enabled=body.enabled,
        edited_by=who.username,
        now=datetime.now(UTC),
    )
    state = "enabled" if body.enabled else "disabled"
    return Response(f"schedule {path} {state}", media_type="text/plain")


ROUTES = [
    create_schedule,
    list_schedules,
    get_schedule,
    update_schedule,
    delete_schedule,
    set_enabled,
]
