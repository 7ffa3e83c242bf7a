"""Saving and reading scripts through the HTTP API, and the errors a user meets."""

from __future__ import annotations

import asyncio

import httpx
import pytest

HELLO = 'def main(name: str = "world"):\n    return {"greeting": f"hello {name}"}\n'


async def save(
    client: httpx.AsyncClient, path: str, content: str, language: str = "python3"
) -> str:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": path, "content": content, "language": language},
    )
    assert response.status_code == 201, response.text
    return response.text


async def settled_version(
    client: httpx.AsyncClient, hash_: str, timeout_s: float = 120
) -> dict[str, object]:
    """The version once a worker has resolved its lock (or failed to)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        version: dict[str, object] = (await client.get(f"/api/w/main/scripts/get/h/{hash_}")).json()
        if version["lock_status"] != "pending":
            return version
        assert asyncio.get_running_loop().time() < deadline, "the lock stayed pending"
        await asyncio.sleep(0.2)


async def test_save_returns_a_stable_hash_per_content(client: httpx.AsyncClient) -> None:
    first = await save(client, "f/demo/hello", HELLO)
    again = await save(client, "f/demo/hello", HELLO)
    changed = await save(client, "f/demo/hello", HELLO.replace("hello", "hi"))
    assert first == again
    assert changed != first
    assert len(first) == 64


async def test_path_points_at_the_newest_version_and_old_ones_stay(
    client: httpx.AsyncClient,
) -> None:
    old = await save(client, "f/demo/hello", HELLO)
    new = await save(client, "f/demo/hello", HELLO.replace("hello", "hi"))
    latest = (await client.get("/api/w/main/scripts/get/p/f/demo/hello")).json()
    assert latest["hash"] == new
    assert latest["path"] == "f/demo/hello"
    assert latest["language"] == "python3"
    assert latest["schema"]["properties"]["name"]["type"] == "string"
    by_hash = (await client.get(f"/api/w/main/scripts/get/h/{old}")).json()
    assert by_hash["content"] == HELLO
    # saving the old content again makes it the newest again
    assert await save(client, "f/demo/hello", HELLO) == old
    latest = (await client.get("/api/w/main/scripts/get/p/f/demo/hello")).json()
    assert latest["hash"] == old


async def test_list_shows_each_path_once(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/b", HELLO)
    await save(client, "f/demo/a", HELLO)
    await save(client, "f/demo/a", HELLO + "\n")
    listed = (await client.get("/api/w/main/scripts/list")).json()
    assert [s["path"] for s in listed] == ["f/demo/a", "f/demo/b"]


async def test_language_aliases(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/alias", HELLO, language="python")
    script = (await client.get("/api/w/main/scripts/get/p/f/demo/alias")).json()
    assert script["language"] == "python3"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "demo/hello", "content": HELLO, "language": "python3"}, "path"),
        ({"path": "f/demo/x", "content": HELLO, "language": "cobol"}, "language"),
        ({"path": "f/demo/x", "language": "python3"}, "content"),
        ({"path": "f/demo/x", "content": 3, "language": "python3"}, "content"),
    ],
)
async def test_bad_saves_name_the_field(client: httpx.AsyncClient, body: dict, field: str) -> None:
    response = await client.post("/api/w/main/scripts/create", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"].startswith("invalid")
    assert field in str(error["details"]) or field in error["message"]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/w/main/scripts/create", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_unknown_script_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/w/main/scripts/get/p/f/demo/missing")
    assert response.status_code == 404
    assert "Traceback" not in response.text
    response = await client.get("/api/w/main/scripts/get/h/deadbeef")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}]
)
async def test_routes_need_a_valid_token(client: httpx.AsyncClient, headers: dict) -> None:
    client.headers.pop("Authorization")
    for method, url in [
        ("GET", "/api/w/main/scripts/list"),
        ("POST", "/api/w/main/scripts/create"),
        ("GET", "/api/w/main/jobs/list"),
        ("POST", "/api/w/main/jobs/run_wait_result/p/f/demo/hello"),
        ("GET", "/api/workers/list"),
    ]:
        response = await client.request(method, url, headers=headers)
        assert response.status_code == 401, (method, url)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization")
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_token_by_query_parameter(client: httpx.AsyncClient) -> None:
    token = client.headers.pop("Authorization").removeprefix("Bearer ")
    response = await client.get(f"/api/w/main/scripts/list?token={token}")
    assert response.status_code == 200


async def test_history_lists_every_version_newest_first(client: httpx.AsyncClient) -> None:
    first = await save(client, "f/demo/hist", HELLO)
    second = await save(client, "f/demo/hist", HELLO.replace("hello", "hey"))
    history = (await client.get("/api/w/main/scripts/history/p/f/demo/hist")).json()
    assert [v["script_hash"] for v in history] == [second, first]
    missing = await client.get("/api/w/main/scripts/history/p/f/demo/nothing")
    assert missing.status_code == 404


async def test_tokens_are_listed_by_prefix_and_revocable(client: httpx.AsyncClient) -> None:
    token = (await client.post("/api/users/tokens/create", json={"label": "laptop"})).text
    listed = (await client.get("/api/users/tokens/list")).json()
    mine = [t for t in listed if t["label"] == "laptop"]
    assert len(mine) == 1 and token.startswith(mine[0]["prefix"]) and len(mine[0]["prefix"]) < 16
    assert token not in str(listed)
    other = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/w/main/scripts/list", headers=other)).status_code == 200
    revoked = await client.delete(f"/api/users/tokens/delete/{mine[0]['prefix']}")
    assert revoked.status_code == 200
    assert (await client.get("/api/w/main/scripts/list", headers=other)).status_code == 401
