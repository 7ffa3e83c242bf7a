"""Real `tidemill server` and `tidemill worker` processes on one database."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import db
from tests.conftest import ADMIN_TOKEN, Processes, wait_healthy

pytestmark = pytest.mark.e2e

RECORD = (
    "import os\n\n"
    "def main(log: str, n: int):\n"
    "    with open(log, 'a') as f:\n"
    "        f.write(os.environ['WM_JOB_ID'] + '\\n')\n"
    "    return n\n"
)
SLOW_RECORD = (
    "import os, time\n\n"
    "def main(log: str, seconds: float):\n"
    "    with open(log, 'a') as f:\n"
    "        f.write(os.environ['WM_JOB_ID'] + '\\n')\n"
    "    time.sleep(seconds)\n"
    "    return 'done'\n"
)


def api(processes: Processes) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )


async def save(client: httpx.AsyncClient, path: str, content: str) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": path, "content": content, "language": "python3"},
    )
    assert response.status_code == 201, response.text


async def wait_for(predicate: Any, timeout_s: float = 30, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(every_s)
    raise TimeoutError("condition not met in time")


async def test_workers_race_and_each_job_runs_exactly_once(
    processes: Processes, pool: db.Pool, shared_dir: Path
) -> None:
    processes.start("server")
    for _ in range(3):
        processes.start("worker")
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, base)
    log = shared_dir / "ran.log"
    log.touch()
    log.chmod(0o666)  # written by the jobs of two worker processes, each its own user
    async with api(processes) as client:
        await save(client, "f/race/record", RECORD)
        ids = []
        for n in range(60):
            response = await client.post(
                "/api/w/main/jobs/run/p/f/race/record", json={"log": str(log), "n": n}
            )
            ids.append(response.text)

        async def all_done() -> bool:
            count = await pool.fetchval("SELECT count(*) FROM completed")
            return bool(count == len(ids))

        await wait_for(all_done, timeout_s=60)
        workers = (await client.get("/api/workers/list")).json()
    rows = await pool.fetch("SELECT id::text, status, attempts, worker, error FROM completed")
    assert {r["status"] for r in rows} == {"success"}, [r["error"] for r in rows if r["error"]]
    assert {r["attempts"] for r in rows} == {1}
    ran = log.read_text().split()
    assert sorted(ran) == sorted(ids)  # every job ran, and none twice
    assert len({r["worker"] for r in rows}) > 1  # the work was shared
    assert len(workers) == 3


@pytest.mark.chaos
async def test_a_killed_worker_s_job_is_recovered(
    processes: Processes, pool: db.Pool, shared_dir: Path
) -> None:
    processes.start("server")
    doomed = processes.start("worker")
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, base)
    log = shared_dir / "ran.log"
    log.touch()
    log.chmod(0o666)  # written by the jobs of two worker processes, each its own user
    async with api(processes) as client:
        await save(client, "f/chaos/slow", SLOW_RECORD)
        job_id = (
            await client.post(
                "/api/w/main/jobs/run/p/f/chaos/slow", json={"log": str(log), "seconds": 2}
            )
        ).text

        async def started() -> bool:
            return log.exists() and job_id in log.read_text()

        await wait_for(started)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        processes.start("worker")

        async def completed() -> dict[str, Any] | None:
            job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
            return job if job["type"] == "CompletedJob" else None

        job = await wait_for(completed, timeout_s=30)
    assert job["success"] is True
    assert job["result"] == "done"
    assert job["attempts"] == 2
    assert log.read_text().split() == [job_id, job_id]


def test_the_wmill_client_works_unchanged(processes: Processes, pool: db.Pool) -> None:
    """The real `wmill` package from PyPI, as a user's code would call it."""
    import wmill

    processes.start("server")
    processes.start("worker")
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    wait_healthy(base)
    client = wmill.Windmill(base_url=base, token=ADMIN_TOKEN, workspace="main")
    try:
        exercise_wmill(client)
    finally:
        client.client.close()


def exercise_wmill(client: Any) -> None:
    hello = 'def main(name: str = "world"):\n    return {"greeting": f"hello {name}"}\n'
    sleepy = "import time\n\ndef main():\n    time.sleep(60)\n"
    for path, content in (("f/wm/hello", hello), ("f/wm/sleepy", sleepy)):
        response = client.post(
            "/w/main/scripts/create",
            json={"path": path, "content": content, "language": "python3"},
        )
        assert response.status_code == 201

    assert client.run_script_by_path("f/wm/hello", args={"name": "cy"}) == {"greeting": "hello cy"}
    job_id = client.run_script_by_path_async("f/wm/hello", args={"name": "di"})
    deadline = time.monotonic() + 30
    while client.get_job_status(job_id) != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get_result(job_id) == {"greeting": "hello di"}
    assert client.get_job(job_id)["success"] is True

    long_job = client.run_script_by_path_async("f/wm/sleepy")
    while client.get_job_status(long_job) == "WAITING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get_job_status(long_job) == "RUNNING"
    client.cancel_job(long_job, reason="not needed")
    while client.get_job_status(long_job) != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.05)
    job = client.get_job(long_job)
    assert job["canceled"] is True and job["success"] is False
    with pytest.raises(Exception, match="boom"):
        client.post(
            "/w/main/scripts/create",
            json={
                "path": "f/wm/boom",
                "content": "def main():\n    raise RuntimeError('boom')\n",
                "language": "python3",
            },
        )
        client.run_script_by_path("f/wm/boom")
