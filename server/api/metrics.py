"""`GET /metrics` (and `/api/metrics`): Prometheus text, for any valid token.

Not public: DESIGN.md lists the routes that answer without a token, and
`/metrics` is not one of them. Prometheus sends a bearer token with
`authorization: {credentials: ...}`; a token narrowed with scopes needs
`metrics:read` (create one with `scopes: ["metrics:read"]` for the scraper).
"""

from __future__ import annotations

from litestar import Response, get

from server import auth, metrics
from server.api import common


@get(["/metrics", "/api/metrics"], include_in_schema=False)
async def prometheus_metrics(request: common.AnyRequest) -> Response[bytes]:
    """Queue depth, jobs by status, run durations, live workers, dependency cache hits."""
    auth.require_scope(common.principal(request), "metrics:read")
    found = await metrics.snapshot(
        common.pool(request), alive_within_s=common.config(request).lost_after_s
    )
    return Response(found.body, media_type=found.content_type)


ROUTES = [prometheus_metrics]
