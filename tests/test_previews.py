"""`jobs/run/preview` (code run without saving a version) and `users/whoami`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from server import settings
from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save, settled_version
from worker import service

ADDER = '''def main(a: int, b: int = 2):
    """Add two numbers."""
    print("adding", a, b)
    return a + b
'''
SIX = "import six\n\ndef main():\n    return six.__name__\n"
# another body, the same requirements
SIX_TWICE = "import six\n\ndef main():\n    return six.__name__ * 2\n"
PINNED = "# pin: six==1.16.0\nimport six\n\ndef main():\n    return six.__version__\n"
NEEDS_NEW_PYTHON = '# /// script\n# requires-python = ">=9"\n# ///\ndef main():\n    return 1\n'


async def preview(client: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    return await client.post("/api/w/main/jobs/run/preview", json=body)


async def test_a_preview_runs_code_without_saving_a_version(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    response = await preview(client, {"content": ADDER, "language": "python3", "args": {"a": 40}})
    assert response.status_code == 201, response.text
    job_id = response.text
    assert (await wait_completed(client, job_id))["result"] == 42
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["job_kind"] == "preview"
    assert job["script_hash"] is None  # no version to fetch or rerun
    assert job["script_path"] == "u/admin/preview"
    assert job["raw_code"] == ADDER
    assert job["args"] == {"a": 40, "b": 2}  # defaults filled, as for a saved script
    assert "adding 40 2" in (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    listed = (await client.get("/api/w/main/jobs/list")).json()
    assert [(j["id"], j["job_kind"], j["script_hash"]) for j in listed] == [
        (job_id, "preview", None)
    ]
    assert "raw_code" not in listed[0]
    assert (await client.get("/api/w/main/scripts/list")).json() == []


async def test_a_preview_at_a_path_and_in_typescript(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    body = {
        "content": "export function main(x: string) { console.log(x); return x + x; }\n",
        "language": "deno",
        "path": "f/drafts/double",
        "args": {"x": "ab"},
    }
    response = await preview(client, body)
    assert response.status_code == 201, response.text
    assert (await wait_completed(client, response.text, timeout_s=60))["result"] == "abab"
    job = (await client.get(f"/api/w/main/jobs_u/get/{response.text}")).json()
    assert job["script_path"] == "f/drafts/double"
    filtered = await client.get("/api/w/main/jobs/list?script_path_exact=f/drafts/double")
    assert [j["id"] for j in filtered.json()] == [response.text]
    missing = await client.get("/api/w/main/scripts/get/p/f/drafts/double")
    assert missing.status_code == 404


async def test_bad_previews_are_refused_before_queueing(client: httpx.AsyncClient) -> None:
    wrong_arg = await preview(client, {"content": ADDER, "language": "python3", "args": {}})
    assert wrong_arg.status_code == 422
    assert wrong_arg.json()["error"]["details"][0]["path"] == "a"
    no_content = await preview(client, {"language": "python3", "args": {}})
    assert no_content.status_code == 422
    assert no_content.json()["error"]["details"] == [{"path": "content", "message": "required"}]
    broken = await preview(client, {"content": "def main(:\n", "language": "python3", "args": {}})
    assert broken.status_code == 422, broken.text
    other_kind = await preview(client, {"kind": "identity", "args": {}})
    assert other_kind.status_code == 422
    bad_path = await preview(
        client, {"content": ADDER, "language": "python3", "args": {"a": 1}, "path": "nope"}
    )
    assert bad_path.status_code == 422
    assert (await client.get("/api/w/main/jobs/list")).json() == []


async def test_a_preview_locks_dependencies_as_a_save_does(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    saved = await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/deps/new_python", "content": NEEDS_NEW_PYTHON, "language": "python3"},
    )
    version = await settled_version(client, saved.text)
    assert version["lock_status"] == "failed"
    response = await preview(
        client, {"content": NEEDS_NEW_PYTHON, "language": "python3", "args": {}}
    )
    assert response.status_code == 201, response.text
    outcome = await wait_completed(client, response.text)
    assert outcome["success"] is False
    message = outcome["result"]["error"]["message"]
    assert "could not be resolved" in message
    # the same resolver message (uv wraps its lines by where it ran)
    assert " ".join(str(version["lock_error"]).split()) in " ".join(message.split())


async def jobs_by_kind(client: httpx.AsyncClient) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    for job in (await client.get("/api/w/main/jobs/list")).json():
        found.setdefault(job["job_kind"], []).append(job)
    return found


async def test_a_preview_leaves_its_lock_to_a_dependencies_job(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an index that takes connections and never answers, and an empty uv cache: a request
    # that ran the resolver itself would hang (for its 60 s bound) instead of answering
    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    index = await asyncio.start_server(silent, "127.0.0.1", 0)
    monkeypatch.setenv("UV_INDEX_URL", f"http://127.0.0.1:{index.sockets[0].getsockname()[1]}/")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        first = await preview(client, {"content": SIX, "language": "python3", "args": {}})
        second = await preview(client, {"content": SIX_TWICE, "language": "python3"})
    finally:
        index.close()
    assert loop.time() - started < 5
    assert (first.status_code, second.status_code) == (201, 201), first.text + second.text
    # no worker: both previews wait, for one resolver (their requirements are the same)
    jobs = await jobs_by_kind(client)
    assert sorted(str(j["id"]) for j in jobs["preview"]) == sorted([first.text, second.text])
    [resolver] = jobs["dependencies"]
    assert (resolver["status"], resolver["script_path"]) == ("queued", "u/admin/preview")


@pytest.mark.deps
async def test_previews_reuse_a_lock_resolved_for_the_same_requirements(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await settled_version(client, await save(client, "f/deps/six", SIX))
    assert len((await jobs_by_kind(client))["dependencies"]) == 1
    # the saved version's requirements: its lock and its environment, no resolver again
    reused = await client.post(
        "/api/w/main/jobs/run_wait_result/preview",
        json={"content": SIX_TWICE, "language": "python3"},
    )
    assert (reused.status_code, reused.json()) == (200, "sixsix"), reused.text
    assert len((await jobs_by_kind(client))["dependencies"]) == 1
    # new requirements: resolved once by a dependencies job, reused by the next preview
    for _ in range(2):
        pinned = await client.post(
            "/api/w/main/jobs/run_wait_result/preview",
            json={"content": PINNED, "language": "python3"},
        )
        assert (pinned.status_code, pinned.json()) == (200, "1.16.0"), pinned.text
    resolvers = (await jobs_by_kind(client))["dependencies"]
    assert len(resolvers) == 2
    assert all(r["success"] for r in resolvers)
    assert "six==1.16.0" in str(resolvers[0]["result"])  # newest first
    built = [p for p in config.envs_dir.iterdir() if p.name != "base"]
    assert len(built) == 2  # one per lock: the previews built nothing of their own


async def test_previews_need_the_right_to_write_the_path(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/users/create", json={"username": "olga", "password": "pw-olga-1", "role": "operator"}
    )
    assert created.status_code == 201
    token = (
        await client.post("/api/auth/login", json={"username": "olga", "password": "pw-olga-1"})
    ).text
    as_operator = await client.post(
        "/api/w/main/jobs/run/preview",
        json={"content": ADDER, "language": "python3", "args": {"a": 1}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert as_operator.status_code == 403
    scoped = (
        await client.post("/api/users/tokens/create", json={"label": "run", "scopes": ["run:*"]})
    ).text
    as_runner = await client.post(
        "/api/w/main/jobs/run/preview",
        json={"content": ADDER, "language": "python3", "args": {"a": 1}},
        headers={"Authorization": f"Bearer {scoped}"},
    )
    assert as_runner.status_code == 403
    assert "write:u/admin/preview" in as_runner.json()["error"]["message"]


async def test_whoami(client: httpx.AsyncClient) -> None:
    me = (await client.get("/api/users/whoami")).json()
    assert (me["username"], me["role"], me["is_admin"], me["operator"]) == (
        "admin", "admin", True, False,
    )  # fmt: skip
    assert me["scopes"] is None
    assert (await client.get("/api/w/main/users/whoami")).json() == me
    await client.post(
        "/api/users/create", json={"username": "dev", "password": "pw-dev-12", "role": "developer"}
    )
    token = (
        await client.post("/api/auth/login", json={"username": "dev", "password": "pw-dev-12"})
    ).text
    dev = (
        await client.get("/api/users/whoami", headers={"Authorization": f"Bearer {token}"})
    ).json()
    assert (dev["username"], dev["role"], dev["is_admin"]) == ("dev", "developer", False)
    scoped = (
        await client.post(
            "/api/users/tokens/create",
            json={"label": "ws", "scopes": ["run:f/a/b"], "workspace_id": "main"},
        )
    ).text
    narrow = await client.get("/api/users/whoami", headers={"Authorization": f"Bearer {scoped}"})
    assert (narrow.json()["scopes"], narrow.json()["workspace_id"]) == (["run:f/a/b"], "main")
    elsewhere = await client.get(
        "/api/w/other/users/whoami", headers={"Authorization": f"Bearer {scoped}"}
    )
    assert elsewhere.status_code == 403
    client.headers.pop("Authorization")
    assert (await client.get("/api/users/whoami")).status_code == 401


async def test_a_sync_preview_answers_the_result_or_the_error(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    for route in ("run_wait_result", "run_inline"):
        ok = await client.post(
            f"/api/w/main/jobs/{route}/preview",
            json={"content": ADDER, "language": "python", "args": {"a": 1, "b": 1}},
        )
        assert (ok.status_code, ok.json()) == (200, 2), ok.text
    failed = await client.post(
        "/api/w/main/jobs/run_wait_result/preview",
        json={"content": "def main():\n    raise KeyError('k')\n", "language": "python3"},
    )
    assert failed.status_code >= 400
    assert failed.json()["error"]["details"]["name"] == "KeyError"
    listed = (await client.get("/api/w/main/jobs/list")).json()
    assert {j["job_kind"] for j in listed} == {"preview"}
    assert len(listed) == 3
