"""Each flow module type and option, run by a real worker (or by no worker at all)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from server import db, settings
from tests.test_api_scripts import save
from tests.test_flows_api import js, script_step
from tests.test_flows_run import ADD, BOOM, DOUBLE, SLEEPY, create, job, raw, run, static, wait_done
from tests.test_retries import FLAKY
from worker import service

ITEMS = {"type": "object", "properties": {"items": {"type": "array"}}}


def identity(step_id: str, **options: Any) -> dict[str, Any]:
    return {"id": step_id, "value": {"type": "identity"}, **options}


def loop(step_id: str, iterator: str, modules: list[dict[str, Any]], **opts: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "value": {
            "type": "forloopflow",
            "iterator": js(iterator),
            "skip_failures": opts.pop("skip_failures", False),
            "modules": modules,
            **opts,
        },
    }


@contextlib.asynccontextmanager
async def a_worker(
    pool: db.Pool, dsn: str, config: settings.Settings, name: str = "late-worker"
) -> AsyncIterator[service.Worker]:
    running = service.Worker(config, pool, dsn, name=name)
    stop = asyncio.Event()
    task = asyncio.ensure_future(running.run(stop))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_sequential_loop(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await create(
        client,
        "f/demo/loop",
        [
            loop(
                "l",
                "flow_input.items",
                [
                    raw(
                        "twice",
                        ADD,
                        a=js("flow_input.iter.value * 2"),
                        b=js("flow_input.iter.index"),
                    )
                ],
            ),
            identity("after"),
        ],
        schema=ITEMS,
    )
    response = await run(client, "f/demo/loop", {"items": [10, 20, 30]})
    assert response.status_code == 200, response.text
    assert response.json() == [20, 41, 62]


async def test_instant_loops_need_no_worker(client: httpx.AsyncClient) -> None:
    """Identity bodies and empty loops end inside the starting transaction, any length."""
    await create(
        client,
        "f/demo/instant",
        [
            loop("empty", "[]", [identity("nothing")]),
            loop("many", "flow_input.items", [identity("same")]),
        ],
        schema=ITEMS,
    )
    items = list(range(1500))
    response = await run(client, "f/demo/instant", {"items": items})
    assert response.status_code == 200, response.text
    assert response.json() == items


async def test_parallel_loop_respects_parallelism(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    await save(client, "f/demo/double", DOUBLE)
    await create(
        client,
        "f/demo/parallel",
        [
            loop(
                "l",
                "flow_input.items",
                [script_step("d", "f/demo/double", x=js("flow_input.iter.value"))],
                parallel=True,
                parallelism=static(2),
            )
        ],
        schema=ITEMS,
    )
    started = await client.post(
        "/api/w/main/jobs/run/f/f/demo/parallel", json={"items": [1, 2, 3, 4, 5]}
    )
    assert started.status_code == 201
    # no worker yet: exactly two iterations have started, each with its step queued
    waiting = await pool.fetch("SELECT kind, status FROM queue WHERE id <> $1", started.text)
    assert sorted((r["kind"], r["status"]) for r in waiting) == [
        ("flow", "running"),
        ("flow", "running"),
        ("script", "queued"),
        ("script", "queued"),
    ]
    status = (await job(client, started.text))["flow_status"]["modules"][0]
    assert status["iterator"] == {"index": 2, "itered": [1, 2, 3, 4, 5]}
    async with a_worker(pool, dsn, config):
        done = await wait_done(client, started.text)
    assert done["success"] is True, done
    assert done["result"] == [2, 4, 6, 8, 10]
    status = done["flow_status"]["modules"][0]
    assert len(status["flow_jobs"]) == 5
    assert status["flow_jobs_success"] == [True] * 5


async def test_loop_failures(client: httpx.AsyncClient, worker: service.Worker) -> None:
    picky = "def main(x: int):\n    if x == 2:\n        raise ValueError('two')\n    return x\n"
    body = [raw("maybe", picky, x=js("flow_input.iter.value"))]
    await create(client, "f/demo/strict", [loop("l", "flow_input.items", body)], schema=ITEMS)
    await create(
        client,
        "f/demo/lenient",
        [loop("l", "flow_input.items", body, skip_failures=True)],
        schema=ITEMS,
    )
    strict = await run(client, "f/demo/strict", {"items": [1, 2, 3]})
    assert strict.status_code == 500
    assert "two" in strict.json()["error"]["message"]
    lenient = await run(client, "f/demo/lenient", {"items": [1, 2, 3]})
    assert lenient.status_code == 200, lenient.text
    first, second, third = lenient.json()
    assert (first, third) == (1, 3)
    assert second["error"]["name"] == "ValueError"


async def test_branchone(client: httpx.AsyncClient, worker: service.Worker) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    await create(
        client,
        "f/demo/branch",
        [
            identity("start"),
            {
                "id": "b",
                "value": {
                    "type": "branchone",
                    "branches": [
                        {
                            "expr": "flow_input.n > 10",
                            "modules": [raw("big", DOUBLE, x=js("flow_input.n"))],
                        },
                        {"expr": "flow_input.n < 0", "modules": []},
                    ],
                    "default": [raw("small", ADD, a=js("flow_input.n"), b=static(1))],
                },
            },
        ],
        schema=schema,
    )
    assert (await run(client, "f/demo/branch", {"n": 50})).json() == 100
    assert (await run(client, "f/demo/branch", {"n": 5})).json() == 6
    # an empty branch passes the previous result through
    assert (await run(client, "f/demo/branch", {"n": -1})).json() is None


async def test_branchall_with_a_nested_loop(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await create(
        client,
        "f/demo/all",
        [
            {
                "id": "b",
                "value": {
                    "type": "branchall",
                    "parallel": True,
                    "branches": [
                        {"modules": [raw("one", DOUBLE, x=static(1))]},
                        {
                            "modules": [
                                loop(
                                    "inner",
                                    "flow_input.items",
                                    [raw("sq", DOUBLE, x=js("flow_input.iter.value"))],
                                )
                            ]
                        },
                        {"modules": [raw("bad", BOOM)], "skip_failure": True},
                    ],
                },
            },
            raw("sum", "def main(r: list):\n    return r[0] + sum(r[1])\n", r=js("results.b")),
        ],
        schema=ITEMS,
    )
    response = await run(client, "f/demo/all", {"items": [1, 2]})
    assert response.status_code == 200, response.text
    assert response.json() == 2 + 2 + 4


async def test_skip_if_stop_after_if_and_continue_on_error(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    await create(
        client,
        "f/demo/options",
        [
            raw("first", DOUBLE, x=js("flow_input.n")),
            {**raw("skipped", BOOM), "skip_if": {"expr": "results.first > 5"}},
            {**raw("tolerated", BOOM, x=static(7)), "continue_on_error": True},
            {
                **raw("check", DOUBLE, x=js("results.first")),
                "stop_after_if": {"expr": "result > 100"},
            },
            raw("last", ADD, a=js("results.check"), b=static(1)),
        ],
        schema=schema,
    )
    small = await run(client, "f/demo/options", {"n": 10})
    assert small.status_code == 200, small.text
    assert small.json() == 41
    big = await run(client, "f/demo/options", {"n": 30})
    assert big.json() == 120  # stopped after `check`
    started = await client.post("/api/w/main/jobs/run/f/f/demo/options", json={"n": 10})
    modules = (await wait_done(client, started.text))["flow_status"]["modules"]
    assert modules[1]["skipped"] is True
    assert modules[2]["result"]["error"]["message"] == "boom 7"


async def test_stop_after_if_with_an_error_message(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await create(
        client,
        "f/demo/guard",
        [
            {
                **raw("a", DOUBLE, x=static(3)),
                "stop_after_if": {"expr": "result === 6", "error_message": "six is not allowed"},
            },
            raw("b", DOUBLE, x=static(1)),
        ],
    )
    response = await run(client, "f/demo/guard", {})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "StoppedWithError: six is not allowed"


async def test_retry_then_failure_module(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    await create(
        client,
        "f/demo/retry",
        [
            {
                **raw("flaky", FLAKY, counter=static(str(shared_dir / "counter"))),
                "retry": {"constant": {"attempts": 2, "seconds": 0}},
            }
        ],
    )
    response = await run(client, "f/demo/retry", {})
    assert response.status_code == 200, response.text
    assert response.json() == "succeeded on try 3"
    handler = "def main(message: str, step: str):\n    return f'handled {step}: {message}'\n"
    await create(
        client,
        "f/demo/handled",
        [raw("a", BOOM, x=static(4))],
        failure_module=raw(
            "failure", handler, message=js("error.message"), step=js("previous_result.step_id")
        ),
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/handled", json={})
    done = await wait_done(client, started.text)
    assert done["success"] is False
    assert done["result"]["error"]["message"] == "boom 4"
    failure = done["flow_status"]["failure_module"]
    assert failure["type"] == "Success"
    assert failure["result"] == "handled a: boom 4"


async def test_sleep_and_timeout(
    client: httpx.AsyncClient, worker: service.Worker, pool: db.Pool
) -> None:
    await save(client, "f/demo/sleepy", SLEEPY)
    await create(
        client,
        "f/demo/sleeps",
        [
            {**raw("a", DOUBLE, x=static(1)), "sleep": static(1)},
            raw("b", DOUBLE, x=js("results.a")),
        ],
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/sleeps", json={})
    done = await wait_done(client, started.text)
    assert done["result"] == 4
    a, b = (m["job"] for m in done["flow_status"]["modules"])
    gap = await pool.fetchval(
        "SELECT extract(epoch FROM b.started_at - a.completed_at) FROM completed a, completed b"
        " WHERE a.id = $1 AND b.id = $2",
        a,
        b,
    )
    assert gap >= 0.9
    await create(
        client,
        "f/demo/timeout",
        [{**script_step("slow", "f/demo/sleepy", s=static(30)), "timeout": static(1)}],
    )
    response = await run(client, "f/demo/timeout", {})
    assert response.status_code == 500
    assert "time" in response.json()["error"]["message"].lower()


async def test_sub_flow(client: httpx.AsyncClient, worker: service.Worker) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    await create(client, "f/demo/child", [raw("d", DOUBLE, x=js("flow_input.n"))], schema=schema)
    await create(
        client,
        "f/demo/parent",
        [
            {
                "id": "sub",
                "value": {
                    "type": "flow",
                    "path": "f/demo/child",
                    "input_transforms": {"n": js("flow_input.n + 1")},
                },
            },
            raw("plus", ADD, a=js("results.sub"), b=static(1)),
        ],
        schema=schema,
    )
    response = await run(client, "f/demo/parent", {"n": 4})
    assert response.status_code == 200, response.text
    assert response.json() == 11


async def test_cancel_a_flow_cancels_its_running_step(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/sleepy", SLEEPY)
    await create(
        client,
        "f/demo/cancel",
        [script_step("slow", "f/demo/sleepy", s=static(30)), identity("never")],
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/cancel", json={})
    flow_id = started.text
    for _ in range(200):
        child_id = (await job(client, flow_id))["flow_status"]["modules"][0]["job"]
        if (await job(client, child_id))["running"]:
            break
        await asyncio.sleep(0.05)
    canceled = await client.post(
        f"/api/w/main/jobs_u/queue/cancel/{flow_id}", json={"reason": "stop"}
    )
    assert canceled.status_code == 200, canceled.text
    done = await wait_done(client, flow_id, timeout_s=5)
    assert done["canceled"] is True
    assert done["status"] == "canceled"
    child = await wait_done(client, child_id, timeout_s=10)
    assert child["status"] == "canceled"


async def test_restart_from_a_step_reuses_earlier_results(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    counter, flag = shared_dir / "runs", shared_dir / "fixed"
    counting = (
        "def main(path: str):\n"
        "    with open(path, 'a') as f:\n"
        "        f.write('x')\n"
        "    return 21\n"
    )
    guarded = (
        "import os\n\n"
        "def main(flag: str, x: int):\n"
        "    if not os.path.exists(flag):\n"
        "        raise RuntimeError('not fixed yet')\n"
        "    return x * 2\n"
    )
    await create(
        client,
        "f/demo/restart",
        [
            raw("expensive", counting, path=static(str(counter))),
            raw("guarded", guarded, flag=static(str(flag)), x=js("results.expensive")),
        ],
    )
    first = await client.post("/api/w/main/jobs/run/f/f/demo/restart", json={})
    assert (await wait_done(client, first.text))["success"] is False
    unknown = await client.post(f"/api/w/main/jobs/restart/f/{first.text}/from/nope")
    assert unknown.status_code == 422
    flag.write_text("yes")
    again = await client.post(f"/api/w/main/jobs/restart/f/{first.text}/from/guarded")
    assert again.status_code == 201, again.text
    done = await wait_done(client, again.text)
    assert done["success"] is True, done
    assert done["result"] == 42
    assert counter.read_text() == "x"  # `expensive` ran once, in the first run
    modules = done["flow_status"]["modules"]
    assert modules[0]["job"] == (await job(client, first.text))["flow_status"]["modules"][0]["job"]


async def test_a_failed_parallel_iteration_cancels_its_siblings(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    body = (
        "import time\n\n"
        "def main(x: int):\n"
        "    if x == 0:\n"
        "        raise ValueError('zero')\n"
        "    time.sleep(30)\n"
        "    return x\n"
    )
    await create(
        client,
        "f/demo/siblings",
        [
            loop(
                "l",
                "flow_input.items",
                [raw("step", body, x=js("flow_input.iter.value"))],
                parallel=True,
            )
        ],
        schema=ITEMS,
    )
    # one worker per iteration, so the failing one never waits behind a sleeper
    async with (
        a_worker(pool, dsn, config, "w1"),
        a_worker(pool, dsn, config, "w2"),
        a_worker(pool, dsn, config, "w3"),
    ):
        started = await client.post(
            "/api/w/main/jobs/run/f/f/demo/siblings", json={"items": [0, 1, 2]}
        )
        done = await wait_done(client, started.text, timeout_s=25)
        assert done["success"] is False
        assert "zero" in done["result"]["error"]["message"]
        iterations = done["flow_status"]["modules"][0]["flow_jobs"]
        ended = [await wait_done(client, i, timeout_s=15) for i in iterations]
    assert sorted(i["status"] for i in ended) == ["canceled", "canceled", "failure"]


async def test_loop_break_and_stop_after_all_iterations(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """On a loop, `stop_after_if` breaks after an iteration; `stop_after_all_iters_if` stops
    the flow once the loop has ended (Windmill's meaning of both)."""
    body = [raw("d", DOUBLE, x=js("flow_input.iter.value"))]
    await create(
        client,
        "f/demo/break",
        [
            {**loop("l", "flow_input.items", body), "stop_after_if": {"expr": "result >= 4"}},
            raw("sum", "def main(xs: list):\n    return sum(xs)\n", xs=js("results.l")),
        ],
        schema=ITEMS,
    )
    response = await run(client, "f/demo/break", {"items": [1, 2, 3, 4, 5]})
    assert response.status_code == 200, response.text
    assert response.json() == 2 + 4  # iterations 3..5 never ran
    await create(
        client,
        "f/demo/all_iters",
        [
            {
                **loop("l", "flow_input.items", body),
                "stop_after_all_iters_if": {"expr": "result.length > 1"},
            },
            raw("never", BOOM),
        ],
        schema=ITEMS,
    )
    response = await run(client, "f/demo/all_iters", {"items": [1, 2]})
    assert response.status_code == 200, response.text
    assert response.json() == [2, 4]
