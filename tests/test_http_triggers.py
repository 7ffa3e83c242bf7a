"""Custom HTTP routes: path parameters, each authentication mode, script-shaped responses."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from tests.test_api_scripts import save
from worker import service

USER = (
    "def main(id: int, verbose: bool = False, note: str = ''):\n"
    "    return {'id': id, 'double': id * 2, 'verbose': verbose, 'note': note}\n"
)
SHAPED = (
    "def main(id: str):\n"
    "    return {'windmill_status_code': 201, 'windmill_content_type': 'text/csv',\n"
    "            'windmill_headers': {'X-Made-By': 'script'}, 'result': f'id\\n{id}\\n'}\n"
)


async def make_route(client: httpx.AsyncClient, **fields: object) -> httpx.Response:
    return await client.post("/api/w/main/http_triggers/create", json=fields)


async def test_path_query_and_body_become_arguments(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/api/user", USER)
    response = await make_route(
        client,
        path="f/api/get_user",
        route_path="users/:id",
        http_method="get",
        script_path="f/api/user",
        authentication="token",
    )
    assert response.status_code == 201, response.text
    response = await client.get("/api/r/users/21?verbose=true")
    assert response.status_code == 200
    assert response.json() == {"id": 21, "double": 42, "verbose": True, "note": ""}
    await make_route(
        client,
        path="f/api/post_user",
        route_path="users/:id",
        http_method="post",
        script_path="f/api/user",
        authentication="token",
    )
    response = await client.post("/api/r/users/3", json={"note": "hi"})
    assert response.json()["note"] == "hi"
    bad = await client.get("/api/r/users/abc")
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "id"
    assert (await client.get("/api/r/nothing/here")).status_code == 404
    accepted = await client.get("/api/r/users/5?async=true")
    assert accepted.status_code == 202 and len(accepted.text) == 36


async def test_clashing_routes_are_refused(client: httpx.AsyncClient) -> None:
    await save(client, "f/api/user", USER)
    first = await make_route(
        client,
        path="f/api/a",
        route_path="/things/:id",
        http_method="get",
        script_path="f/api/user",
    )
    assert first.status_code == 201
    clash = await make_route(
        client, path="f/api/b", route_path="things/:id", http_method="get", script_path="f/api/user"
    )
    assert clash.status_code == 409 and "already taken" in clash.json()["error"]["message"]
    other_method = await make_route(
        client,
        path="f/api/c",
        route_path="things/:id",
        http_method="delete",
        script_path="f/api/user",
    )
    assert other_method.status_code == 201
    missing = await make_route(client, path="f/api/d", route_path="x", script_path="f/api/none")
    assert missing.status_code == 404
    listed = (await client.get("/api/w/main/http_triggers/list")).json()
    assert [t["path"] for t in listed] == ["f/api/a", "f/api/c"]


async def test_token_routes_need_a_token_and_public_ones_do_not(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/api/user", USER)
    await make_route(
        client,
        path="f/api/private",
        route_path="private/:id",
        http_method="get",
        script_path="f/api/user",
        authentication="token",
    )
    await make_route(
        client,
        path="f/api/public",
        route_path="public/:id",
        http_method="get",
        script_path="f/api/user",
        authentication="none",
    )
    token = client.headers.pop("Authorization").removeprefix("Bearer ")
    assert (await client.get("/api/r/private/1")).status_code == 401
    assert (
        await client.get("/api/r/private/1", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    assert (await client.get(f"/api/r/private/1?token={token}")).json()["id"] == 1
    assert (await client.get("/api/r/public/2")).json()["double"] == 4


async def test_signature_routes_check_an_hmac_of_the_body(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/api/echo", "def main(event: str):\n    return event\n")
    await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/api/hook_secret", "value": "shhh", "is_secret": True},
    )
    response = await make_route(
        client,
        path="f/api/github",
        route_path="hooks/github",
        http_method="post",
        script_path="f/api/echo",
        authentication="signature",
        signature_secret="f/api/hook_secret",
        signature_header="X-Hub-Signature-256",
    )
    assert response.status_code == 201, response.text
    client.headers.pop("Authorization")
    body = b'{"event": "push"}'
    good = "sha256=" + hmac.new(b"shhh", body, hashlib.sha256).hexdigest()
    ok = await client.post(
        "/api/r/hooks/github",
        content=body,
        headers={"X-Hub-Signature-256": good, "Content-Type": "application/json"},
    )
    assert ok.status_code == 200 and ok.json() == "push"
    tampered = await client.post(
        "/api/r/hooks/github",
        content=b'{"event": "pull"}',
        headers={"X-Hub-Signature-256": good, "Content-Type": "application/json"},
    )
    assert tampered.status_code == 401
    unsigned = await client.post("/api/r/hooks/github", content=body)
    assert unsigned.status_code == 401


async def test_signature_route_needs_a_secret(client: httpx.AsyncClient) -> None:
    await save(client, "f/api/echo", "def main(event: str):\n    return event\n")
    response = await make_route(
        client,
        path="f/api/bad",
        route_path="hooks/bad",
        script_path="f/api/echo",
        authentication="signature",
    )
    assert response.status_code == 422


async def test_scripts_shape_their_response(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/api/csv", SHAPED)
    await make_route(
        client,
        path="f/api/csv",
        route_path="export/:id",
        http_method="get",
        script_path="f/api/csv",
        authentication="none",
    )
    response = await client.get("/api/r/export/7")
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-made-by"] == "script"
    assert response.text == "id\n7\n"


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        ("def main():\n    raise KeyError('nope')\n", 500, "job_failed"),
        ("import time\n\ndef main():\n    time.sleep(30)\n", 504, "timeout"),
    ],
)
async def test_failures_and_timeouts(
    client: httpx.AsyncClient, worker: service.Worker, content: str, status: int, code: str
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/api/bad", "content": content, "language": "python3", "timeout": 1},
    )
    assert response.status_code == 201
    await make_route(
        client,
        path="f/api/bad",
        route_path="bad",
        http_method="get",
        script_path="f/api/bad",
        authentication="none",
    )
    response = await client.get("/api/r/bad")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
