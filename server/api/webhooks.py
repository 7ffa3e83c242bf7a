"""`POST /api/w/{ws}/webhooks/{path}`: any sender that can call a URL can run a script or a flow.

Senders rarely control their payload's shape, so any body is accepted: a JSON
object maps to arguments, anything else arrives as `{"body": ...}`; chosen
request headers can be passed as arguments too (`?include_header=X-A,X-B`).
The token may come in the URL (`?token=`) for senders that set no headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Response, post
from litestar.params import FromPath, FromQuery

from server import errors
from server.api import common, runs


def webhook_args(content_type: str, raw: bytes) -> dict[str, Any]:
    """Arguments from a body of any shape."""
    if not raw.strip():
        return {}
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return {"body": dict(parse_qsl(raw.decode(errors="replace")))}
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            value = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            if media:
                raise errors.BadRequest("the body is not valid JSON") from None
            return {"body": raw.decode(errors="replace")}
        return value if isinstance(value, dict) else {"body": value}
    return {"body": raw.decode(errors="replace")}


@post("/api/w/{workspace:str}/webhooks/{path:path}", status_code=201)
async def webhook(
    request: common.AnyRequest,
    workspace: FromPath[str],
    path: FromPath[str],
    wait: FromQuery[bool] = False,
    include_header: FromQuery[str | None] = None,
) -> Response[Any]:
    """Run a script (else the flow at the path): 201 with the job id, or, with `?wait=true`,
    its result."""
    target = await runs.target_at(request, workspace, common.path_param(path))
    args = webhook_args(request.headers.get("content-type", ""), await request.body())
    for name in filter(None, (h.strip() for h in (include_header or "").split(","))):
        if name in request.headers:
            args[name] = request.headers[name]
    if wait:
        return await runs.run_and_wait(request, target, runs.RunOptions(), args)
    return await runs.start(request, target, runs.RunOptions(), args)


ROUTES = [webhook]
