"""Retry policies: per script and per run; each failed attempt recorded; the last one decides."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from worker import service

FLAKY = (
    "def main(counter: str):\n"
    "    with open(counter, 'a+') as f:\n"
    "        f.seek(0)\n"
    "        tries = len(f.read()) + 1\n"
    "        f.write('x')\n"
    "    if tries < 3:\n"
    "        raise RuntimeError(f'failure number {tries}')\n"
    "    return f'succeeded on try {tries}'\n"
)

# Counts attempts per job, so that overlapping scheduled runs do not share one counter.
FLAKY_PER_JOB = (
    "import os\n"
    "def main(folder: str):\n"
    "    counter = os.path.join(folder, os.environ['WM_JOB_ID'])\n"
    "    with open(counter, 'a+') as f:\n"
    "        f.seek(0)\n"
    "        tries = len(f.read()) + 1\n"
    "        f.write('x')\n"
    "    if tries < 3:\n"
    "        raise RuntimeError(f'failure number {tries}')\n"
    "    return f'succeeded on try {tries}'\n"
)


async def test_a_script_that_fails_twice_then_succeeds(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": "f/retry/flaky",
            "content": FLAKY,
            "language": "python3",
            "retry": {"constant": {"attempts": 3, "seconds": 0.2}},
        },
    )
    assert response.status_code == 201
    counter = shared_dir / "counter"
    job_id = (
        await client.post("/api/w/main/jobs/run/p/f/retry/flaky", json={"counter": str(counter)})
    ).text
    maybe = await wait_completed(client, job_id)
    assert maybe["success"] is True and maybe["result"] == "succeeded on try 3"
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["retries"] == 2
    assert [a["error"]["message"] for a in job["failed_attempts"]] == [
        "failure number 1",
        "failure number 2",
    ]
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "attempt 1 failed; retrying in 0.2 s" in logs


async def test_the_last_attempt_decides(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    await save(client, "f/retry/flaky", FLAKY)
    policy = json.dumps({"exponential": {"attempts": 1, "multiplier": 1, "seconds": 0.1}})
    counter = shared_dir / "counter"
    job_id = (
        await client.post(
            "/api/w/main/jobs/run/p/f/retry/flaky",
            params={"retry": policy},
            json={"counter": str(counter)},
        )
    ).text
    maybe = await wait_completed(client, job_id)
    assert maybe["success"] is False
    assert maybe["result"]["error"]["message"] == "failure number 2"
    assert counter.read_text() == "xx"


async def test_no_policy_means_no_retry(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    await save(client, "f/retry/flaky", FLAKY)
    counter = shared_dir / "counter"
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/retry/flaky", json={"counter": str(counter)}
    )
    assert response.status_code == 500
    assert counter.read_text() == "x"


async def test_a_malformed_policy_is_refused(client: httpx.AsyncClient) -> None:
    await save(client, "f/retry/flaky", FLAKY)
    response = await client.post(
        "/api/w/main/jobs/run/p/f/retry/flaky",
        params={"retry": '{"constant": {"attempts": "x"}}'},
        json={"counter": "c"},
    )
    assert response.status_code == 422


async def test_a_schedule_s_runs_use_its_retry_policy(
    client: httpx.AsyncClient, worker: service.Worker, shared_dir: Path
) -> None:
    await save(client, "f/retry/flaky", FLAKY_PER_JOB)
    response = await client.post(
        "/api/w/main/schedules/create",
        json={
            "path": "f/retry/every_second",
            "schedule": "* * * * * *",
            "script_path": "f/retry/flaky",
            "args": {"folder": str(shared_dir)},
            "retry": {"constant": {"attempts": 2, "seconds": 0.1}},
        },
    )
    assert response.status_code == 201, response.text
    assert (await client.get("/api/w/main/schedules/get/f/retry/every_second")).json()["retry"] == {
        "constant": {"attempts": 2, "seconds": 0.1},
        "exponential": None,
    }
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        done = (await client.get("/api/w/main/jobs/list?success=true")).json()
        if done:
            break
        await asyncio.sleep(0.2)
    await client.post(
        "/api/w/main/schedules/setenabled/f/retry/every_second", json={"enabled": False}
    )
    assert done, "no scheduled run succeeded"
    assert all(job["retries"] == 2 for job in done)  # each run failed twice, then succeeded
