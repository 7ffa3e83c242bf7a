"""Custom HTTP routes: a method and path of the user's choosing that run a script or a flow.

`GET /api/r/users/:id` runs its script with `id` (and the query parameters and
JSON body) as arguments. Routes are matched segment by segment; a literal
segment wins over a `:parameter` one, so `users/me` and `users/:id` can coexist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from server import db, errors, flows, scripts

Method = Literal["get", "post", "put", "patch", "delete"]
Authentication = Literal["token", "none", "signature"]
Algorithm = Literal["sha256", "sha1", "sha512"]
_SEGMENT = re.compile(r"^(:[A-Za-z_]\w*|[A-Za-z0-9_.~-]+)$")
_RESPONSE_KEYS = ("windmill_status_code", "windmill_content_type", "windmill_headers")


class TriggerSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The body of `http_triggers/create` (and `update`, which takes the same).

    With `is_flow`, `script_path` names a flow (Windmill's fields).
    """

    path: str
    route_path: str
    script_path: str
    http_method: Method = "post"
    authentication: Authentication = "token"
    is_async: bool = False
    signature_secret: str | None = None
    signature_header: str = "X-Signature-256"
    signature_algorithm: Algorithm = "sha256"
    is_flow: bool = False


class HttpTrigger(TriggerSpec, frozen=True, kw_only=True):
    workspace: str
    created_by: str
    created_at: datetime


def normalize_route(route_path: str) -> str:
    route = route_path.strip("/")
    segments = route.split("/")
    if not route or not all(_SEGMENT.match(s) for s in segments):
        raise errors.Invalid(
            f"invalid route_path {route_path!r}: use segments like users/:id",
            [{"path": "route_path", "message": "segments are names or :parameters"}],
        )
    return route


async def _check(pool: db.Pool, workspace: str, spec: TriggerSpec) -> TriggerSpec:
    scripts.check_path(spec.path)
    if spec.is_flow:
        await flows.get(pool, workspace=workspace, path=spec.script_path)
    else:
        await scripts.get_by_path(pool, workspace=workspace, path=spec.script_path)
    if spec.authentication == "signature" and not spec.signature_secret:
        raise errors.Invalid(
            "signature authentication needs signature_secret: the path of a secret variable",
            [{"path": "signature_secret", "message": "required for signature authentication"}],
        )
    return msgspec.structs.replace(spec, route_path=normalize_route(spec.route_path))


def _params(workspace: str, spec: TriggerSpec) -> tuple[Any, ...]:
    return (
        workspace,
        spec.path,
        spec.route_path,
        spec.http_method,
        spec.script_path,
        spec.authentication,
        spec.is_async,
        spec.signature_secret,
        spec.signature_header,
        spec.signature_algorithm,
        spec.is_flow,
    )


async def create(pool: db.Pool, *, workspace: str, spec: TriggerSpec, created_by: str) -> None:
    spec = await _check(pool, workspace, spec)
    try:
        await pool.execute(db.query("insert_http_trigger"), *_params(workspace, spec), created_by)
    except asyncpg.UniqueViolationError as exc:
        raise _clash(spec, exc) from None


async def update(pool: db.Pool, *, workspace: str, spec: TriggerSpec) -> None:
    spec = await _check(pool, workspace, spec)
    try:
        updated = await pool.fetchval(db.query("update_http_trigger"), *_params(workspace, spec))
    except asyncpg.UniqueViolationError as exc:
        raise _clash(spec, exc) from None
    if updated is None:
        raise errors.NotFound(f"no HTTP route {spec.path!r}")


def _clash(spec: TriggerSpec, exc: asyncpg.UniqueViolationError) -> errors.Conflict:
    if "route_path" in str(exc.constraint_name or ""):
        return errors.Conflict(
            f"{spec.http_method.upper()} /api/r/{spec.route_path} is already taken",
            [{"path": "route_path", "message": "method and route already used"}],
        )
    return errors.Conflict(f"an HTTP route named {spec.path!r} already exists")


def _trigger(row: asyncpg.Record) -> HttpTrigger:
    return msgspec.convert(dict(row.items()), HttpTrigger)


async def get(pool: db.Pool, *, workspace: str, path: str) -> HttpTrigger:
    row = await pool.fetchrow(db.query("get_http_trigger"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no HTTP route {path!r}")
    return _trigger(row)


async def list_all(pool: db.Pool, *, workspace: str) -> list[HttpTrigger]:
    return [_trigger(r) for r in await pool.fetch(db.query("list_http_triggers"), workspace)]


async def delete(pool: db.Pool, *, workspace: str, path: str) -> None:
    if await pool.fetchval(db.query("delete_http_trigger"), workspace, path) is None:
        raise errors.NotFound(f"no HTTP route {path!r}")


def _match(route: str, requested: list[str]) -> dict[str, str] | None:
    pattern = route.split("/")
    if len(pattern) != len(requested):
        return None
    params = {}
    for want, got in zip(pattern, requested, strict=True):
        if want.startswith(":"):
            params[want[1:]] = got
        elif want != got:
            return None
    return params


async def resolve(pool: db.Pool, method: str, route: str) -> tuple[HttpTrigger, dict[str, str]]:
    """The route a request hits and its path parameters; literal segments win."""
    requested = route.strip("/").split("/")
    candidates = []
    for row in await pool.fetch(db.query("http_triggers_for_method"), method.lower()):
        trigger = _trigger(row)
        params = _match(trigger.route_path, requested)
        if params is not None:
            candidates.append((len(params), trigger, params))
    if not candidates:
        raise errors.NotFound(f"no route {method.upper()} /api/r/{route.strip('/')}")
    _, trigger, params = min(candidates, key=lambda c: c[0])
    return trigger, params


def signature_matches(secret: str, algorithm: str, body: bytes, header: str | None) -> bool:
    """An HMAC of the raw body, hex, optionally prefixed `sha256=` (as GitHub sends it)."""
    if not header:
        return False
    given = header.split("=", 1)[1] if "=" in header else header
    expected = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def coerce(schema: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Path and query values arrive as text; give them the types the schema asks for."""
    properties = schema.get("properties", {})
    out: dict[str, Any] = {}
    for name, text in values.items():
        kind = properties.get(name, {}).get("type")
        try:
            if kind == "integer":
                out[name] = int(text)
            elif kind == "number":
                out[name] = float(text)
            elif kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
                out[name] = text.lower() in ("true", "1")
            else:
                out[name] = text
        except ValueError:
            out[name] = text  # left for the schema check to name
    return out


class Shaped(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP response a script asked for."""

    status_code: int
    media_type: str
    headers: dict[str, str]
    body: bytes


def shape(result: Any) -> Shaped:
    """Windmill's convention: `windmill_status_code`/`_content_type`/`_headers` shape the response.

    The body is the rest of the object; when the rest is only `result`, the body is
    that value, sent as is when it is a string (so a script can answer HTML or CSV).
    """
    if not isinstance(result, dict) or not any(key in result for key in _RESPONSE_KEYS):
        return Shaped(
            status_code=200,
            media_type="application/json",
            headers={},
            body=msgspec.json.encode(result),
        )
    rest = {k: v for k, v in result.items() if k not in _RESPONSE_KEYS}
    body_value = rest["result"] if set(rest) == {"result"} else rest
    media_type = str(result.get("windmill_content_type") or "application/json")
    if isinstance(body_value, str) and media_type != "application/json":
        body = body_value.encode()
    else:
        body = msgspec.json.encode(body_value)
    headers = {str(k): str(v) for k, v in dict(result.get("windmill_headers") or {}).items()}
    return Shaped(
        status_code=int(result.get("windmill_status_code") or 200),
        media_type=media_type,
        headers=headers,
        body=body,
    )
