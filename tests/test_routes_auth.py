"""Every route needs a token, except an explicit few; found by walking the app's routes."""

from __future__ import annotations

import re

import httpx
import pytest

from server import app, settings

# The routes that answer without a token, each for a reason:
PUBLIC_API = {
    "/api/health",  # liveness probes
    "/api/auth/login",  # how a token is obtained
    "/api/r/{route_path:path}",  # custom routes authenticate per route: see test_http_triggers
    # a flow approval's signed URLs: the signature is the credential (test_flows_suspend)
    "/api/w/{workspace:str}/jobs_u/resume/{job_id:str}/{resume_id:str}/{signature:str}",
    "/api/w/{workspace:str}/jobs_u/cancel/{job_id:str}/{resume_id:str}/{signature:str}",
    # what the approval page shows of the flow, read through the same signature (test_ui_api)
    "/api/w/{workspace:str}/jobs_u/get_flow/{job_id:str}/{resume_id:str}/{signature:str}",
}
UI_PREFIXES = (
    "/",
    "/assets",
    "/scripts",
    "/runs",
    "/schedules",
    "/variables",
    "/tokens",
    "/workers",
    "/login",
    "/edit",
    "/flows",
    "/approve",
    "/new",
)  # static pages; their API calls need a token


API = app.create_app(settings.from_env({}), "postgresql://unused")


def excluded_from_auth() -> set[str]:
    found = set()
    for route in API.routes:
        # HTTP routes group handlers per method; ASGI mounts (the UI's pages) have one
        handlers = getattr(route, "route_handlers", None) or [route.route_handler]
        if any(handler.opt.get("exclude_from_auth") for handler in handlers):
            found.add(route.path)
    return found


def protected_routes() -> list[tuple[str, str]]:
    found = []
    for route in API.routes:
        if route.path in excluded_from_auth_paths:
            continue
        path = re.sub(r"\{(\w+):path\}", r"f/x/y", route.path)
        path = re.sub(r"\{(\w+):\w+\}", "00000000-0000-0000-0000-000000000000", path)
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            found.append((method, path))
    return found


excluded_from_auth_paths = excluded_from_auth()
ROUTES = protected_routes()


def test_only_the_expected_routes_skip_authentication() -> None:
    api = {p for p in excluded_from_auth_paths if p.startswith("/api")}
    assert api == PUBLIC_API
    pages = excluded_from_auth_paths - api
    assert all(p == "/" or p.startswith(UI_PREFIXES[1:]) for p in pages), pages


def test_the_walk_finds_the_api() -> None:
    assert len(ROUTES) >= 40
    assert ("POST", "/api/w/00000000-0000-0000-0000-000000000000/scripts/create") in ROUTES


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_every_route_needs_a_valid_token(
    client: httpx.AsyncClient, token: str | None
) -> None:
    client.headers.pop("Authorization")
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    for method, path in ROUTES:
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "unauthorized"
