"""Saving and reading flows: OpenFlow documents in JSON or YAML, versions, validation."""

from __future__ import annotations

from typing import Any

import httpx

from tests.test_api_scripts import HELLO, save

DOUBLE = "def main(x: int):\n    return x * 2\n"


def flow(path: str, modules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "path": path,
        "summary": "a flow",
        "description": "",
        "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        "value": {"modules": modules, **extra},
    }


def script_step(step_id: str, path: str, **transforms: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "value": {"type": "script", "path": path, "input_transforms": transforms},
    }


def js(expr: str) -> dict[str, str]:
    return {"type": "javascript", "expr": expr}


async def test_create_get_update_history_delete(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/double", DOUBLE)
    body = flow("f/demo/flow", [script_step("a", "f/demo/double", x=js("flow_input.n"))])
    created = await client.post("/api/w/main/flows/create", json=body)
    assert created.status_code == 201, created.text
    assert created.text == "f/demo/flow"
    got = (await client.get("/api/w/main/flows/get/f/demo/flow")).json()
    assert got["path"] == "f/demo/flow"
    assert got["value"] == body["value"]
    assert got["schema"] == body["schema"]
    again = await client.post("/api/w/main/flows/create", json=body)
    assert again.status_code == 409
    body["summary"] = "second"
    updated = await client.post("/api/w/main/flows/update/f/demo/flow", json=body)
    assert updated.status_code == 200, updated.text
    history = (await client.get("/api/w/main/flows/history/p/f/demo/flow")).json()
    assert [v["summary"] for v in history] == ["second", "a flow"]
    listed = (await client.get("/api/w/main/flows/list")).json()
    assert [(f["path"], f["summary"]) for f in listed] == [("f/demo/flow", "second")]
    deleted = await client.delete("/api/w/main/flows/delete/f/demo/flow")
    assert deleted.status_code == 200
    assert (await client.get("/api/w/main/flows/get/f/demo/flow")).status_code == 404
    missing = await client.post("/api/w/main/flows/update/f/demo/flow", json=body)
    assert missing.status_code == 404


async def test_yaml_body(client: httpx.AsyncClient) -> None:
    document = """
path: f/demo/yaml
summary: from yaml
value:
  modules:
    - id: a
      value:
        type: rawscript
        language: python3
        content: |
          def main(x: int):
              return x + 1
        input_transforms:
          x:
            type: javascript
            expr: flow_input.n
schema:
  type: object
  properties:
    n: {type: integer}
"""
    created = await client.post(
        "/api/w/main/flows/create",
        content=document,
        headers={"content-type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    got = (await client.get("/api/w/main/flows/get/f/demo/yaml")).json()
    assert got["summary"] == "from yaml"
    assert got["value"]["modules"][0]["value"]["language"] == "python3"
    # the inline script is stored runnable, but not listed as a script
    scripts = (await client.get("/api/w/main/scripts/list")).json()
    assert scripts == []


async def test_every_problem_is_named(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    body = flow(
        "f/demo/bad",
        [
            script_step("a", "f/demo/missing"),
            script_step("b", "f/demo/hello", name=js("results.c.x")),
            script_step("b", "f/demo/hello", name=js("flow_input.n +")),
            script_step("c", "f/demo/hello"),
            {
                "id": "loop",
                "value": {
                    "type": "forloopflow",
                    "iterator": js("results.a"),
                    "skip_failures": False,
                    "modules": [script_step("inner", "f/demo/hello", name=js("results.later"))],
                },
            },
            script_step("later", "f/demo/hello"),
        ],
    )
    response = await client.post("/api/w/main/flows/create", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    messages = [d["message"] for d in error["details"]]
    assert any("no script at 'f/demo/missing'" in m for m in messages)
    assert any("duplicate step id 'b'" in m for m in messages)
    assert any("results.c" in m and "not a step that comes earlier" in m for m in messages)
    assert any("does not parse" in m for m in messages)
    assert any("results.later" in m for m in messages)
    assert len(messages) == 5, messages
    assert (await client.get("/api/w/main/flows/get/f/demo/bad")).status_code == 404


async def test_unknown_module_type_is_refused(client: httpx.AsyncClient) -> None:
    body = flow("f/demo/bad", [{"id": "a", "value": {"type": "teleport"}}])
    response = await client.post("/api/w/main/flows/create", json=body)
    assert response.status_code == 422
    assert "teleport" in response.json()["error"]["message"]


async def test_operator_cannot_save_a_flow(client: httpx.AsyncClient) -> None:
    user = {"username": "op", "password": "pw-123456789", "role": "operator"}
    assert (await client.post("/api/users/create", json=user)).status_code in (200, 201)
    login = await client.post(
        "/api/auth/login", json={"username": "op", "password": user["password"]}
    )
    token = login.text.strip('"')
    response = await client.post(
        "/api/w/main/flows/create",
        json=flow("f/demo/op", [{"id": "a", "value": {"type": "identity"}}]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
