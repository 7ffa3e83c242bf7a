"""A Windmill OpenFlow document, imported unchanged; joins under several workers; lost workers."""

from __future__ import annotations

from typing import Any

import httpx

from server import db, queue, settings
from tests.test_flows_api import js
from tests.test_flows_modules import a_worker
from tests.test_flows_run import DOUBLE, create, job, raw, wait_done
from worker import service

# As Windmill's editor exports it: extra fields we do not use are kept and ignored.
WINDMILL_FLOW: dict[str, Any] = {
    "summary": "Greet then count",
    "description": "exported from Windmill",
    "value": {
        "modules": [
            {
                "id": "a",
                "summary": "greet",
                "value": {
                    "type": "rawscript",
                    "content": "def main(name: str):\n    return f'hello {name}'\n",
                    "language": "python3",
                    "input_transforms": {"name": {"type": "javascript", "expr": "flow_input.name"}},
                    "lock": "",
                    "tag": None,
                    "is_trigger": False,
                    "assets": [],
                },
                "continue_on_error": False,
                "mock": {"enabled": False},
            },
            {
                "id": "b",
                "value": {
                    "type": "rawscript",
                    "content": 'msg="$1"\necho "${#msg}"\n',
                    "language": "bash",
                    "input_transforms": {"msg": {"type": "javascript", "expr": "results.a"}},
                },
            },
            {
                "id": "c",
                "value": {
                    "type": "forloopflow",
                    "iterator": {
                        "type": "javascript",
                        "expr": "[flow_input.name, `${results.a}!`]",
                    },
                    "skip_failures": True,
                    "parallel": False,
                    "parallelism": None,
                    "modules": [{"id": "d", "value": {"type": "identity", "flow": False}}],
                },
            },
        ],
        "same_worker": False,
        "concurrent_limit": None,
        "notes": [],
    },
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "order": ["name"],
        "properties": {"name": {"type": "string", "description": "", "default": "world"}},
        "required": [],
    },
}


async def test_a_windmill_flow_imports_and_runs_unchanged(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    created = await client.post(
        "/api/w/main/flows/create", json={"path": "f/demo/windmill", **WINDMILL_FLOW}
    )
    assert created.status_code == 201, created.text
    got = (await client.get("/api/w/main/flows/get/f/demo/windmill")).json()
    assert got["value"] == WINDMILL_FLOW["value"]
    assert got["schema"] == WINDMILL_FLOW["schema"]
    response = await client.post("/api/w/main/jobs/run_wait_result/f/f/demo/windmill", json={})
    assert response.status_code == 200, response.text
    assert response.json() == ["world", "hello world!"]
    started = await client.post("/api/w/main/jobs/run/f/f/demo/windmill", json={"name": "ada"})
    done = await wait_done(client, started.text)
    assert [m["result"] for m in done["flow_status"]["modules"]] == [
        "hello ada",
        9,
        ["ada", "hello ada!"],
    ]


async def test_parallel_joins_under_several_workers(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    items = list(range(12))
    await create(
        client,
        "f/demo/fanout",
        [
            {
                "id": "l",
                "value": {
                    "type": "forloopflow",
                    "iterator": js("flow_input.items"),
                    "skip_failures": False,
                    "parallel": True,
                    "modules": [raw("d", DOUBLE, x=js("flow_input.iter.value"))],
                },
            },
            raw("total", "def main(xs: list):\n    return sum(xs)\n", xs=js("results.l")),
        ],
        schema={"type": "object", "properties": {"items": {"type": "array"}}},
    )
    async with (
        a_worker(pool, dsn, config, "w1"),
        a_worker(pool, dsn, config, "w2"),
        a_worker(pool, dsn, config, "w3"),
    ):
        started = await client.post("/api/w/main/jobs/run/f/f/demo/fanout", json={"items": items})
        done = await wait_done(client, started.text, timeout_s=60)
    assert done["success"] is True, done
    assert done["result"] == 2 * sum(items)
    workers = await pool.fetch(
        "SELECT DISTINCT worker FROM completed WHERE kind = 'script' AND worker IS NOT NULL"
    )
    assert len(workers) >= 2


async def test_a_step_of_a_lost_worker_is_run_again(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    await create(
        client,
        "f/demo/lost",
        [raw("a", DOUBLE, x={"type": "static", "value": 1}), raw("b", DOUBLE, x=js("results.a"))],
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/lost", json={})
    # a worker leases the first step and dies without a word
    await queue.register_worker(pool, name="doomed", hostname="h", pid=1, tags=["default"])
    leased = await queue.lease(
        pool, worker="doomed", tags=["default"], job_token="t", default_timeout_s=60
    )
    assert leased is not None
    assert (await job(client, str(leased.id)))["flow_step_id"] == "a"
    async with a_worker(pool, dsn, config):
        done = await wait_done(client, started.text, timeout_s=30)
    assert done["success"] is True, done
    assert done["result"] == 4
