"""Flows have every trigger a script has: schedules, webhooks, custom HTTP routes, scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from server import db, queue, scheduler, schedules
from tests.conftest import ADMIN_TOKEN
from tests.test_api_scripts import save
from tests.test_flows_run import create, js, raw, wait_done
from tests.test_schedules_leader import T0
from tests.test_webhooks import scoped_token
from worker import service

DOUBLE = "def main(x: int):\n    return x * 2\n"
BOOM = "def main(x: int = 0):\n    raise ValueError(f'boom {x}')\n"
TAKES_N = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
NOTIFY_STEP = (
    "def main(error: dict, job_id: str, schedule_path: str, path: str, channel: str):\n"
    "    return {'channel': channel, 'failed': path, 'message': error['message']}\n"
)
NOTIFY_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": kind}
        for name, kind in (
            ("error", "object"),
            ("job_id", "string"),
            ("schedule_path", "string"),
            ("path", "string"),
            ("channel", "string"),
        )
    },
    "required": ["error", "job_id", "schedule_path", "path", "channel"],
}
YEARLY = "0 0 1 1 *"


def notify_step() -> dict[str, Any]:
    """A step handed the flow's whole input, as a hook receives it."""
    return raw(
        "n", NOTIFY_STEP, **{name: js(f"flow_input.{name}") for name in NOTIFY_SCHEMA["required"]}
    )


async def doubling_flow(client: httpx.AsyncClient, path: str = "f/demo/double") -> None:
    await create(client, path, [raw("a", DOUBLE, x=js("flow_input.n"))], schema=TAKES_N)


def invalid_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    return {d["path"] for d in response.json()["error"]["details"]}


# -- schedules ------------------------------------------------------------------------------


async def schedule(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    body = {
        "path": "f/demo/nightly",
        "schedule": YEARLY,
        "script_path": "f/demo/double",
        "is_flow": True,
        "args": {"n": 1},
    } | fields
    return await client.post("/api/w/main/schedules/create", json=body)


async def test_a_schedule_of_a_flow_is_saved_and_checked_against_the_flow(
    client: httpx.AsyncClient,
) -> None:
    await doubling_flow(client)
    response = await schedule(client)
    assert response.status_code == 201, response.text
    saved = (await client.get("/api/w/main/schedules/get/f/demo/nightly")).json()
    assert (saved["script_path"], saved["is_flow"]) == ("f/demo/double", True)
    assert len(saved["next_fires"]) == 5
    # the arguments are checked against the flow's schema, as a run's would be
    assert invalid_fields(await schedule(client, path="f/demo/b", args={"n": "x"})) == {"args.n"}
    assert invalid_fields(await schedule(client, path="f/demo/c", args={})) == {"args.n"}
    # a script of that name is not a flow, and a flow is not a script
    await save(client, "f/demo/script", DOUBLE)
    missing = await schedule(client, path="f/demo/d", script_path="f/demo/script")
    assert invalid_fields(missing) == {"script_path"}
    assert missing.json()["error"]["details"][0]["message"] == "no flow at 'f/demo/script'"
    not_script = await schedule(client, path="f/demo/e", is_flow=False)
    assert invalid_fields(not_script) == {"script_path"}
    # a flow retries per step: a schedule of one takes no retry of its own
    retried = await schedule(client, path="f/demo/f", retry={"constant": {"attempts": 2}})
    assert invalid_fields(retried) == {"retry"}
    # update can turn a schedule of a script into one of a flow
    update = {"schedule": YEARLY, "script_path": "f/demo/script", "args": {"x": 2}}
    response = await client.post("/api/w/main/schedules/update/f/demo/nightly", json=update)
    assert response.status_code == 200, response.text
    saved = (await client.get("/api/w/main/schedules/get/f/demo/nightly")).json()
    assert (saved["script_path"], saved["is_flow"]) == ("f/demo/script", False)


async def test_hooks_may_be_flows(client: httpx.AsyncClient) -> None:
    await doubling_flow(client)
    await create(client, "f/demo/notify", [notify_step()], schema=NOTIFY_SCHEMA)
    extra = {"channel": "ops"}
    response = await schedule(client, on_failure="flow/f/demo/notify", on_failure_extra_args=extra)
    assert response.status_code == 201, response.text
    saved = (await client.get("/api/w/main/schedules/get/f/demo/nightly")).json()
    assert saved["on_failure"] == "flow/f/demo/notify"
    # the hook is checked against what it will be given: here it lacks `channel`
    lacking = await schedule(client, path="f/demo/b", on_recovery="flow/f/demo/notify")
    assert invalid_fields(lacking) == {"on_recovery_extra_args.channel"}
    nowhere = await schedule(client, path="f/demo/c", on_failure="flow/f/demo/nothing")
    assert invalid_fields(nowhere) == {"on_failure"}


async def test_the_running_scheduler_starts_the_flow(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """End to end in one process: the app's leader fires every second, a worker runs steps."""
    await doubling_flow(client)
    response = await schedule(client, schedule="* * * * * *", args={"n": 21})
    assert response.status_code == 201, response.text
    deadline = time.monotonic() + 20
    done: list[dict[str, Any]] = []
    while not done:
        assert time.monotonic() < deadline, "no scheduled flow run completed in time"
        listed = await client.get(
            "/api/w/main/jobs/list", params={"schedule_path": "f/demo/nightly"}
        )
        done = [j for j in listed.json() if j["type"] == "CompletedJob"]
        await asyncio.sleep(0.1)
    await client.post("/api/w/main/schedules/setenabled/f/demo/nightly", json={"enabled": False})
    run = await wait_done(client, done[-1]["id"])
    assert (run["job_kind"], run["script_path"], run["success"]) == ("flow", "f/demo/double", True)
    assert run["result"] == 42
    assert run["schedule_path"] == "f/demo/nightly"
    assert run["flow_status"]["modules"][0]["type"] == "Success"
    # the fire time is the job's scheduled_for, on a whole second
    assert datetime.fromisoformat(run["scheduled_for"]).microsecond == 0


@pytest.fixture
async def conn(dsn: str, pool: db.Pool) -> AsyncIterator[db.Connection]:
    connection = await db.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def test_each_fire_of_a_flow_runs_once_and_failures_call_a_flow_hook(
    client: httpx.AsyncClient,
    pool: db.Pool,
    dsn: str,
    conn: db.Connection,
    worker: service.Worker,
) -> None:
    await create(client, "f/demo/fails", [raw("a", BOOM, x=js("flow_input.n"))], schema=TAKES_N)
    await create(client, "f/demo/notify", [notify_step()], schema=NOTIFY_SCHEMA)
    new = schedules.NewSchedule(
        path="f/demo/every",
        schedule="* * * * *",
        script_path="f/demo/fails",
        is_flow=True,
        args={"n": 7},
        on_failure="flow/f/demo/notify",
        on_failure_extra_args={"channel": "alerts"},
    )
    await schedules.create(pool, workspace="main", new=new, edited_by="admin", now=T0)
    now = T0 + timedelta(seconds=61)
    other = await db.connect(dsn)
    try:  # two leaders acting at once still queue the fire once
        await asyncio.gather(
            scheduler.fire_due(conn, pool, now=now, grace=scheduler.MISFIRE_GRACE),
            scheduler.fire_due(other, pool, now=now, grace=scheduler.MISFIRE_GRACE),
        )
    finally:
        await other.close()
    runs = await queue.list_jobs(pool, workspace="main", schedule_path="f/demo/every")
    assert [(j.kind, j.scheduled_for) for j in runs] == [("flow", T0 + timedelta(minutes=1))]
    failed = await wait_done(client, str(runs[0].id))
    assert failed["success"] is False
    await scheduler.settle_finished(conn, pool)
    await scheduler.settle_finished(conn, pool)  # a second look changes nothing
    hooks = await queue.list_jobs(pool, workspace="main", script_path="f/demo/notify")
    assert [(j.kind, j.schedule_path) for j in hooks] == [("flow", None)]
    hook = await wait_done(client, str(hooks[0].id))
    assert hook["result"] == {
        "channel": "alerts",
        "failed": "f/demo/fails",
        "message": hook["args"]["error"]["message"],
    }
    assert "boom 7" in hook["result"]["message"]
    assert hook["args"]["job_id"] == str(runs[0].id)


# -- webhooks and scopes --------------------------------------------------------------------


async def test_webhooks_run_the_flow_at_a_path_when_no_script_is_there(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await doubling_flow(client)
    sync = await client.post("/api/w/main/webhooks/f/demo/double?wait=true", json={"n": 4})
    assert sync.status_code == 200, sync.text
    assert sync.json() == 8
    started = await client.post("/api/w/main/webhooks/f/demo/double", json={"n": 5})
    assert started.status_code == 201, started.text
    run = await wait_done(client, started.text)
    assert (run["job_kind"], run["result"]) == ("flow", 10)
    bad = await client.post("/api/w/main/webhooks/f/demo/double", json={"n": "five"})
    assert invalid_fields(bad) == {"n"}
    nothing = await client.post("/api/w/main/webhooks/f/demo/nothing", json={})
    assert nothing.status_code == 404
    assert "no script or flow" in nothing.json()["error"]["message"]


async def test_a_flow_webhook_token_runs_that_flow_and_nothing_else(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await doubling_flow(client, "f/demo/hook")
    await doubling_flow(client, "f/demo/other")
    await save(client, "f/demo/hook", DOUBLE)  # a script at the very same path
    await save(client, "f/demo/script", DOUBLE)
    flow_token = await scoped_token(client, "run:flow/f/demo/hook")
    script_token = await scoped_token(client, "run:script/f/demo/hook")
    client.headers.pop("Authorization")

    async def status(route: str, token: str) -> int:
        body = {"x": 2} if "/p/" in route or "webhooks/" in route else {"n": 2}
        response = await client.post(f"/api/w/main/{route}?token={token}", json=body)
        return response.status_code

    assert await status("jobs/run_wait_result/f/f/demo/hook", flow_token) == 200
    started = await client.post(
        f"/api/w/main/jobs/run/f/f/demo/hook?token={flow_token}", json={"n": 3}
    )
    assert started.status_code == 201
    # the token reads its flow's run, as the `wmill` client does when it waits
    job = await client.get(f"/api/w/main/jobs_u/get/{started.text}?token={flow_token}")
    assert job.status_code == 200
    assert await status("jobs/run/f/f/demo/other", flow_token) == 403
    assert await status("jobs/run/p/f/demo/hook", flow_token) == 403  # the script there
    assert await status("jobs/run/p/f/demo/script", flow_token) == 403
    assert await status("webhooks/f/demo/hook", flow_token) == 403  # the script wins the path
    assert await status("jobs/run/f/f/demo/hook", script_token) == 403
    assert await status("jobs/run_wait_result/p/f/demo/hook", script_token) == 200


async def test_a_route_serves_a_flow(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await doubling_flow(client)
    route = {
        "path": "f/demo/route",
        "route_path": "double/:n",
        "http_method": "get",
        "script_path": "f/demo/double",
        "is_flow": True,
        "authentication": "none",
    }
    created = await client.post("/api/w/main/http_triggers/create", json=route)
    assert created.status_code == 201, created.text
    listed = (await client.get("/api/w/main/http_triggers/get/f/demo/route")).json()
    assert listed["is_flow"] is True
    client.headers.pop("Authorization")
    served = await client.get("/api/r/double/6")  # the path's text becomes the schema's integer
    assert served.status_code == 200, served.text
    assert served.json() == 12
    queued = await client.get("/api/r/double/7?async=true")
    assert queued.status_code == 202
    client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    run = await wait_done(client, queued.text)
    assert (run["job_kind"], run["result"]) == ("flow", 14)
    # an update can point the route at a script again
    await save(client, "f/demo/script", "def main(n: int):\n    return n + 1\n")
    update = route | {"script_path": "f/demo/script", "is_flow": False}
    changed = await client.post("/api/w/main/http_triggers/update/f/demo/route", json=update)
    assert changed.status_code == 200, changed.text
    assert (await client.get("/api/r/double/6")).json() == 7


async def test_a_token_route_of_a_flow_takes_a_flow_scoped_token(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await doubling_flow(client)
    await save(client, "f/demo/script", DOUBLE)
    route = {
        "path": "f/demo/route",
        "route_path": "double",
        "script_path": "f/demo/double",
        "is_flow": True,
    }
    assert (await client.post("/api/w/main/http_triggers/create", json=route)).status_code == 201
    missing = route | {"path": "f/demo/none", "route_path": "none", "script_path": "f/demo/script"}
    assert (await client.post("/api/w/main/http_triggers/create", json=missing)).status_code == 404
    flow_token = await scoped_token(client, "run:flow/f/demo/double")
    script_token = await scoped_token(client, "run:script/f/demo/double")
    client.headers.pop("Authorization")
    ok = await client.post(f"/api/r/double?token={flow_token}", json={"n": 1})
    assert (ok.status_code, ok.json()) == (200, 2)
    refused = await client.post(f"/api/r/double?token={script_token}", json={"n": 1})
    assert refused.status_code == 403


async def test_the_workspace_openapi_document_lists_each_flow_webhook(
    client: httpx.AsyncClient,
) -> None:
    await doubling_flow(client, "f/demo/twice")
    await save(client, "f/demo/twice", DOUBLE)  # a script at the same path
    paths = (await client.get("/api/w/main/openapi.json")).json()["paths"]
    sync = paths["/api/w/main/jobs/run_wait_result/f/f/demo/twice"]["post"]
    body = sync["requestBody"]["content"]["application/json"]["schema"]
    assert body == TAKES_N
    run = paths["/api/w/main/jobs/run/f/f/demo/twice"]["post"]
    assert run["responses"]["201"]["content"]["text/plain"]["schema"]["format"] == "uuid"
    script_sync = paths["/api/w/main/jobs/run_wait_result/p/f/demo/twice"]["post"]
    assert (sync["operationId"], script_sync["operationId"]) == (
        "f_demo_twice_flow_sync",
        "f_demo_twice_sync",
    )
