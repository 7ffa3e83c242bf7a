"""The server side of the web UI: the bundle at `/`, the live-run stream, the form preview."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from server.api import ui
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
    for path in ("/", "/login", "/scripts/f/demo/hello", "/runs/abc", "/edit", "/workers"):
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
