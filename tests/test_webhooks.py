"""Webhooks with scoped tokens: any body shape, token in the URL, 403 outside the scope."""

from __future__ import annotations

import httpx
import pytest

from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from worker import service

ECHO = (
    "def main(body=None, name: str = 'x', **extra):\n"
    "    return {'body': body, 'name': name, **extra}\n"
)


async def scoped_token(client: httpx.AsyncClient, *scopes: str) -> str:
    response = await client.post(
        "/api/users/tokens/create", json={"label": "hook", "scopes": list(scopes)}
    )
    assert response.status_code == 201
    return response.text


async def test_webhook_runs_async_by_default_and_sync_on_request(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/hooks/echo", ECHO)
    response = await client.post("/api/w/main/webhooks/f/hooks/echo", json={"name": "ada"})
    assert response.status_code == 201
    maybe = await wait_completed(client, response.text)
    assert maybe["result"] == {"body": None, "name": "ada"}
    response = await client.post("/api/w/main/webhooks/f/hooks/echo?wait=true", json={"name": "bo"})
    assert response.status_code == 200
    assert response.json() == {"body": None, "name": "bo"}


@pytest.mark.parametrize(
    ("content", "content_type", "body"),
    [
        (b"[1, 2]", "application/json", [1, 2]),
        (b"plain text", "text/plain", "plain text"),
        (b"a=1&b=two", "application/x-www-form-urlencoded", {"a": "1", "b": "two"}),
    ],
)
async def test_any_body_shape_arrives_as_body(
    client: httpx.AsyncClient,
    worker: service.Worker,
    content: bytes,
    content_type: str,
    body: object,
) -> None:
    await save(client, "f/hooks/echo", ECHO)
    response = await client.post(
        "/api/w/main/webhooks/f/hooks/echo?wait=true",
        content=content,
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["body"] == body


async def test_included_headers_become_arguments(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/hooks/echo", ECHO)
    response = await client.post(
        "/api/w/main/webhooks/f/hooks/echo?wait=true&include_header=X-Event",
        json={},
        headers={"X-Event": "push", "X-Other": "no"},
    )
    assert response.json() == {"body": None, "name": "x", "X-Event": "push"}


async def test_scoped_token_runs_its_script_only(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/hooks/echo", ECHO)
    await save(client, "f/hooks/other", ECHO)
    token = await scoped_token(client, "run:f/hooks/echo")
    client.headers.pop("Authorization")
    # the token in the URL, as a sender that sets no headers would send it
    response = await client.post(
        f"/api/w/main/webhooks/f/hooks/echo?wait=true&token={token}", json={}
    )
    assert response.status_code == 200
    job_id = (await client.post(f"/api/w/main/webhooks/f/hooks/echo?token={token}", json={})).text
    assert (await client.get(f"/api/w/main/jobs_u/get/{job_id}?token={token}")).status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    for method, url in [
        ("POST", "/api/w/main/webhooks/f/hooks/other"),
        ("POST", "/api/w/main/jobs/run_wait_result/p/f/hooks/other"),
        ("POST", "/api/w/main/scripts/create"),
        ("GET", "/api/w/main/jobs/list"),
        ("POST", "/api/users/tokens/create"),
    ]:
        response = await client.request(
            method,
            url,
            headers=bearer,
            json={"path": "f/hooks/echo", "content": "", "language": "python3"},
        )
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "forbidden"


async def test_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users/tokens/create", json={"label": "brief", "expires_in": -1}
    )
    token = response.text
    client.headers["Authorization"] = f"Bearer {token}"
    assert (await client.get("/api/w/main/scripts/list")).status_code == 401


async def test_webhook_arguments_are_validated(client: httpx.AsyncClient) -> None:
    await save(client, "f/hooks/typed", "def main(count: int):\n    return count\n")
    response = await client.post("/api/w/main/webhooks/f/hooks/typed", json={"count": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "count"
