"""The server side of the web UI: the bundle at `/`, the live-run stream, the form preview."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from server import db, queue
from server.api import ui
from tests import test_api_scripts, test_flows_api, test_flows_run, test_flows_suspend
from tests.conftest import ADMIN_TOKEN, Processes, wait_healthy
from worker import service

pytestmark = pytest.mark.usefixtures("bundle")

CHATTY = (
    "import time\n\n"
    "def main(n: int = 3):\n"
    "    for i in range(n):\n"
    "        print(f'line {i}', flush=True)\n"
    "        time.sleep(0.05)\n"
    "    return {'lines': n}\n"
)


@pytest.fixture(scope="session")
def bundle() -> None:
    """The UI bundle, built once per session (a no-op when fresh)."""
    if not (ui.SOURCE / "build.mjs").is_file():
        pytest.skip("no frontend sources (an installed wheel)")
    assert ui.build(ui.SOURCE), "the frontend build failed; see the log"


def events(body: str) -> list[dict[str, Any]]:
    out = []
    for block in body.split("\r\n\r\n" if "\r\n" in body else "\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            out.append(json.loads("\n".join(data)))
    return out


async def test_pages_answer_the_app_shell_without_a_token(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization")
    pages = ("/", "/login", "/scripts/f/demo/hello", "/runs/abc", "/edit", "/workers")
    flows = ("/flows", "/flows/f/demo/tour", "/flows/edit", "/approve/main/00/1/ab")
    for path in (*pages, *flows):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert '<script type="module" src="/assets/main-' in response.text
    script = response.text.split('src="')[1].split('"')[0]
    asset = await client.get(script, headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]


async def test_unknown_paths_stay_json_404s(client: httpx.AsyncClient) -> None:
    for path in ("/api/nope", "/nope", "/assets/missing-123.js", "/assets/..%2Fpackage.json"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert (await client.post("/login")).status_code == 405


async def test_an_unbuilt_bundle_says_how_to_build_it(tmp_path: Any) -> None:
    bundle = ui.Bundle(source=tmp_path / "frontend", packaged=tmp_path / "ui_bundle")
    assert await bundle.root() is None
    (tmp_path / "ui_bundle").mkdir()
    (tmp_path / "ui_bundle" / "index.html").write_text("<!doctype html>")
    assert await bundle.root() == tmp_path / "ui_bundle"


async def test_the_stream_sends_logs_then_the_finished_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/ui/chatty", "content": CHATTY, "language": "python3"},
    )
    job_id = (await client.post("/api/w/main/jobs/run/p/f/ui/chatty", json={"n": 3})).text
    token = client.headers.pop("Authorization").removeprefix("Bearer ")
    response = await client.get(
        f"/api/w/main/jobs_u/getupdate_sse/{job_id}", params={"token": token}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    updates = events(response.text)
    logs = "".join(u["new_logs"] for u in updates)
    assert [line for line in logs.splitlines() if line.startswith("line")] == [
        "line 0",
        "line 1",
        "line 2",
    ]
    final = updates[-1]
    assert final["completed"] is True and final["status"] == "success"
    assert final["job"]["result"] == {"lines": 3}
    assert final["log_offset"] == len(logs)
    assert all(not u["completed"] for u in updates[:-1])

    # a reconnecting browser sends Last-Event-ID and gets only what it has not seen
    again = await client.get(
        f"/api/w/main/jobs_u/getupdate_sse/{job_id}",
        params={"token": token},
        headers={"Last-Event-ID": str(final["log_offset"])},
    )
    (only,) = events(again.text)
    assert only["new_logs"] == "" and only["completed"] is True


async def test_the_stream_needs_a_token(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization")
    response = await client.get(
        "/api/w/main/jobs_u/getupdate_sse/00000000-0000-0000-0000-000000000000",
        params={"token": "wrong"},
    )
    assert response.status_code == 401


async def test_the_preview_is_the_schema_a_save_would_store(client: httpx.AsyncClient) -> None:
    content = "def main(b: bool, n: int = 2, tag: str | None = None):\n    return n\n"
    preview = await client.post(
        "/api/w/main/scripts/preview_schema", json={"language": "python", "content": content}
    )
    assert preview.status_code == 200
    await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/ui/preview", "content": content, "language": "python3"},
    )
    saved = (await client.get("/api/w/main/scripts/get/p/f/ui/preview")).json()
    assert preview.json()["schema"] == saved["schema"]
    assert preview.json()["schema"]["order"] == ["b", "n", "tag"]

    broken = await client.post(
        "/api/w/main/scripts/preview_schema",
        json={"language": "python3", "content": "def main(:\n"},
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "invalid_script"


LONG = (
    "import time\n\n"
    "def main():\n"
    "    for i in range(2000):\n"
    "        print(f'{i:05d} ' + 'x' * 94, flush=True)\n"
    "        if i % 500 == 499:\n"
    "            time.sleep(1.0)  # the worker writes a chunk every 0.5 s\n"
    "    print('marker', flush=True)\n"
    "    time.sleep(3)  # time for the marker to be streamed before the tail\n"
    "    print('tail', flush=True)\n"
    "    return 'done'\n"
)


async def test_the_stream_reads_only_new_log_chunks(
    processes: Processes, worker: service.Worker, pool: db.Pool
) -> None:
    # a real server process: the in-process transport would buffer the whole stream
    processes.start("server")
    base_url = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    await asyncio.to_thread(wait_healthy, base_url)
    updates: list[dict[str, Any]] = []
    deleted = 0
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    ) as client:
        await client.post(
            "/api/w/main/scripts/create",
            json={"path": "f/ui/long", "content": LONG, "language": "python3"},
        )
        job_id = (await client.post("/api/w/main/jobs/run/p/f/ui/long", json={})).text
        url = f"/api/w/main/jobs_u/getupdate_sse/{job_id}"
        async with client.stream("GET", url) as response:
            buffer = ""
            async for text in response.aiter_text():
                buffer += text.replace("\r\n", "\n")
                *blocks, buffer = buffer.split("\n\n")
                updates += events("\n\n".join(blocks))
                seen = "".join(u["new_logs"] for u in updates)
                if not deleted and "marker" in seen:
                    # the rows already sent disappear: a stream that re-read the whole log
                    # each round would lose its place; one that reads new chunks does not
                    status = await pool.execute(
                        "DELETE FROM job_logs WHERE job_id = $1", queue.parse_job_id(job_id)
                    )
                    deleted = int(status.split()[-1])
                    assert not updates[-1]["completed"]  # the job still runs
    assert deleted > 1  # the long log came in several chunks
    logs = "".join(u["new_logs"] for u in updates)
    lines = logs.splitlines()
    assert lines[:2000] == [f"{i:05d} " + "x" * 94 for i in range(2000)]
    assert "marker" in lines and lines.index("tail") > lines.index("marker")
    assert updates[-1]["completed"] is True and updates[-1]["job"]["result"] == "done"
    # every character was sent once: the offsets add up to what was received
    assert updates[-1]["log_offset"] == len(logs)
    offsets = [u["log_offset"] for u in updates]
    assert offsets == sorted(offsets)


async def test_a_stream_resumes_inside_a_chunk(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/ui/chatty", "content": CHATTY, "language": "python3"},
    )
    await client.post("/api/w/main/jobs/run_wait_result/p/f/ui/chatty", json={})
    (job,) = (await client.get("/api/w/main/jobs/list?script_path_exact=f/ui/chatty")).json()
    full = (await client.get(f"/api/w/main/jobs_u/get_logs/{job['id']}")).text
    for offset in (0, 3, len(full) - 1, len(full), len(full) + 50):
        response = await client.get(
            f"/api/w/main/jobs_u/getupdate_sse/{job['id']}", params={"log_offset": offset}
        )
        (only,) = events(response.text)
        assert only["new_logs"] == full[offset:], offset
        assert only["log_offset"] == len(full)
        # the polling route reads the same way
        update = await client.get(
            f"/api/w/main/jobs_u/getupdate/{job['id']}", params={"log_offset": offset}
        )
        assert update.json() == {
            "running": False,
            "completed": True,
            "new_logs": full[offset:],
            "log_offset": len(full),
        }


async def test_jobs_are_listed_by_status_path_and_time(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    fail = (
        "def main(ok: bool = True):\n    if not ok:\n        raise ValueError('no')\n    return 1\n"
    )
    for path in ("f/ui/one", "f/ui/two", "f/other/three"):
        await client.post(
            "/api/w/main/scripts/create",
            json={"path": path, "content": fail, "language": "python3"},
        )
    start = datetime.now(UTC)
    await client.post("/api/w/main/jobs/run_wait_result/p/f/ui/one", json={})
    await client.post("/api/w/main/jobs/run_wait_result/p/f/ui/two", json={"ok": False})
    await client.post("/api/w/main/jobs/run_wait_result/p/f/other/three", json={})
    middle = datetime.now(UTC)
    queued = (
        await client.post(
            "/api/w/main/jobs/run/p/f/ui/one",
            params={"scheduled_for": (middle + timedelta(hours=1)).isoformat()},
            json={},
        )
    ).text

    async def paths(**params: Any) -> list[str]:
        response = await client.get("/api/w/main/jobs/list", params=params)
        assert response.status_code == 200, response.text
        return [job["script_path"] for job in response.json()]

    assert await paths(status="success") == ["f/other/three", "f/ui/one"]
    assert await paths(status="failure") == ["f/ui/two"]
    assert await paths(status="queued") == ["f/ui/one"]
    assert await paths(status="failure,queued") == ["f/ui/one", "f/ui/two"]
    assert await paths(success="false") == ["f/ui/two"]
    assert await paths(script_path_start="f/ui/", status="success,failure") == [
        "f/ui/two",
        "f/ui/one",
    ]
    assert await paths(created_after=middle.isoformat()) == ["f/ui/one"]
    assert len(await paths(created_before=middle.isoformat())) == 3
    assert await paths(created_before=start.isoformat()) == []
    naive_utc = middle.replace(tzinfo=None).isoformat()  # no offset: read as UTC
    assert await paths(created_after=naive_utc) == ["f/ui/one"]
    everything = await paths(job_kinds="script")
    assert len(everything) == 4
    assert await paths(job_kinds="script", per_page=2, page=2) == everything[2:4]
    assert await paths(job_kinds="flow") == []
    assert await paths(created_by="admin", status="queued") == ["f/ui/one"]
    bad = await client.get("/api/w/main/jobs/list", params={"status": "done"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "status"
    await client.post(f"/api/w/main/jobs_u/queue/cancel/{queued}", json={})
    assert await paths(status="canceled") == ["f/ui/one"]


async def test_each_script_has_its_newest_run(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    hello = "def main():\n    return 1\n"
    for path in ("f/ui/a", "f/ui/b", "f/ui/never", "u/admin/mine"):
        await client.post(
            "/api/w/main/scripts/create",
            json={"path": path, "content": hello, "language": "python3"},
        )
    await client.post("/api/w/main/jobs/run_wait_result/p/f/ui/a", json={})
    for _ in range(3):
        await client.post("/api/w/main/jobs/run_wait_result/p/f/ui/b", json={})
    waiting = (
        await client.post(
            "/api/w/main/jobs/run/p/f/ui/b",
            params={"scheduled_in_secs": 3600},
            json={},
        )
    ).text
    await client.post("/api/w/main/jobs/run_wait_result/p/u/admin/mine", json={})

    runs = (await client.get("/api/w/main/jobs/last_runs")).json()
    assert [r["script_path"] for r in runs] == ["f/ui/a", "f/ui/b", "u/admin/mine"]
    assert runs[0]["status"] == "success"
    assert runs[1]["id"] == waiting and runs[1]["status"] == "queued"

    # a scoped token sees only the scripts it may run; another user not admin's own
    scoped = (await client.post("/api/users/tokens/create", json={"scopes": ["run:f/ui/a"]})).text
    seen = await client.get(
        "/api/w/main/jobs/last_runs", headers={"Authorization": f"Bearer {scoped}"}
    )
    assert [r["script_path"] for r in seen.json()] == ["f/ui/a"]
    await client.post(
        "/api/users/create",
        json={"username": "ops", "password": "ops-password-1", "role": "operator"},
    )
    ops = (
        await client.post("/api/auth/login", json={"username": "ops", "password": "ops-password-1"})
    ).text
    seen = await client.get(
        "/api/w/main/jobs/last_runs", headers={"Authorization": f"Bearer {ops}"}
    )
    assert [r["script_path"] for r in seen.json()] == ["f/ui/a", "f/ui/b"]


async def test_each_flow_has_its_newest_run_apart_from_a_script_at_its_path(
    client: httpx.AsyncClient,
) -> None:
    hello = "def main():\n    return 1\n"
    identity = [{"id": "a", "value": {"type": "identity"}}]
    for path in ("f/ui/a", "f/ui/b"):
        await client.post(
            "/api/w/main/scripts/create",
            json={"path": path, "content": hello, "language": "python3"},
        )
    for path in ("f/ui/a", "f/ui/flow", "f/ui/idle"):  # f/ui/a: a script and a flow
        made = await client.post(
            "/api/w/main/flows/create", json=test_flows_api.flow(path, identity)
        )
        assert made.status_code == 201, made.text
    script_a = (await client.post("/api/w/main/jobs/run/p/f/ui/a", json={})).text
    script_b = (await client.post("/api/w/main/jobs/run/p/f/ui/b", json={})).text
    flow_a = (await client.post("/api/w/main/jobs/run/f/f/ui/a", json={"n": 1})).text
    flow = (await client.post("/api/w/main/jobs/run/f/f/ui/flow", json={"n": 2})).text

    async def seen(token: str = ADMIN_TOKEN) -> list[tuple[str, bool, str]]:
        response = await client.get(
            "/api/w/main/jobs/last_runs", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        rows = response.json()
        assert all(set(r) == {"script_path", "is_flow", "id", "status", "created_at"} for r in rows)
        return [(r["script_path"], r["is_flow"], r["id"]) for r in rows]

    # the script f/ui/a's last run is its own, not the newer run of the flow at its path
    assert await seen() == [
        ("f/ui/a", False, script_a),
        ("f/ui/a", True, flow_a),
        ("f/ui/b", False, script_b),
        ("f/ui/flow", True, flow),
    ]

    # a scoped token sees what it may run: `run:flow/` a flow, `run:script/` a script,
    # `run:<path>` either (as it reads one job's record)
    async def scoped(*scopes: str) -> str:
        made = await client.post("/api/users/tokens/create", json={"scopes": list(scopes)})
        return made.text

    assert await seen(await scoped("run:flow/f/ui/flow")) == [("f/ui/flow", True, flow)]
    assert await seen(await scoped("run:flow/f/ui/a")) == [("f/ui/a", True, flow_a)]
    assert await seen(await scoped("run:script/f/ui/a")) == [("f/ui/a", False, script_a)]
    assert await seen(await scoped("run:f/ui/a")) == [
        ("f/ui/a", False, script_a),
        ("f/ui/a", True, flow_a),
    ]
    assert await seen(await scoped("run:script/f/ui/flow")) == []


async def test_flow_validate_names_every_problem_and_saves_nothing(
    client: httpx.AsyncClient,
) -> None:
    await test_api_scripts.save(client, "f/demo/hello", test_api_scripts.HELLO)
    step = test_flows_api.script_step
    js = test_flows_api.js
    bad = test_flows_api.flow(
        "f/demo/draft",
        [
            step("a", "f/demo/missing"),
            step("b", "f/demo/hello", name=js("results.c")),
            step("b", "f/demo/hello", name=js("flow_input.n +")),
            step("c", "f/demo/hello"),
            test_flows_run.raw("broken", "def main(:\n    pass\n"),
        ],
    )
    response = await client.post("/api/w/main/flows/validate", json=bad)
    assert response.status_code == 422, response.text
    messages = [d["message"] for d in response.json()["error"]["details"]]
    assert any("no script at 'f/demo/missing'" in m for m in messages), messages
    assert any("duplicate step id 'b'" in m for m in messages), messages
    assert any("results.c" in m and "not a step that comes earlier" in m for m in messages)
    assert any("does not parse" in m for m in messages), messages
    assert any(m.startswith("step 'broken'") for m in messages), messages  # the inline script

    good = test_flows_api.flow("f/demo/draft", [step("a", "f/demo/hello", name=js("'x'"))])
    response = await client.post("/api/w/main/flows/validate", json=good)
    assert response.status_code == 200, response.text
    assert response.json() == {"steps": 1}
    assert (await client.get("/api/w/main/flows/get/f/demo/draft")).status_code == 404

    client.headers.pop("Authorization")
    assert (await client.post("/api/w/main/flows/validate", json=good)).status_code == 401


async def test_the_approval_page_reads_its_flow_through_the_signed_url(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    form = test_flows_suspend.FORM
    secret = test_flows_run.raw("secret", "def main():\n    return 'not for approvers'\n")
    modules = test_flows_suspend.approval_flow(timeout=60, resume_form={"schema": form})
    await test_flows_run.create(client, "f/demo/approve", [secret, *modules])
    flow_id = await test_flows_suspend.start(client, "f/demo/approve")
    step: dict[str, Any] = {}
    for _ in range(400):
        step = (await test_flows_run.job(client, flow_id))["flow_status"]["modules"][1]
        if step["type"] == "WaitingForEvents":
            break
        await asyncio.sleep(0.05)
    assert step["type"] == "WaitingForEvents", step
    signed = await test_flows_suspend.urls(client, step["job"])
    page = test_flows_suspend.path_of(signed["approvalPage"])
    assert page.startswith(f"/approve/main/{step['job']}/7/")
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with anonymous:
        assert (await anonymous.get(page)).status_code == 200  # the page itself: the app shell
        read = page.replace("/approve/main/", "/api/w/main/jobs_u/get_flow/")
        response = await anonymous.get(read)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["step_id"] == "ask"
        assert body["step_job"] == step["job"]
        assert body["resume_form"] == form
        assert body["job"]["id"] == flow_id
        assert body["job"]["script_path"] == "f/demo/approve"
        assert [m["id"] for m in body["job"]["raw_flow"]["modules"]] == ["secret", "ask", "after"]
        before, waiting, _after = body["job"]["flow_status"]["modules"]
        assert waiting["type"] == "WaitingForEvents"
        assert "resume_urls" not in waiting
        assert waiting["result"] == 42  # the waiting step's result, for the approver
        assert before["type"] == "Success"
        assert "result" not in before  # but not the other steps'
        forged = read.replace("/7/", "/8/")
        assert (await anonymous.get(forged)).status_code == 401
