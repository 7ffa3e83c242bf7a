"""Flows under chaos, with real `tidemill` processes: a worker SIGKILLed while a step runs,
and the server restarted while a flow waits for an approval.

A flow's state lives in PostgreSQL only, so neither may lose it, and the killed
step's recovery must not run any step twice nor end the flow twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from server import db
from tests.conftest import Processes, wait_healthy
from tests.test_chaos import api, until
from tests.test_flows_api import js
from tests.test_flows_run import DOUBLE, create, job, raw, static, wait_done
from tests.test_flows_suspend import path_of, urls, waiting_step

pytestmark = pytest.mark.chaos

# writes a line when it starts, so the test sees each attempt, then sleeps
SLOW = (
    "import time\n\n"
    "def main(x: int, marks: str):\n"
    "    with open(marks, 'a') as f:\n"
    "        f.write('started\\n')\n"
    "    time.sleep(2)\n"
    "    return x + 1\n"
)


async def start_stack(processes: Processes, workers: int) -> tuple[str, list[int]]:
    processes.start("server")
    pids = [processes.start("worker").pid for _ in range(workers)]
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, base)
    return base, pids


async def test_a_worker_killed_mid_step_loses_nothing_and_ends_the_flow_once(
    processes: Processes, pool: db.Pool, shared_dir: Path
) -> None:
    marks = shared_dir / "marks.txt"
    marks.touch()
    marks.chmod(0o666)
    base, pids = await start_stack(processes, workers=2)
    async with api(base) as client:
        await create(
            client,
            "f/chaos/slow",
            [
                raw("a", DOUBLE, x=static(5)),
                raw("slow", SLOW, x=js("results.a"), marks=static(str(marks))),
                raw("c", DOUBLE, x=js("previous_result")),
            ],
        )
        started = await client.post("/api/w/main/jobs/run/f/f/chaos/slow", json={})
        assert started.status_code == 201, started.text
        flow_id = started.text

        async def slow_step_running() -> bool:
            return marks.read_text().count("started") == 1

        await until(slow_step_running, timeout_s=30, every_s=0.05)
        holder = await pool.fetchrow(
            "SELECT q.id, w.pid FROM queue q JOIN workers w ON w.name = q.worker"
            " WHERE q.parent_job = $1 AND q.flow_step_id = 'slow' AND q.status = 'running'",
            flow_id,
        )
        assert holder is not None and holder["pid"] in pids
        # the machine running the step dies: the worker and its job, without a word
        os.killpg(holder["pid"], signal.SIGKILL)
        done = await wait_done(client, flow_id, timeout_s=30)
    assert done["success"] is True, done
    assert done["result"] == 22  # (10 + 1) * 2
    assert marks.read_text().count("started") == 2  # run again by the other worker
    step = await pool.fetchrow(
        "SELECT status, attempts, worker FROM completed WHERE id = $1", holder["id"]
    )
    assert step["status"] == "success"
    assert step["attempts"] == 2
    # every step and the flow ended exactly once; nothing is left behind
    ended = await pool.fetch(
        "SELECT coalesce(flow_step_id, 'flow') AS step, count(*) AS n FROM completed"
        " WHERE id = $1 OR parent_job = $1 GROUP BY 1",
        flow_id,
    )
    assert {r["step"]: r["n"] for r in ended} == {"flow": 1, "a": 1, "slow": 1, "c": 1}
    assert await pool.fetchval("SELECT count(*) FROM queue") == 0


async def test_a_server_restart_keeps_a_waiting_flow(processes: Processes, pool: db.Pool) -> None:
    base, _ = await start_stack(processes, workers=1)
    async with api(base) as client:
        await create(
            client,
            "f/chaos/approve",
            [
                {**raw("ask", DOUBLE, x=static(21)), "suspend": {"required_events": 1}},
                raw("after", DOUBLE, x=js("results.ask")),
            ],
        )
        started = await client.post("/api/w/main/jobs/run/f/f/chaos/approve", json={})
        assert started.status_code == 201, started.text
        flow_id = started.text
        step = await waiting_step(client, flow_id)
        signed = await urls(client, step["job"])
    server = processes.procs[0]
    server.send_signal(signal.SIGKILL)
    server.wait()
    # nothing runs the flow while the server is away; a new server finds it as it was
    processes.start("server")
    await asyncio.to_thread(wait_healthy, base)
    async with api(base) as client:
        assert (await job(client, flow_id))["flow_status"]["modules"][0]["type"] == (
            "WaitingForEvents"
        )
        anonymous = httpx.AsyncClient(base_url=base, timeout=30)
        async with anonymous:
            resumed = await anonymous.post(path_of(signed["resume"]), json={})
            assert resumed.status_code == 200, resumed.text
        done = await wait_done(client, flow_id, timeout_s=30)
    assert done["success"] is True, done
    assert done["result"] == 84
