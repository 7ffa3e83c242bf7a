"""`GET /api/w/{ws}/openapi.json`: every script and flow as a typed operation.

Each script (and each flow) becomes two operations, a sync run that answers the
result and an async run that answers the job id, with its input schema as the
request body, so any OpenAPI generator produces a typed client for a workspace.
A flow's operations are its webhooks: `jobs/run_wait_result/f/...` and `jobs/run/f/...`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec
from litestar import get
from litestar.params import FromPath

from server import auth, flows, models, scripts
from server.api import common

_NOT_JSON_SCHEMA = ("$schema", "order")


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in _NOT_JSON_SCHEMA} or {"type": "object"}


def _operation_id(path: str, suffix: str) -> str:
    return re.sub(r"\W+", "_", path).strip("_") + suffix


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


class _Runnable(msgspec.Struct, frozen=True, kw_only=True):
    """What the document says of one script or flow."""

    kind: Literal["p", "f"]  # the run routes' segment: p/ for a script, f/ for a flow
    path: str
    summary: str
    description: str
    schema: dict[str, Any]
    result_schema: dict[str, Any]

    @staticmethod
    def of_script(script: models.Script) -> _Runnable:
        return _Runnable(
            kind="p",
            path=script.path,
            summary=script.summary,
            description=script.description,
            schema=script.schema,
            result_schema=dict(script.result_schema or {}),
        )

    @staticmethod
    def of_flow(flow: flows.Flow) -> _Runnable:
        return _Runnable(
            kind="f",
            path=flow.path,
            summary=flow.summary,
            description=flow.description,
            schema=flow.schema or {},
            result_schema={},
        )


def _operations(workspace: str, target: _Runnable) -> dict[str, Any]:
    noun = "flow" if target.kind == "f" else "script"
    body = {
        "required": True,
        "content": {"application/json": {"schema": _body_schema(target.schema)}},
    }
    result = dict(target.result_schema)
    result.pop("$schema", None)
    errors = {
        "401": _error_response("Missing or invalid token"),
        "404": _error_response(f"No such {noun}"),
        "422": _error_response("Arguments that do not match the schema"),
    }
    summary = target.summary or target.path
    # a flow and a script may share a path: their operation ids must not
    prefix = "_flow" if target.kind == "f" else ""
    return {
        f"/api/w/{workspace}/jobs/run_wait_result/{target.kind}/{target.path}": {
            "post": {
                "operationId": _operation_id(target.path, f"{prefix}_sync"),
                "summary": summary,
                "description": target.description or f"Run {target.path} and return its result.",
                "tags": [target.path.rsplit("/", 1)[0]],
                "requestBody": body,
                "responses": {
                    "200": {
                        "description": f"The {noun}'s result",
                        "content": {"application/json": {"schema": result}},
                    },
                    "500": _error_response(f"The {noun} failed; details hold its error"),
                    **errors,
                },
            }
        },
        f"/api/w/{workspace}/jobs/run/{target.kind}/{target.path}": {
            "post": {
                "operationId": _operation_id(target.path, f"{prefix}_async"),
                "summary": f"{summary} (async)",
                "description": f"Queue a run of {target.path}; answers the job id.",
                "tags": [target.path.rsplit("/", 1)[0]],
                "requestBody": body,
                "responses": {
                    "201": {
                        "description": "The job id",
                        "content": {"text/plain": {"schema": {"type": "string", "format": "uuid"}}},
                    },
                    **errors,
                },
            }
        },
    }


@get("/api/w/{workspace:str}/openapi.json")
async def openapi_document(request: common.AnyRequest, workspace: FromPath[str]) -> dict[str, Any]:
    """An OpenAPI 3.1 document with a sync and an async operation per script and flow."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    pool = common.pool(request)
    paths: dict[str, Any] = {}
    for script in await scripts.list_latest(pool, workspace=workspace):
        if auth.may_read(who, script.path):  # the caller's scripts, not a map of others'
            paths |= _operations(workspace, _Runnable.of_script(script))
    for head in await flows.list_heads(pool, workspace=workspace):
        if auth.may_read(who, head.path):
            flow = await flows.get_version(pool, workspace=workspace, version_id=head.version_id)
            paths |= _operations(workspace, _Runnable.of_flow(flow))
    return {
        "openapi": "3.1.0",
        "info": {"title": f"Tidemill workspace {workspace}", "version": "1"},
        "servers": [{"url": common.config(request).base_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {},
                            },
                        }
                    },
                }
            },
        },
    }


ROUTES = [openapi_document]
