"""Who may see and do what, and the audit trail of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli_app
from server import db, secrets, settings, variables
from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from tests.test_variables import create_user
from worker import service


async def test_user_scripts_are_private(client: httpx.AsyncClient, worker: service.Worker) -> None:
    alice = await create_user(client, "alice", "developer")
    bob = await create_user(client, "bob", "developer")
    async with alice, bob:
        await save(alice, "u/alice/mine", "def main():\n    return 'alice'\n")
        assert (await bob.get("/api/w/main/scripts/get/p/u/alice/mine")).status_code == 403
        assert (
            await bob.post("/api/w/main/jobs/run_wait_result/p/u/alice/mine", json={})
        ).status_code == 403
        assert [s["path"] for s in (await bob.get("/api/w/main/scripts/list")).json()] == []
        overwrite = await bob.post(
            "/api/w/main/scripts/create",
            json={
                "path": "u/alice/mine",
                "content": "def main():\n    return 'bob'\n",
                "language": "python3",
            },
        )
        assert overwrite.status_code == 403
        assert (
            await alice.post("/api/w/main/jobs/run_wait_result/p/u/alice/mine", json={})
        ).json() == "alice"
        # the admin sees everything
        assert (await client.get("/api/w/main/scripts/get/p/u/alice/mine")).status_code == 200


async def test_operators_run_but_do_not_change(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/ops/hello", "def main():\n    return 'hi'\n")
    olga = await create_user(client, "olga", "operator")
    async with olga:
        assert (
            await olga.post("/api/w/main/jobs/run_wait_result/p/f/ops/hello", json={})
        ).json() == "hi"
        assert (await olga.get("/api/w/main/jobs/list")).status_code == 200
        for method, url, body in [
            (
                "POST",
                "/api/w/main/scripts/create",
                {"path": "f/ops/x", "content": "", "language": "bash"},
            ),
            ("POST", "/api/w/main/variables/create", {"path": "f/ops/v", "value": "1"}),
            ("POST", "/api/w/main/resources/create", {"path": "f/ops/r", "value": {}}),
            ("POST", "/api/users/create", {"username": "x", "password": "y", "role": "admin"}),
            ("GET", "/api/w/main/audit/list", None),
        ]:
            response = await olga.request(method, url, json=body)
            assert response.status_code == 403, (url, response.text)


async def test_the_audit_log_records_changes_reads_logins_and_runs(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await client.post("/api/auth/login", json={"username": "admin", "password": "admin-password"})
    await client.post("/api/auth/login", json={"username": "admin", "password": "wrong"})
    await save(client, "f/audit/hello", "def main():\n    return 1\n")
    await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/audit/key", "value": "k", "is_secret": True},
    )
    await client.get("/api/w/main/variables/get_value/f/audit/key")
    job_id = (await client.post("/api/w/main/jobs/run/p/f/audit/hello", json={})).text
    await wait_completed(client, job_id)
    await client.post("/api/users/tokens/create", json={"label": "ci"})
    entries = (await client.get("/api/w/main/audit/list")).json()
    actions = [(e["action"], e["target"]) for e in entries]
    for expected in [
        ("auth.login", ""),
        ("auth.login_failed", ""),
        ("scripts.create", "f/audit/hello"),
        ("variables.create", "f/audit/key"),
        ("variables.read_secret", "f/audit/key"),
        ("jobs.run", "f/audit/hello"),
        ("tokens.create", "ci"),
    ]:
        assert expected in actions, expected
    assert "k" not in str([e["details"] for e in entries])
    only_runs = (await client.get("/api/w/main/audit/list?operation=jobs.run")).json()
    assert {e["action"] for e in only_runs} == {"jobs.run"}


async def test_rotate_key_command(
    pool: db.Pool, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "rotate-home"
    config = settings.from_env({}, home=home)
    old = secrets.Vault(secrets.master_key(config))
    await variables.save(
        pool,
        old,
        workspace="main",
        path="f/rot/v",
        value="kept",
        is_secret=True,
        description="",
        created_by="admin",
    )
    old_key = (home / secrets.KEY_FILE).read_text()
    monkeypatch.setenv("TIDEMILL_DATABASE_URL", dsn)
    monkeypatch.setenv("TIDEMILL_HOME", str(home))
    monkeypatch.delenv("TIDEMILL_SECRET_KEY", raising=False)
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["secrets", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 values" in result.output
    assert (home / secrets.KEY_FILE).read_text() != old_key
    new = secrets.Vault(secrets.master_key(config))
    assert await variables.get_value(pool, new, workspace="main", path="f/rot/v") == "kept"
