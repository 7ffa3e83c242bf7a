"""Running scripts through the queue with a real worker, as a caller sees it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from server import db
from tests.test_api_scripts import HELLO, save
from worker import service

BOOM = (
    'def main(x: int = 1):\n    print("about to fail")\n    raise ValueError("boom from script")\n'
)
SLEEPY = (
    "import time\n\n"
    "def main(seconds: float = 30):\n"
    "    print('sleeping', flush=True)\n"
    "    time.sleep(seconds)\n"
    "    return 'woke'\n"
)


async def wait_completed(
    client: httpx.AsyncClient, job_id: str, timeout_s: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        maybe = (await client.get(f"/api/w/main/jobs_u/completed/get_result_maybe/{job_id}")).json()
        if maybe["completed"]:
            return maybe
        await asyncio.sleep(0.05)
    raise TimeoutError(job_id)


async def test_sync_run_returns_the_result(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/hello", HELLO)
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/demo/hello", json={"name": "ada"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"greeting": "hello ada"}


async def test_async_run_then_poll(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await save(client, "f/demo/hello", HELLO)
    response = await client.post("/api/w/main/jobs/run/p/f/demo/hello", json={"name": "bob"})
    assert response.status_code == 201
    job_id = response.text
    maybe = await wait_completed(client, job_id)
    assert maybe == {
        "started": True,
        "completed": True,
        "success": True,
        "result": {"greeting": "hello bob"},
    }
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["type"] == "CompletedJob"
    assert job["success"] is True
    assert job["script_path"] == "f/demo/hello"
    assert job["args"] == {"name": "bob"}
    assert job["duration_ms"] >= 0
    result = await client.get(f"/api/w/main/jobs_u/completed/get_result/{job_id}")
    assert result.json() == {"greeting": "hello bob"}


async def test_run_an_old_version_by_hash(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    old = await save(client, "f/demo/hello", HELLO)
    await save(client, "f/demo/hello", HELLO.replace("hello {name}", "bye {name}"))
    response = await client.post(f"/api/w/main/jobs/run_wait_result/h/{old}", json={"name": "x"})
    assert response.json() == {"greeting": "hello x"}
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/demo/hello", json={"name": "x"}
    )
    assert response.json() == {"greeting": "bye x"}


async def test_defaults_fill_missing_arguments(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/hello", HELLO)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/hello", json={})
    assert response.json() == {"greeting": "hello world"}


async def test_failing_script_gives_its_own_error(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/boom", BOOM)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/boom", json={})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "job_failed"
    assert error["details"]["name"] == "ValueError"
    assert error["details"]["message"] == "boom from script"
    assert 'File "f/demo/boom.py", line 3, in main' in error["details"]["stack"]
    assert "shim" not in error["details"]["stack"] and "worker/" not in error["details"]["stack"]
    job_id = error["details"]["job_id"]
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["success"] is False
    assert job["result"]["error"]["message"] == "boom from script"
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "about to fail" in logs


async def test_broken_script_fails_the_job_not_the_worker(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/exits", "import os\n\ndef main():\n    os._exit(3)\n")
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/exits", json={})
    assert response.status_code == 500
    assert "exited (code 3)" in response.json()["error"]["message"]
    await save(client, "f/demo/hello", HELLO)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/hello", json={})
    assert response.status_code == 200


async def test_async_main_and_non_json_results(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import asyncio, datetime\n\n"
        "async def main():\n"
        "    await asyncio.sleep(0)\n"
        "    return {'when': datetime.date(2024, 1, 2), 'raw': b'hi', 'tags': {'a'}}\n"
    )
    await save(client, "f/demo/async", content)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/async", json={})
    assert response.json() == {"when": "2024-01-02", "raw": "aGk=", "tags": ["a"]}


async def test_script_sees_its_job_environment_and_nothing_else(
    client: httpx.AsyncClient, worker: service.Worker, monkeypatch: Any
) -> None:
    content = "import os\n\ndef main():\n    return dict(os.environ)\n"
    await save(client, "f/demo/env", content)
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/env", json={})
    env = response.json()
    assert env["WM_WORKSPACE"] == "main"
    assert env["WM_JOB_PATH"] == "f/demo/env"
    assert env["TIDEMILL_JOB_ID"] == env["WM_JOB_ID"]
    assert (
        env["WM_TOKEN"].startswith("tm_") and env["WM_TOKEN"] != client.headers["Authorization"][7:]
    )
    leaked = [
        k
        for k in env
        if k.startswith(("TIDEMILL_DATABASE", "TIDEMILL_SECRET", "TIDEMILL_ADMIN", "PG"))
    ]
    assert leaked == []


async def test_job_token_works_only_while_the_job_runs(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(
        client, "f/demo/token", "import os\n\ndef main():\n    return os.environ['WM_TOKEN']\n"
    )
    token = (await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/token", json={})).json()
    response = await client.get(
        "/api/w/main/scripts/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_logs_are_readable_while_the_job_runs(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/sleepy", SLEEPY)
    job_id = (await client.post("/api/w/main/jobs/run/p/f/demo/sleepy", json={"seconds": 30})).text
    deadline = time.monotonic() + 10
    logs = ""
    while "sleeping" not in logs and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "sleeping" in logs
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["type"] == "QueuedJob" and job["running"] is True
    update = (await client.get(f"/api/w/main/jobs_u/getupdate/{job_id}?log_offset=0")).json()
    assert update["running"] is True and "sleeping" in update["new_logs"]
    await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={"reason": "test over"})


async def test_cancel_a_running_job_kills_it(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/sleepy", SLEEPY)
    job_id = (await client.post("/api/w/main/jobs/run/p/f/demo/sleepy", json={"seconds": 60})).text
    while not (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()["running"]:
        await asyncio.sleep(0.05)
    started = time.monotonic()
    response = await client.post(
        f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={"reason": "enough"}
    )
    assert response.status_code == 200
    maybe = await wait_completed(client, job_id)
    assert time.monotonic() - started < 5
    assert maybe["success"] is False
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["canceled"] is True and job["canceled_reason"] == "enough"
    assert job["status"] == "canceled"


async def test_cancel_a_queued_job_means_it_never_runs(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/hello", HELLO)
    job_id = (
        await client.post("/api/w/main/jobs/run/p/f/demo/hello?scheduled_in_secs=60", json={})
    ).text
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["running"] is False
    response = await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={})
    assert response.status_code == 200
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert (
        job["type"] == "CompletedJob" and job["status"] == "canceled" and job["started_at"] is None
    )
    again = await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={})
    assert again.status_code == 409


async def test_timeout_kills_the_process_group(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "import subprocess, time\n\n"
        "def main():\n"
        "    subprocess.Popen(['sleep', '60'])\n"
        "    time.sleep(60)\n"
    )
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/demo/slow", "content": content, "language": "python3", "timeout": 1},
    )
    assert response.status_code == 201
    started = time.monotonic()
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/slow", json={})
    assert time.monotonic() - started < 10
    assert response.status_code == 500
    assert response.json()["error"]["details"]["name"] == "TimeoutError"


async def test_jobs_list_filters_and_pages(
    client: httpx.AsyncClient, worker: service.Worker, pool: db.Pool
) -> None:
    await save(client, "f/demo/hello", HELLO)
    await save(client, "f/demo/boom", BOOM)
    for name in ("a", "b", "c"):
        await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/hello", json={"name": name})
    await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/boom", json={})
    everything = (await client.get("/api/w/main/jobs/list")).json()
    assert len(everything) == 4
    assert everything[0]["script_path"] == "f/demo/boom"  # newest first
    hello = (await client.get("/api/w/main/jobs/list?script_path_exact=f/demo/hello")).json()
    assert [j["args"]["name"] for j in hello] == ["c", "b", "a"]
    failed = (await client.get("/api/w/main/jobs/list?success=false")).json()
    assert [j["script_path"] for j in failed] == ["f/demo/boom"]
    page = (
        await client.get("/api/w/main/jobs/list?script_path_exact=f/demo/hello&per_page=2&page=2")
    ).json()
    assert [j["args"]["name"] for j in page] == ["a"]
    bad = await client.get("/api/w/main/jobs/list?per_page=0")
    assert bad.status_code in (400, 422)


async def test_bad_arguments_are_refused_before_queueing(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/demo/typed", "def main(count: int, name: str = 'x'):\n    return count\n")
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/demo/typed", json={"count": "many"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "count"
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/typed", json={})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "count"
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/typed", json=[1, 2])
    assert response.status_code == 422
    assert (await client.get("/api/w/main/jobs/list")).json() == []


async def test_unknown_things_are_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/missing", json={})
    assert response.status_code == 404
    for url in (
        "/api/w/main/jobs_u/get/00000000-0000-0000-0000-000000000000",
        "/api/w/main/jobs_u/get/not-a-uuid",
        "/api/w/main/jobs_u/completed/get_result_maybe/00000000-0000-0000-0000-000000000000",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Traceback" not in response.text


async def test_workers_list_shows_the_live_worker(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await asyncio.sleep(0.3)
    workers = (await client.get("/api/workers/list")).json()
    assert [w["worker"] for w in workers] == ["test-worker"]
    assert {"hostname", "pid", "last_ping", "current_job_id"} <= set(workers[0])


async def test_results_are_always_json(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await save(client, "f/demo/text", "def main():\n    return 'plain words'\n")
    response = await client.post("/api/w/main/jobs/run_wait_result/p/f/demo/text", json={})
    assert response.headers["content-type"].startswith("application/json")
    assert response.text == '"plain words"'
    job_id = (await client.post("/api/w/main/jobs/run/p/f/demo/text", json={})).text
    await wait_completed(client, job_id)
    result = await client.get(f"/api/w/main/jobs_u/completed/get_result/{job_id}")
    assert result.text == '"plain words"'
