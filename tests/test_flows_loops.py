"""While loops, breaking loops from a step inside them, retries of whole steps, and
restarts from a nested step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from server import flow_engine
from tests.test_flows_api import js
from tests.test_flows_modules import ITEMS, identity, loop
from tests.test_flows_run import ADD, BOOM, DOUBLE, create, job, raw, run, static, wait_done
from tests.test_retries import FLAKY
from worker import service

INC = "def main(n: int):\n    return n + 1\n"
# fails on the second iteration only
PICKY = (
    "def main(i: int):\n    if i == 1:\n        raise ValueError('not one')\n    return i * 10\n"
)


def while_loop(step_id: str, modules: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    skip = options.pop("skip_failures", False)
    return {
        "id": step_id,
        "value": {"type": "whileloopflow", "skip_failures": skip, "modules": modules},
        **options,
    }


def summed(step_id: str, source: str) -> dict[str, Any]:
    return raw(step_id, "def main(xs: list):\n    return sum(xs)\n", xs=js(source))


async def test_a_while_loop_repeats_until_its_stop_after_if(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """Each iteration's `previous_result` is the last one's; the loop's `stop_after_if`
    reads each iteration's result; the loop's result is every iteration's."""
    await create(
        client,
        "f/demo/while",
        [
            raw("start", DOUBLE, x=js("flow_input.n")),
            {
                **while_loop("w", [raw("inc", INC, n=js("previous_result"))]),
                "stop_after_if": {"expr": "result >= results.start + 3"},
            },
            summed("sum", "results.w"),
        ],
        schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/while", json={"n": 5})
    done = await wait_done(client, started.text)
    assert done["success"] is True, done
    assert done["result"] == 11 + 12 + 13
    status = done["flow_status"]["modules"][1]
    assert status["while_loop"] is True
    assert status["iterator"]["index"] == 3
    assert len(status["flow_jobs"]) == 3 and status["flow_jobs_success"] == [True] * 3
    assert status["result"] == [11, 12, 13]


async def test_a_step_stopping_early_breaks_its_loop_or_stops_after_its_branch(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """Windmill's meaning: a `stop_after_if` inside a loop breaks the loop, not the flow;
    inside a branch, it stops the flow after the branch step."""
    check = {**identity("check"), "stop_after_if": {"expr": "result >= 3"}}
    await create(
        client,
        "f/demo/while_break",
        [
            identity("zero"),
            while_loop("w", [raw("inc", INC, n=js("previous_result ?? 0")), check]),
            summed("after", "results.w"),
        ],
    )
    response = await run(client, "f/demo/while_break", {})
    assert response.status_code == 200, response.text
    assert response.json() == 1 + 2 + 3
    body = [
        {
            **raw("d", DOUBLE, x=js("flow_input.iter.value")),
            "stop_after_if": {"expr": "result >= 4"},
        }
    ]
    await create(
        client,
        "f/demo/for_break",
        [loop("l", "flow_input.items", body), summed("after", "results.l")],
        schema=ITEMS,
    )
    response = await run(client, "f/demo/for_break", {"items": [1, 2, 3, 4, 5]})
    assert response.status_code == 200, response.text
    assert response.json() == 2 + 4  # iterations 3..5 never started
    branch = {
        "id": "b",
        "value": {
            "type": "branchone",
            "branches": [],
            "default": [{**raw("d", DOUBLE, x=static(2)), "stop_after_if": {"expr": "true"}}],
        },
    }
    await create(client, "f/demo/branch_stop", [branch, raw("never", BOOM)])
    response = await run(client, "f/demo/branch_stop", {})
    assert response.status_code == 200, response.text
    assert response.json() == 4


async def test_a_while_loop_skips_failures_or_fails(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    body = [raw("picky", PICKY, i=js("flow_input.iter.index"))]
    stop = {"stop_after_if": {"expr": "result === 20"}}
    await create(
        client,
        "f/demo/while_skip",
        [{**while_loop("w", body, skip_failures=True), **stop}],
    )
    response = await run(client, "f/demo/while_skip", {})
    assert response.status_code == 200, response.text
    first, failed, last = response.json()
    assert (first, last) == (0, 20)
    assert failed["error"]["message"] == "not one"
    await create(client, "f/demo/while_fail", [{**while_loop("w", body), **stop}])
    response = await run(client, "f/demo/while_fail", {})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "ValueError: not one"


async def test_a_while_loop_that_never_stops_fails_at_the_limit(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identity iterations need no worker: without the limit this would never end."""
    monkeypatch.setattr(flow_engine, "MAX_WHILE_ITERATIONS", 25)
    await create(client, "f/demo/forever", [while_loop("w", [identity("same")])])
    response = await run(client, "f/demo/forever", {})
    assert response.status_code == 500, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("WhileLoopLimit: step 'w': the while loop ran 25 iterations")


async def test_retry_runs_a_loop_or_sub_flow_step_again(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    """`retry` on a step that is not a script re-runs the whole step, each failed
    attempt's jobs listed in `failed_retries`; attempts are counted per step."""
    counter = shared_dir / "loop"
    retry = {"constant": {"attempts": 2, "seconds": 0}}
    await create(
        client,
        "f/demo/retry_loop",
        [
            {
                **loop("l", "[1]", [raw("flaky", FLAKY, counter=static(str(counter)))]),
                "retry": retry,
            }
        ],
    )
    started = await client.post("/api/w/main/jobs/run/f/f/demo/retry_loop", json={})
    done = await wait_done(client, started.text)
    assert done["success"] is True, done
    assert done["result"] == ["succeeded on try 3"]
    status = done["flow_status"]["modules"][0]
    assert len(status["failed_retries"]) == 2
    for failed in status["failed_retries"]:
        assert (await job(client, failed))["success"] is False
    # a sub-flow step: one attempt too few, so the step (and the flow) fails
    sub_counter = shared_dir / "sub"
    await create(client, "f/demo/flaky_sub", [raw("f", FLAKY, counter=static(str(sub_counter)))])
    sub = {"id": "s", "value": {"type": "flow", "path": "f/demo/flaky_sub"}}
    await create(
        client,
        "f/demo/retry_sub",
        [{**sub, "retry": {"constant": {"attempts": 1, "seconds": 0}}}],
    )
    response = await run(client, "f/demo/retry_sub", {})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "RuntimeError: failure number 2"
    response = await run(client, "f/demo/retry_sub", {})
    assert response.status_code == 200, response.text  # the third try of the script
    assert response.json() == "succeeded on try 3"


async def test_restart_from_a_nested_step_names_the_step_to_restart_from(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await create(
        client,
        "f/demo/nested",
        [
            raw("a", ADD, a=static(1)),
            loop("l", "[1, 2]", [raw("inner", BOOM, x=js("flow_input.iter.value"))]),
        ],
    )
    first = await client.post("/api/w/main/jobs/run/f/f/demo/nested", json={})
    assert (await wait_done(client, first.text))["success"] is False
    nested = await client.post(f"/api/w/main/jobs/restart/f/{first.text}/from/inner")
    assert nested.status_code == 422, nested.text
    error = nested.json()["error"]
    assert "inside the forloopflow step 'l'" in error["message"]
    assert "restart from 'l'" in error["message"]
    assert error["details"] == [{"path": "step_id", "message": "nested in top-level step 'l'"}]
    whole = await client.post(f"/api/w/main/jobs/restart/f/{first.text}/from/l")
    assert whole.status_code == 201, whole.text
