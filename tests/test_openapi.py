"""The workspace's OpenAPI document: one typed sync and async operation per script."""

from __future__ import annotations

import httpx
import jsonschema

from tests.test_api_scripts import save

TYPED = (
    "from typing import Literal, TypedDict\n\n"
    "class Out(TypedDict):\n"
    "    total: int\n\n"
    "def main(items: list[int], mode: Literal['sum', 'max'] = 'sum') -> Out:\n"
    '    """Add or pick numbers."""\n'
    "    return {'total': sum(items) if mode == 'sum' else max(items)}\n"
)


async def test_each_script_is_a_typed_operation(client: httpx.AsyncClient) -> None:
    await save(client, "f/math/total", TYPED)
    await save(client, "f/demo/plain", "def main(x):\n    return x\n")
    document = (await client.get("/api/w/main/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    sync = document["paths"]["/api/w/main/jobs/run_wait_result/p/f/math/total"]["post"]
    body = sync["requestBody"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator.check_schema(body)
    assert body["properties"]["items"] == {"type": "array", "items": {"type": "integer"}}
    assert body["properties"]["mode"]["enum"] == ["sum", "max"]
    assert body["required"] == ["items"]
    result = sync["responses"]["200"]["content"]["application/json"]["schema"]
    assert result["properties"]["total"] == {"type": "integer"}
    assert sync["summary"] == "Add or pick numbers."
    assert sync["operationId"] == "f_math_total_sync"
    run = document["paths"]["/api/w/main/jobs/run/p/f/math/total"]["post"]
    assert run["responses"]["201"]["content"]["text/plain"]["schema"]["format"] == "uuid"
    assert "/api/w/main/jobs/run/p/f/demo/plain" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
