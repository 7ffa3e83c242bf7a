"""A root worker runs scripts as a user of their own: no key, no admin token, no other job.

These run a real worker as root (as here and in CI); a worker that is not root has
no other user to give its jobs, so they are skipped there.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import db, secrets, settings
from tests.conftest import ADMIN_TOKEN
from tests.test_api_scripts import save
from worker import runner, sandbox, service

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker changes users")

PROBE = """import os

def main(paths: list, listdirs: list = []):
    found = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
             "env": dict(os.environ), "cwd_mode": oct(os.stat(".").st_mode & 0o777)}
    for path in paths:
        try:
            with open(path, "rb") as f:
                found[path] = f.read().decode(errors="replace")
        except OSError as exc:
            found[path] = type(exc).__name__
    for path in listdirs:
        try:
            found[path] = os.listdir(path)
        except OSError as exc:
            found[path] = type(exc).__name__
    return found
"""

HOLDER = """import os, time

def main(seconds: float):
    with open("private.txt", "w") as f:
        f.write("JOB-A-PRIVATE")
    time.sleep(seconds)
    return "done"
"""


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> Any:
    response = await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_script_runs_unprivileged_and_cannot_read_the_worker_secrets(
    client: httpx.AsyncClient,
    worker: service.Worker,
    config: settings.Settings,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the worker's own environment holds what a job must never see
    worker_only = {
        "TIDEMILL_DATABASE_URL": dsn,
        "TIDEMILL_SECRET_KEY": "worker-only-secret-key-value",
        "TIDEMILL_ADMIN_TOKEN": ADMIN_TOKEN,
        "TIDEMILL_ADMIN_PASSWORD": "worker-only-password",
    }
    for name, value in worker_only.items():
        monkeypatch.setenv(name, value)
    key_file = config.home / secrets.KEY_FILE
    secrets.master_key(config)  # the server made it; make sure it is there
    config.admin_token_file.write_text(ADMIN_TOKEN + "\n")
    config.admin_token_file.chmod(0o600)
    environ = Path(f"/proc/{os.getpid()}/environ")
    await save(client, "f/sandbox/probe", PROBE)
    found = await run(
        client,
        "f/sandbox/probe",
        {"paths": [str(key_file), str(config.admin_token_file), str(environ)]},
    )

    assert worker.user is not None
    assert found["uid"] == worker.user.uid != 0
    assert found["gid"] == worker.user.gid != 0
    assert found["groups"] in ([], [worker.user.gid])
    assert found[str(key_file)] == "PermissionError"
    assert found[str(config.admin_token_file)] == "PermissionError"
    assert found[str(environ)] == "PermissionError"
    assert found["cwd_mode"] == "0o700"

    env: dict[str, str] = found["env"]
    allowed = set(runner.BASE_ENV) | {"HOME", "PYTHONUNBUFFERED"}
    unexpected = {
        name
        for name in env
        if name not in allowed
        and not name.startswith(("WM_", "TIDEMILL_"))
        # Python itself may set these in its own process
        and name not in {"LC_CTYPE"}
    }
    assert unexpected == set()
    job_vars = {name.split("_", 1)[1] for name in env if name.startswith(("WM_", "TIDEMILL_"))}
    assert job_vars <= {"BASE_URL", "TOKEN", "WORKSPACE", "JOB_ID", "JOB_PATH", "STATE_PATH"}
    for name in worker_only:
        assert name not in env
    for value in env.values():
        for secret in (*worker_only.values(), key_file.read_text().strip()):
            assert secret not in value
    assert env["WM_TOKEN"] != ADMIN_TOKEN


async def test_bash_runs_unprivileged_too(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    key_file = config.home / secrets.KEY_FILE
    content = 'key="$1"\nid -u\ncat "$key" >/dev/null 2>&1 && echo READ || echo DENIED\n'
    await save(client, "f/sandbox/who", content, language="bash")
    assert worker.user is not None
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/sandbox/who", json={"key": str(key_file)}
    )
    assert response.json() == "DENIED"
    jobs = (await client.get("/api/w/main/jobs/list?script_path_exact=f/sandbox/who")).json()
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{jobs[0]['id']}")).text
    assert f"{worker.user.uid}\n" in logs


async def test_a_job_cannot_read_another_jobs_directory(
    client: httpx.AsyncClient,
    worker: service.Worker,
    pool: db.Pool,
    dsn: str,
    config: settings.Settings,
) -> None:
    second = service.Worker(config, pool, dsn, name="second-worker")
    stop = asyncio.Event()
    task = asyncio.ensure_future(second.run(stop))
    try:
        assert second.user is not None and worker.user is not None
        assert second.user.uid != worker.user.uid
        await save(client, "f/sandbox/holder", HOLDER)
        await save(client, "f/sandbox/probe", PROBE)
        holder = (
            await client.post("/api/w/main/jobs/run/p/f/sandbox/holder", json={"seconds": 20})
        ).text
        private = config.jobs_dir / holder / "private.txt"
        for _ in range(300):
            if private.exists():
                break
            await asyncio.sleep(0.05)
        assert private.read_text() == "JOB-A-PRIVATE"  # the worker (root) sees it

        found = await run(
            client,
            "f/sandbox/probe",
            {"paths": [str(private)], "listdirs": [str(config.jobs_dir / holder)]},
        )
        assert found[str(private)] == "PermissionError"
        assert found[str(config.jobs_dir / holder)] == "PermissionError"
        await client.post(f"/api/w/main/jobs_u/queue/cancel/{holder}", json={"reason": "done"})
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def test_a_shared_cache_is_group_writable(tmp_path: Path) -> None:
    user = sandbox.job_user()
    assert user is not None
    cache = tmp_path / "cache"
    (cache / "deps").mkdir(parents=True)
    (cache / "deps" / "module.js").write_text("x")
    sandbox.share_with_jobs(cache, user)
    for path in (cache, cache / "deps"):
        assert path.stat().st_gid == user.gid
        assert path.stat().st_mode & 0o2070 == 0o2070
    assert (cache / "deps" / "module.js").stat().st_mode & 0o060 == 0o060
