"""The real `wmill` package inside a real script: every call a script makes, working.

A server and two workers run as processes (a script waiting on a child job holds
one worker; the child needs another). The script's environment gets `wmill`
from PyPI through dependency inference (`import wmill`), as a user's would.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
import pytest

from server import db
from tests.conftest import ADMIN_TOKEN, Processes, wait_healthy
from tests.test_api_scripts import settled_version

pytestmark = [pytest.mark.e2e, pytest.mark.deps]

SECRET = "WMILL-SECRET-5150"

PARENT = """import time
import wmill


def main(child: str):
    wmill.set_variable("f/wm/note", "a note")
    wmill.set_variable("f/wm/note", "a new note")
    note = wmill.get_variable("f/wm/note")
    secret = wmill.get_variable("f/wm/secret")
    print("the secret is", secret)

    wmill.set_resource("f/wm/db", {"host": "db.internal", "password": "$var:f/wm/secret"},
                       "postgresql")
    wmill.set_resource("f/wm/db", {"host": "db2.internal", "password": "$var:f/wm/secret"})
    db = wmill.get_resource("f/wm/db")
    print("connecting with", db)

    before = wmill.get_state()
    wmill.set_state({"runs": (before or {}).get("runs", 0) + 1})
    after = wmill.get_state()

    doubled = wmill.run_script_by_path(child, args={"x": 21})
    job_id = wmill.run_script_by_path_async(child, args={"x": 5})
    deadline = time.time() + 60
    while wmill.get_job_status(job_id) != "COMPLETED" and time.time() < deadline:
        time.sleep(0.1)
    return {
        "note": note,
        "secret_length": len(secret),
        "db_host": db["host"],
        "db_password_resolved": db["password"] == secret,
        "state_before": before,
        "state_after": after,
        "child": doubled,
        "async_child": job_id,
        "async_result": wmill.get_result(job_id),
    }
"""

CHILD = "def main(x: int):\n    return x * 2\n"
# what uv needs to reach the package index from this machine (certificates, proxies)
INDEX_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")


async def wait_for_job(client: httpx.AsyncClient, job_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
        if job.get("type") == "CompletedJob":
            return job
        await asyncio.sleep(0.2)
    raise TimeoutError(job_id)


async def test_every_wmill_call_works_from_a_script(processes: Processes, pool: db.Pool) -> None:
    index_env = {name: os.environ[name] for name in INDEX_ENV if name in os.environ}
    processes.start("server", extra_env=index_env)
    processes.start("worker", extra_env=index_env)
    processes.start("worker", extra_env=index_env)
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, base)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=120
    ) as client:
        created = await client.post(
            "/api/w/main/variables/create",
            json={"path": "f/wm/secret", "value": SECRET, "is_secret": True},
        )
        assert created.status_code == 201
        for path, content in (("f/wm/child", CHILD), ("f/wm/parent", PARENT)):
            saved = await client.post(
                "/api/w/main/scripts/create",
                json={"path": path, "content": content, "language": "python3"},
            )
            assert saved.status_code == 201, saved.text
        script = await settled_version(client, saved.text)
        assert script["lock_status"] == "ready", script["lock_error"]
        assert "wmill==" in script["lock"]

        results = []
        for _ in range(2):
            job_id = (
                await client.post(
                    "/api/w/main/jobs/run/p/f/wm/parent", json={"child": "f/wm/child"}
                )
            ).text
            job = await wait_for_job(client, job_id, timeout_s=240)
            assert job["success"] is True, job
            results.append((job_id, job["result"]))

        (first_id, first), (second_id, second) = results
        assert first["note"] == "a new note"
        assert first["secret_length"] == len(SECRET)
        assert first["db_host"] == "db2.internal" and first["db_password_resolved"] is True
        assert first["state_before"] is None and first["state_after"] == {"runs": 1}
        assert second["state_before"] == {"runs": 1} and second["state_after"] == {"runs": 2}
        assert first["child"] == 42
        assert first["async_result"] == 10

        child = (await client.get(f"/api/w/main/jobs_u/get/{first['async_child']}")).json()
        assert child["parent_job"] == first_id
        assert child["script_path"] == "f/wm/child"

        state = await client.get("/api/w/main/resources/get_value/f/wm/parent/user")
        assert state.json() == {"runs": 2}
        resource = (await client.get("/api/w/main/resources/get/f/wm/db")).json()
        assert resource["resource_type"] == "postgresql"  # an update keeps the type

        for job_id in (first_id, second_id):
            logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
            assert "the secret is *****" in logs, logs
            assert "'password': '*****'" in logs
            assert SECRET not in logs
