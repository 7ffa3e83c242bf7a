"""Custom HTTP routes: their CRUD, and `/api/r/{route}` where they are served.

A route runs a script, or with `is_flow` a flow (the newest version of each).
"""

from __future__ import annotations

from litestar import Response, delete, get, post, route
from litestar.params import FromPath

from server import (
    audit,
    auth,
    errors,
    flows,
    http_triggers,
    models,
    references,
    scripts,
    variables,
)
from server.api import common, runs
from server.api.variables import vault


def _writer(request: common.AnyRequest, workspace: str, path: str) -> str:
    return common.require_writer(request, workspace, path).username


def _check_spec(request: common.AnyRequest, spec: http_triggers.TriggerSpec) -> None:
    """The route's owner may read the script (or flow) it serves and the secret it signs with:
    a route must not publish what its owner could not reach."""
    who = common.principal(request)
    auth.require_read(who, spec.script_path)
    if spec.signature_secret:
        auth.require_read(who, spec.signature_secret)


@post("/api/w/{workspace:str}/http_triggers/create", status_code=201)
async def create_trigger(request: common.AnyRequest, workspace: FromPath[str]) -> Response[str]:
    """Serve a script (a flow with `is_flow`) at `/api/r/<route_path>`.

    A method and route already taken is refused (409).
    """
    spec = common.decode(await request.body(), http_triggers.TriggerSpec)
    username = _writer(request, workspace, spec.path)
    _check_spec(request, spec)
    pool = common.pool(request)
    await http_triggers.create(pool, workspace=workspace, spec=spec, created_by=username)
    await audit.record(pool, username, "http_triggers.create", spec.path, workspace=workspace)
    return Response(spec.path, status_code=201, media_type="text/plain")


@post("/api/w/{workspace:str}/http_triggers/update/{path:path}", status_code=200)
async def update_trigger(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    path = common.path_param(path)
    _writer(request, workspace, path)
    spec = common.decode(await request.body(), http_triggers.TriggerSpec)
    if spec.path != path:
        raise errors.Invalid("the body's path must match the URL's", [{"path": "path"}])
    _check_spec(request, spec)
    await http_triggers.update(common.pool(request), workspace=workspace, spec=spec)
    await audit.record(
        common.pool(request),
        common.principal(request),
        "http_triggers.update",
        path,
        workspace=workspace,
    )
    return Response(path, media_type="text/plain")


@get("/api/w/{workspace:str}/http_triggers/get/{path:path}")
async def get_trigger(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> http_triggers.HttpTrigger:
    auth.require_workspace(common.principal(request), workspace)
    return await http_triggers.get(
        common.pool(request), workspace=workspace, path=common.path_param(path)
    )


@get("/api/w/{workspace:str}/http_triggers/list")
async def list_triggers(
    request: common.AnyRequest, workspace: FromPath[str]
) -> list[http_triggers.HttpTrigger]:
    auth.require_workspace(common.principal(request), workspace)
    return await http_triggers.list_all(common.pool(request), workspace=workspace)


@delete("/api/w/{workspace:str}/http_triggers/delete/{path:path}", status_code=200)
async def delete_trigger(
    request: common.AnyRequest, workspace: FromPath[str], path: FromPath[str]
) -> Response[str]:
    path = common.path_param(path)
    username = _writer(request, workspace, path)
    await http_triggers.delete(common.pool(request), workspace=workspace, path=path)
    await audit.record(
        common.pool(request), username, "http_triggers.delete", path, workspace=workspace
    )
    return Response(f"route {path} deleted", media_type="text/plain")


async def _authorize(
    request: common.AnyRequest, trigger: http_triggers.HttpTrigger, raw: bytes
) -> tuple[str, models.Principal | None]:
    """Who the run is made as: the caller for `token` routes (with who they are), the
    route's owner otherwise."""
    if trigger.authentication == "token":
        who = await auth.principal(
            common.pool(request), common.bearer_token(request), trigger.workspace
        )
        auth.require_workspace(who, trigger.workspace)
        auth.require_run(who, trigger.script_path, flow=trigger.is_flow)
        auth.require_read(who, trigger.script_path)
        return who.username, who
    if trigger.authentication == "signature":
        assert trigger.signature_secret is not None
        secret = await variables.get_value(
            common.pool(request),
            vault(request),
            workspace=trigger.workspace,
            path=trigger.signature_secret,
        )
        header = request.headers.get(trigger.signature_header)
        if not http_triggers.signature_matches(secret, trigger.signature_algorithm, raw, header):
            raise errors.Unauthorized(f"missing or wrong {trigger.signature_header} signature")
    return trigger.created_by, None


@route(
    "/api/r/{route_path:path}",
    http_method=["GET", "POST", "PUT", "PATCH", "DELETE"],
    exclude_from_auth=True,
)
async def serve_route(request: common.AnyRequest, route_path: FromPath[str]) -> Response[bytes]:
    """Run the route's script or flow; its result may set the status, content type and headers."""
    pool = common.pool(request)
    trigger, params = await http_triggers.resolve(pool, request.method, route_path)
    raw = await request.body()
    created_by, caller = await _authorize(request, trigger, raw)
    target: flows.Runnable
    if trigger.is_flow:
        target = await flows.get(pool, workspace=trigger.workspace, path=trigger.script_path)
    else:
        target = await scripts.get_by_path(
            pool, workspace=trigger.workspace, path=trigger.script_path
        )
    query = {k: v for k, v in request.query_params.items() if k not in ("token", "async")}
    args = http_triggers.coerce(flows.input_schema(target), {**query, **params})
    body = common.decode_args(raw) if raw.strip() else {}
    args = {**body, **args}
    if caller is not None:
        references.check_caller(caller, args)
    elif references.has_references(args):
        # the job runs as the route's owner: a caller must not read the owner's secrets
        raise errors.Invalid(
            "$var: and $res: arguments are not accepted on a route that runs as its owner",
            [{"path": "", "message": "references need a token route"}],
        )
    opts = runs.RunOptions()
    if trigger.is_async or request.query_params.get("async") == "true":
        response = await runs.start(
            request, target, opts, args, created_by=created_by, status_code=202
        )
        return Response(response.content.encode(), status_code=202, media_type="text/plain")
    job = await runs.finished_job(request, target, opts, args, created_by=created_by)
    if job.status != "success":
        if job.error is not None and job.error.name == "TimeoutError":
            raise errors.GatewayTimeout(job.error.message, {"job_id": str(job.id)})
        runs.raise_job_error(job)
    shaped = http_triggers.shape(job.result)
    return Response(
        shaped.body,
        status_code=shaped.status_code,
        media_type=shaped.media_type,
        headers=shaped.headers,
    )


ROUTES = [
    create_trigger,
    update_trigger,
    get_trigger,
    list_triggers,
    delete_trigger,
    serve_route,
]
