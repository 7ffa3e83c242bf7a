"""`GET /api/w/{ws}/openapi.json`: every script as a typed operation.

Each script becomes two operations, a sync run that answers the result and an
async run that answers the job id, with the script's input schema as the
request body, so any OpenAPI generator produces a typed client for a workspace.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import get
from litestar.params import FromPath

from server import auth, models, scripts
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


def _operations(workspace: str, script: models.Script) -> dict[str, Any]:
    body = {
        "required": True,
        "content": {"application/json": {"schema": _body_schema(script.schema)}},
    }
    result = dict(script.result_schema or {})
    result.pop("$schema", None)
    errors = {
        "401": _error_response("Missing or invalid token"),
        "404": _error_response("No such script"),
        "422": _error_response("Arguments that do not match the schema"),
    }
    summary = script.summary or script.path
    return {
        f"/api/w/{workspace}/jobs/run_wait_result/p/{script.path}": {
            "post": {
                "operationId": _operation_id(script.path, "_sync"),
                "summary": summary,
                "description": script.description or f"Run {script.path} and return its result.",
                "tags": [script.path.rsplit("/", 1)[0]],
                "requestBody": body,
                "responses": {
                    "200": {
                        "description": "The script's result",
                        "content": {"application/json": {"schema": result}},
                    },
                    "500": _error_response("The script failed; details hold its error"),
                    **errors,
                },
            }
        },
        f"/api/w/{workspace}/jobs/run/p/{script.path}": {
            "post": {
                "operationId": _operation_id(script.path, "_async"),
                "summary": f"{summary} (async)",
                "description": f"Queue a run of {script.path}; answers the job id.",
                "tags": [script.path.rsplit("/", 1)[0]],
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
    """An OpenAPI 3.1 document with a sync and an async operation per script."""
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    paths: dict[str, Any] = {}
    for script in await scripts.list_latest(common.pool(request), workspace=workspace):
        if auth.may_read(who, script.path):  # the caller's scripts, not a map of others'
            paths |= _operations(workspace, script)
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
