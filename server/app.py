"""The Litestar application: routes, the token middleware, errors as JSON.

The pool, the settings and the job waiters live on `app.state`, created in the
lifespan, so tests and processes each get their own and nothing is global.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware

from server import db, errors, scheduler, secrets, settings, waiters
from server.api import (
    common,
    flows,
    folders,
    http_triggers,
    jobs,
    metrics,
    openapi,
    resources,
    schedules,
    scripts,
    streams,
    system,
    ui,
    users,
    variables,
    webhooks,
)

log = logging.getLogger(__name__)

# Losing the database is not a bug in the request: answer 503 so clients retry.
_DATABASE_AWAY = db.UNAVAILABLE


def _error(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    return Response(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


def _on_tidemill_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, errors.TidemillError)
    return _error(exc.status_code, exc.code, exc.message, exc.details)


def _on_http_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    if exc.status_code == 400 and exc.extra:
        # a query or path parameter of the wrong type: name it, as for body fields
        return _error(422, "invalid", exc.detail, exc.extra)
    return _error(exc.status_code, code, exc.detail, exc.extra or None)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, _DATABASE_AWAY):
        log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
        return _error(503, "unavailable", "the database is unavailable; retry shortly")
    if isinstance(exc, asyncpg.DataError):
        # a value PostgreSQL cannot store, such as "\u0000" in a JSON string: the input's fault
        return _error(422, "invalid", f"a value in the request cannot be stored: {exc}")
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return _error(500, "internal_error", "internal error; the server log has the details")


def api_handlers() -> list[Any]:
    """Every API route handler (the UI's pages aside): the app's, and the fuzz tests' schema."""
    return [
        *scripts.ROUTES,
        *jobs.ROUTES,
        *flows.ROUTES,
        *schedules.ROUTES,
        *users.ROUTES,
        *system.ROUTES,
        *metrics.ROUTES,
        *openapi.ROUTES,
        *webhooks.ROUTES,
        *variables.ROUTES,
        *resources.ROUTES,
        *folders.ROUTES,
        *http_triggers.ROUTES,
        *streams.ROUTES,
        *ui.API_ROUTES,
    ]


def create_app(config: settings.Settings, dsn: str, *, pool_size: int = 10) -> Litestar:
    """An app serving the API from the database at `dsn` (already migrated)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.settings = config
        app.state.vault = secrets.Vault(secrets.master_key(config))
        app.state.pool = await db.create_pool(dsn, min_size=2, max_size=pool_size)
        app.state.waiters = waiters.Waiters(dsn)
        await app.state.waiters.start()
        try:
            # every server campaigns to lead the scheduler; one at a time acts
            async with scheduler.running(dsn, app.state.pool) as app.state.scheduler:
                yield
        finally:
            await app.state.waiters.close()
            await app.state.pool.close()

    return Litestar(
        route_handlers=[*api_handlers(), *ui.routes()],
        middleware=[DefineMiddleware(common.TokenAuth)],
        exception_handlers={
            errors.TidemillError: _on_tidemill_error,
            HTTPException: _on_http_error,
            Exception: _on_unexpected,
        },
        lifespan=[lifespan],
        openapi_config=None,
        debug=False,
    )
