"""Approvals: suspended steps resumed or canceled through signed URLs, and timeouts."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.test_flows_api import js
from tests.test_flows_run import DOUBLE, SLEEPY, create, job, raw, static, wait_done
from worker import service

FORM = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}},
    "required": ["ok"],
}


def approval_flow(**suspend: Any) -> list[dict[str, Any]]:
    return [
        {**raw("ask", DOUBLE, x=static(21)), "suspend": {"required_events": 1, **suspend}},
        raw(
            "after",
            "def main(ok: bool, asked: int):\n    return {'ok': ok, 'asked': asked}\n",
            ok=js("resume.ok"),
            asked=js("results.ask"),
        ),
    ]


async def start(client: httpx.AsyncClient, path: str) -> str:
    response = await client.post(f"/api/w/main/jobs/run/f/{path}", json={})
    assert response.status_code == 201, response.text
    return response.text


async def waiting_step(client: httpx.AsyncClient, flow_id: str) -> dict[str, Any]:
    for _ in range(400):
        module: dict[str, Any] = (await job(client, flow_id))["flow_status"]["modules"][0]
        if module["type"] == "WaitingForEvents":
            return module
        await asyncio.sleep(0.05)
    raise TimeoutError(flow_id)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def urls(client: httpx.AsyncClient, step_job: str, nonce: int = 7) -> dict[str, str]:
    response = await client.get(f"/api/w/main/jobs/resume_urls/{step_job}/{nonce}")
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"approvalPage", "resume", "cancel"}
    return body


async def test_resume_with_a_form(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await create(client, "f/demo/approve", approval_flow(timeout=60, resume_form={"schema": FORM}))
    flow_id = await start(client, "f/demo/approve")
    step = await waiting_step(client, flow_id)
    assert step["result"] == 42
    assert "/jobs_u/resume/" in step["resume_urls"]["resume"]  # pending URLs in the status
    signed = await urls(client, step["job"])
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with anonymous:
        forged = path_of(signed["resume"]).replace("/7/", "/8/")
        assert (await anonymous.post(forged, json={"ok": True})).status_code == 401
        bad = await anonymous.post(path_of(signed["resume"]), json={"ok": "yes"})
        assert bad.status_code == 422, bad.text
        good = await anonymous.post(path_of(signed["resume"]), json={"ok": True})
        assert good.status_code == 200, good.text
        done = await wait_done(client, flow_id)
        assert done["success"] is True, done
        assert done["result"] == {"ok": True, "asked": 42}
        # the same URL again is harmless
        again = await anonymous.post(path_of(signed["resume"]), json={"ok": False})
        assert again.status_code == 200, again.text
    assert (await job(client, flow_id))["result"] == {"ok": True, "asked": 42}


async def test_cancel_url_fails_the_flow(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await create(client, "f/demo/deny", approval_flow(timeout=60))
    flow_id = await start(client, "f/demo/deny")
    step = await waiting_step(client, flow_id)
    signed = await urls(client, step["job"])
    denied = await client.get(path_of(signed["cancel"]), headers={"Authorization": ""})
    assert denied.status_code == 200, denied.text
    done = await wait_done(client, flow_id)
    assert done["success"] is False
    assert "canceled the flow at 'ask'" in done["result"]["error"]["message"]


async def test_timeout_fails_the_flow_or_continues(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await create(client, "f/demo/late", approval_flow(timeout=1))
    flow_id = await start(client, "f/demo/late")
    done = await wait_done(client, flow_id, timeout_s=20)
    assert done["success"] is False
    assert done["result"]["error"]["name"] == "SuspendTimeout"
    lenient = [
        {
            **raw("ask", DOUBLE, x=static(1)),
            "suspend": {"timeout": 1, "continue_on_disapprove_timeout": True},
        },
        raw("after", DOUBLE, x=js("results.ask")),
    ]
    await create(client, "f/demo/lenient", lenient)
    done = await wait_done(client, await start(client, "f/demo/lenient"), timeout_s=20)
    assert done["success"] is True, done
    assert done["result"] == 4


async def test_an_approval_before_the_step_ends_counts(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    modules = [
        {**raw("ask", SLEEPY, s=static(1.5)), "suspend": {"timeout": 60}},
        raw("after", DOUBLE, x=static(5)),
    ]
    await create(client, "f/demo/early", modules)
    flow_id = await start(client, "f/demo/early")
    step_job = (await job(client, flow_id))["flow_status"]["modules"][0]["job"]
    signed = await urls(client, step_job)
    assert (await client.get(path_of(signed["resume"]))).status_code == 200
    done = await wait_done(client, flow_id, timeout_s=30)
    assert done["success"] is True, done
    assert done["result"] == 10


async def test_suspend_needs_a_step_with_a_job(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/w/main/flows/create",
        json={
            "path": "f/demo/bad",
            "summary": "",
            "value": {
                "modules": [{"id": "a", "value": {"type": "identity"}, "suspend": {"timeout": 5}}]
            },
        },
    )
    assert response.status_code == 422
    assert "suspend" in response.json()["error"]["message"]
