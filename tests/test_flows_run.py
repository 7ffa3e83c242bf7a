"""Running flows with a real worker: each module type and option, as a caller sees it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.test_api_scripts import save
from tests.test_flows_api import js, script_step
from tests.test_webhooks import scoped_token
from worker import service

DOUBLE = "def main(x: int):\n    return x * 2\n"
ADD = "def main(a: int, b: int = 0):\n    return a + b\n"
BOOM = "def main(x: int = 0):\n    raise ValueError(f'boom {x}')\n"
SLEEPY = "import time\n\ndef main(s: float = 30):\n    time.sleep(s)\n    return 'woke'\n"


def raw(step_id: str, content: str, **transforms: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "value": {
            "type": "rawscript",
            "language": "python3",
            "content": content,
            "input_transforms": transforms,
        },
    }


def static(value: Any) -> dict[str, Any]:
    return {"type": "static", "value": value}


async def create(
    client: httpx.AsyncClient,
    path: str,
    modules: list[dict[str, Any]],
    schema: dict[str, Any] | None = None,
    **value: Any,
) -> None:
    body = {
        "path": path,
        "summary": "",
        "value": {"modules": modules, **value},
        "schema": schema or {"type": "object", "properties": {}},
    }
    response = await client.post("/api/w/main/flows/create", json=body)
    assert response.status_code == 201, response.text


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/f/{path}", json=args)


async def job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/w/main/jobs_u/get/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_done(
    client: httpx.AsyncClient, job_id: str, timeout_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await job(client, job_id)
        if body["type"] == "CompletedJob":
            return body
        await asyncio.sleep(0.05)
    raise TimeoutError(job_id)


async def test_sequential_steps_pass_results(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/double", DOUBLE)
    await create(
        client,
        "f/demo/chain",
        [
            script_step("a", "f/demo/double", x=js("flow_input.n")),
            raw("b", ADD, a=js("results.a"), b=js("flow_input.n + 1")),
            {"id": "c", "value": {"type": "identity"}},
            script_step("d", "f/demo/double", x=js("previous_result")),
        ],
        schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    )
    response = await run(client, "f/demo/chain", {"n": 5})
    assert response.status_code == 200, response.text
    assert response.json() == ((5 * 2) + 6) * 2


async def test_input_is_validated_against_the_schema(
    client: httpx.AsyncClient,
) -> None:
    await create(
        client,
        "f/demo/typed",
        [{"id": "a", "value": {"type": "identity"}}],
        schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    )
    response = await client.post("/api/w/main/jobs/run/f/f/demo/typed", json={"n": "five"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "n"


async def test_flow_status_shows_each_step(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/double", DOUBLE)
    await create(
        client,
        "f/demo/status",
        [
            script_step("a", "f/demo/double", x=static(2)),
            script_step("b", "f/demo/double", x=js("results.a")),
        ],
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/status", json={})
    assert started.status_code == 201, started.text
    done = await wait_done(client, started.text)
    assert done["success"] is True, done
    assert done["result"] == 8
    assert done["job_kind"] == "flow"
    status = done["flow_status"]
    assert [m["type"] for m in status["modules"]] == ["Success", "Success"]
    assert [m["id"] for m in status["modules"]] == ["a", "b"]
    assert [m["result"] for m in status["modules"]] == [4, 8]
    child = await job(client, status["modules"][1]["job"])
    assert child["parent_job"] == started.text
    assert child["flow_step_id"] == "b"
    assert child["is_flow_step"] is True
    assert child["args"] == {"x": 4}
    listed = (await client.get("/api/w/main/jobs/list?script_path_exact=f/demo/status")).json()
    assert [(j["id"], j["job_kind"], j["language"]) for j in listed] == [
        (started.text, "flow", "flow")
    ]


async def test_a_failing_step_fails_the_flow(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/boom", BOOM)
    await save(client, "f/demo/double", DOUBLE)
    await create(
        client,
        "f/demo/fails",
        [script_step("a", "f/demo/boom", x=static(1)), script_step("b", "f/demo/double")],
    )
    response = await run(client, "f/demo/fails", {})
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert "boom 1" in error["message"]
    done = await job(client, error["details"]["job_id"])
    assert [m["type"] for m in done["flow_status"]["modules"]] == [
        "Failure",
        "WaitingForPriorSteps",
    ]


async def test_a_scoped_token_runs_its_flow_as_a_webhook(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """Windmill's flow webhooks are the run routes with a token in the query."""
    await create(client, "f/demo/hook", [raw("a", DOUBLE, x=js("flow_input.n"))])
    await create(client, "f/demo/other", [{"id": "a", "value": {"type": "identity"}}])
    token = await scoped_token(client, "run:f/demo/hook")
    client.headers.pop("Authorization")
    hook = await client.post(
        f"/api/w/main/jobs/run_wait_result/f/f/demo/hook?token={token}", json={"n": 4}
    )
    assert hook.status_code == 200, hook.text
    assert hook.json() == 8
    other = await client.post(f"/api/w/main/jobs/run/f/f/demo/other?token={token}", json={})
    assert other.status_code == 403
