"""Warm mode (`dedicated_worker`): one kept process per script version, real processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

from worker import service

# pid, a module-level counter, the job's own variables, and ways to misbehave
WARM = """
import os
import sys
import time

calls = 0


def main(say: str = "", crash: bool = False, sleep: float = 0):
    global calls
    calls += 1
    print(say)
    print(say + " on stderr", file=sys.stderr)
    if crash:
        os._exit(3)
    time.sleep(sleep)
    return {"pid": os.getpid(), "calls": calls, "job": os.environ["WM_JOB_ID"],
            "cwd": os.getcwd(), "version": 1}
"""


async def save_dedicated(
    client: httpx.AsyncClient, path: str, content: str, **settings: Any
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": path,
            "content": content,
            "language": "python3",
            "dedicated_worker": True,
            **settings,
        },
    )
    assert response.status_code == 201, response.text


async def run(client: httpx.AsyncClient, path: str, **args: Any) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args)


async def ok(client: httpx.AsyncClient, path: str, **args: Any) -> dict[str, Any]:
    response = await run(client, path, **args)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def run_async(client: httpx.AsyncClient, path: str, **args: Any) -> str:
    response = await client.post(f"/api/w/main/jobs/run/p/{path}", json=args)
    assert response.status_code == 201, response.text
    return response.text


async def finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
        if job["type"] == "CompletedJob":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def alive(pid: int) -> bool:
    """Whether `pid` is still running a moment later (it is the worker's child, reaped)."""
    await asyncio.sleep(0.2)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_successive_jobs_reuse_one_process_and_keep_module_state(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_dedicated(client, "f/warm/counter", WARM)
    results = [await ok(client, "f/warm/counter") for _ in range(4)]
    assert len({r["pid"] for r in results}) == 1
    assert results[0]["pid"] != os.getpid()
    assert [r["calls"] for r in results] == [1, 2, 3, 4]
    # each job still has its own variables and directory
    assert len({r["job"] for r in results}) == 4
    assert len({r["cwd"] for r in results}) == 4


async def test_a_script_not_dedicated_gets_a_process_per_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/warm/cold", "content": WARM, "language": "python3"},
    )
    assert response.status_code == 201, response.text
    results = [await ok(client, "f/warm/cold") for _ in range(3)]
    assert len({r["pid"] for r in results}) == 3
    assert [r["calls"] for r in results] == [1, 1, 1]


async def test_each_job_has_its_own_logs(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await save_dedicated(client, "f/warm/logs", WARM)
    first = await run_async(client, "f/warm/logs", say="first-job")
    assert (await finished(client, first))["success"] is True
    second = await run_async(client, "f/warm/logs", say="second-job")
    assert (await finished(client, second))["success"] is True
    logs = [
        (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
        for job_id in (first, second)
    ]
    assert "first-job" in logs[0] and "first-job on stderr" in logs[0]
    assert "second-job" not in logs[0]
    assert "second-job" in logs[1] and "second-job on stderr" in logs[1]
    assert "first-job" not in logs[1]


async def test_a_crash_fails_only_that_job_and_a_fresh_process_takes_over(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_dedicated(client, "f/warm/crash", WARM)
    before = await ok(client, "f/warm/crash")
    crashed = await run(client, "f/warm/crash", say="going down", crash=True)
    assert crashed.status_code == 500, crashed.text
    assert "ProcessExited" in crashed.text and "going down" in crashed.text
    after = await ok(client, "f/warm/crash")
    assert after["pid"] != before["pid"]
    assert after["calls"] == 1  # a fresh module
    assert (await ok(client, "f/warm/crash"))["pid"] == after["pid"]


async def test_a_timeout_kills_the_process_and_the_next_job_succeeds(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_dedicated(client, "f/warm/slow", WARM, timeout=1)
    before = await ok(client, "f/warm/slow")
    timed_out = await run(client, "f/warm/slow", sleep=30)
    assert timed_out.status_code == 500 and "TimeoutError" in timed_out.text
    after = await ok(client, "f/warm/slow")
    assert after["pid"] != before["pid"]
    assert not await alive(before["pid"])


async def test_cancel_kills_the_job_and_the_next_job_succeeds(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_dedicated(client, "f/warm/cancel", WARM)
    before = await ok(client, "f/warm/cancel")
    job_id = await run_async(client, "f/warm/cancel", sleep=60)
    while not (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()["running"]:
        await asyncio.sleep(0.05)
    response = await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={})
    assert response.status_code == 200, response.text
    assert (await finished(client, job_id))["status"] == "canceled"
    after = await ok(client, "f/warm/cancel")
    assert after["pid"] != before["pid"] and after["calls"] == 1


async def test_a_new_version_replaces_the_process(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_dedicated(client, "f/warm/versions", WARM)
    old = await ok(client, "f/warm/versions")
    assert (await ok(client, "f/warm/versions"))["pid"] == old["pid"]
    await save_dedicated(client, "f/warm/versions", WARM.replace('"version": 1', '"version": 2'))
    new = await ok(client, "f/warm/versions")
    assert new["version"] == 2 and new["calls"] == 1
    assert new["pid"] != old["pid"]
    assert not await alive(old["pid"])


async def test_a_failing_main_keeps_the_process(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import os\n\ndef main(fail: bool = False):\n"
        "    if fail:\n        raise ValueError('nope')\n    return os.getpid()\n"
    )
    await save_dedicated(client, "f/warm/raises", content)
    pid = (await run(client, "f/warm/raises")).json()
    failed = await run(client, "f/warm/raises", fail=True)
    assert failed.status_code == 500 and "ValueError" in failed.text and "nope" in failed.text
    assert (await run(client, "f/warm/raises")).json() == pid


async def test_a_failing_top_level_fails_the_job_and_is_run_again(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import os\n\nif not os.path.exists('/tmp/never-there-tidemill'):\n"
        "    raise RuntimeError('top level failed')\n\ndef main():\n    return 1\n"
    )
    await save_dedicated(client, "f/warm/toplevel", content)
    for _ in range(2):
        response = await run(client, "f/warm/toplevel")
        assert response.status_code == 500 and "top level failed" in response.text


async def test_arguments_too_large_for_one_message_reach_the_kept_process(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = "import os\n\ndef main(text: str):\n    return [len(text), os.getpid()]\n"
    await save_dedicated(client, "f/warm/large", content)
    small, pid = (await run(client, "f/warm/large", text="x")).json()
    # past the socket message's size the spec travels as a file: same process, whole text
    large = await run(client, "f/warm/large", text="y" * 200_000)
    assert large.status_code == 200, large.text
    assert small == 1 and large.json() == [200_000, pid]
