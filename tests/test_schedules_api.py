"""Schedules through the HTTP API: saving, reading, the 422s a user meets, and roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.test_api_scripts import HELLO, save

YEARLY = "0 0 1 1 *"  # far enough away that the running scheduler never fires it here
NOTIFY = (
    "def main(error: dict, job_id: str, schedule_path: str, path: str, channel: str = 'ops'):\n"
    "    return {'channel': channel, 'job_id': job_id, 'error': error}\n"
)


async def create(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    body = {"path": "f/demo/nightly", "schedule": YEARLY, "script_path": "f/demo/hello"} | fields
    return await client.post("/api/w/main/schedules/create", json=body)


async def get(client: httpx.AsyncClient, path: str = "f/demo/nightly") -> dict[str, Any]:
    response = await client.get(f"/api/w/main/schedules/get/{path}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def invalid_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return {d["path"] for d in error["details"]}


async def test_create_then_read_with_the_next_fires(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    response = await create(
        client,
        schedule="0 30 9 * * MON-FRI",
        timezone="Europe/Berlin",
        args={"name": "ada"},
        summary="weekday mornings",
    )
    assert response.status_code == 201, response.text
    assert response.text == "f/demo/nightly"
    schedule = await get(client)
    assert schedule["path"] == "f/demo/nightly"
    assert schedule["workspace_id"] == "main"
    assert schedule["schedule"] == "0 30 9 * * MON-FRI"
    assert schedule["timezone"] == "Europe/Berlin"
    assert schedule["script_path"] == "f/demo/hello"
    assert schedule["args"] == {"name": "ada"}
    assert schedule["enabled"] is True
    assert schedule["is_flow"] is False
    assert schedule["summary"] == "weekday mornings"
    assert schedule["edited_by"] == "admin"
    assert schedule["error"] is None
    fires = [datetime.fromisoformat(f) for f in schedule["next_fires"]]
    assert len(fires) == 5
    assert fires == sorted(fires)
    for fire in fires:
        assert (fire.hour, fire.minute, fire.second) == (9, 30, 0)
        assert fire.weekday() < 5
        assert fire.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert fires[0] == datetime.fromisoformat(schedule["next_fire"])


async def test_defaults_and_list_by_path(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    for path in ("f/demo/b", "f/demo/a"):
        assert (await create(client, path=path)).status_code == 201
    listed = (await client.get("/api/w/main/schedules/list")).json()
    assert [s["path"] for s in listed] == ["f/demo/a", "f/demo/b"]
    assert listed[0]["timezone"] == "UTC"
    assert listed[0]["args"] == {}
    assert listed[0]["next_fires"][0].endswith("+00:00")


async def test_each_bad_field_is_named(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    response = await create(
        client, path="nightly", schedule="* * *", timezone="Mars/Olympus", args={"name": 5}
    )
    assert invalid_fields(response) == {"path", "schedule", "timezone", "args.name"}
    assert invalid_fields(await create(client, script_path="f/demo/missing")) == {"script_path"}
    assert invalid_fields(await create(client, args={"nope": 1})) == {"args"}
    assert invalid_fields(await create(client, schedule="0 0 0 0 0 0 0")) == {"schedule"}
    assert invalid_fields(await create(client, schedule="0 0 31 2 *")) == {"schedule"}


async def test_a_body_of_the_wrong_shape_is_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/w/main/schedules/create", json={"path": "f/demo/x", "script_path": "f/demo/hello"}
    )
    assert response.status_code == 422
    response = await create(client, enabled="yes")
    assert invalid_fields(response) == {"enabled"}


async def test_a_path_is_taken_once(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    assert (await create(client)).status_code == 201
    response = await create(client)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_update_replaces_the_definition_and_keeps_enabled_unless_told(
    client: httpx.AsyncClient,
) -> None:
    await save(client, "f/demo/hello", HELLO)
    await create(client, args={"name": "a"})
    off = await client.post(
        "/api/w/main/schedules/setenabled/f/demo/nightly", json={"enabled": False}
    )
    assert off.status_code == 200, off.text
    response = await client.post(
        "/api/w/main/schedules/update/f/demo/nightly",
        json={"schedule": "0 0 2 * *", "script_path": "f/demo/hello", "timezone": "Asia/Tokyo"},
    )
    assert response.status_code == 200, response.text
    schedule = await get(client)
    assert schedule["schedule"] == "0 0 2 * *"
    assert schedule["timezone"] == "Asia/Tokyo"
    assert schedule["args"] == {}
    assert schedule["enabled"] is False
    assert schedule["next_fires"] == []
    response = await client.post(
        "/api/w/main/schedules/update/f/demo/nightly",
        json={"schedule": "0 0 2 * *", "script_path": "f/demo/hello", "enabled": True},
    )
    schedule = await get(client)
    assert schedule["enabled"] is True
    assert schedule["next_fires"][0].endswith("T00:00:00+00:00")
    bad = await client.post(
        "/api/w/main/schedules/update/f/demo/nightly",
        json={"schedule": "nope", "script_path": "f/demo/hello"},
    )
    assert invalid_fields(bad) == {"schedule"}
    missing = await client.post(
        "/api/w/main/schedules/update/f/demo/other",
        json={"schedule": YEARLY, "script_path": "f/demo/hello"},
    )
    assert missing.status_code == 404


async def test_setenabled_turns_fires_off_and_on(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    await create(client, enabled=False)
    schedule = await get(client)
    assert (schedule["enabled"], schedule["next_fire"], schedule["next_fires"]) == (False, None, [])
    on = await client.post(
        "/api/w/main/schedules/setenabled/f/demo/nightly", json={"enabled": True}
    )
    assert on.status_code == 200
    schedule = await get(client)
    assert schedule["enabled"] is True
    assert len(schedule["next_fires"]) == 5
    missing = await client.post(
        "/api/w/main/schedules/setenabled/f/demo/other", json={"enabled": True}
    )
    assert missing.status_code == 404


async def test_delete(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    await create(client)
    response = await client.delete("/api/w/main/schedules/delete/f/demo/nightly")
    assert response.status_code == 200, response.text
    assert (await client.get("/api/w/main/schedules/get/f/demo/nightly")).status_code == 404
    again = await client.delete("/api/w/main/schedules/delete/f/demo/nightly")
    assert again.status_code == 404


async def test_hooks_are_checked_against_what_they_will_be_given(
    client: httpx.AsyncClient,
) -> None:
    await save(client, "f/demo/hello", HELLO)
    await save(client, "f/demo/notify", NOTIFY)
    response = await create(
        client,
        on_failure="script/f/demo/notify",
        on_failure_extra_args={"channel": "alerts"},
        on_recovery="f/demo/notify",
    )
    assert response.status_code == 201, response.text
    schedule = await get(client)
    assert schedule["on_failure"] == "f/demo/notify"
    assert schedule["on_failure_extra_args"] == {"channel": "alerts"}
    assert schedule["on_recovery"] == "f/demo/notify"
    assert schedule["on_recovery_extra_args"] == {}
    # hello takes only `name`: it cannot take a failure's fields
    bad_hook = await create(client, path="f/demo/other", on_failure="f/demo/hello")
    assert invalid_fields(bad_hook) == {"on_failure_extra_args"}
    bad_extra = await create(
        client,
        path="f/demo/other",
        on_recovery="f/demo/notify",
        on_recovery_extra_args={"channel": 1},
    )
    assert invalid_fields(bad_extra) == {"on_recovery_extra_args.channel"}
    missing = await create(client, path="f/demo/other", on_failure="f/demo/gone")
    assert invalid_fields(missing) == {"on_failure"}
    flow = await create(client, path="f/demo/other", on_failure="flow/f/demo/notify")
    assert invalid_fields(flow) == {"on_failure"}


async def login_as(client: httpx.AsyncClient, role: str) -> dict[str, str]:
    created = await client.post(
        "/api/users/create", json={"username": role, "password": "pw-" + role, "role": role}
    )
    assert created.status_code == 201, created.text
    token = await client.post("/api/auth/login", json={"username": role, "password": "pw-" + role})
    return {"Authorization": f"Bearer {token.text}"}


async def test_operators_read_but_do_not_write(client: httpx.AsyncClient) -> None:
    await save(client, "f/demo/hello", HELLO)
    await create(client)
    operator = await login_as(client, "operator")
    assert (await client.get("/api/w/main/schedules/list", headers=operator)).status_code == 200
    got = await client.get("/api/w/main/schedules/get/f/demo/nightly", headers=operator)
    assert got.status_code == 200
    writes = [
        ("POST", "/api/w/main/schedules/create", {"path": "f/demo/x", "schedule": YEARLY}),
        ("POST", "/api/w/main/schedules/update/f/demo/nightly", {"schedule": YEARLY}),
        ("POST", "/api/w/main/schedules/setenabled/f/demo/nightly", {"enabled": False}),
        ("DELETE", "/api/w/main/schedules/delete/f/demo/nightly", None),
    ]
    for method, url, body in writes:
        response = await client.request(method, url, json=body, headers=operator)
        assert response.status_code == 403, (url, response.text)
    developer = await login_as(client, "developer")
    response = await client.post(
        "/api/w/main/schedules/create",
        json={"path": "f/demo/dev", "schedule": YEARLY, "script_path": "f/demo/hello"},
        headers=developer,
    )
    assert response.status_code == 201, response.text
    assert (await get(client, "f/demo/dev"))["edited_by"] == "developer"


@pytest.mark.parametrize("route", ["list", "get/f/demo/nightly"])
async def test_a_workspace_bound_token_stays_in_its_workspace(
    client: httpx.AsyncClient, route: str
) -> None:
    token = await client.post("/api/users/tokens/create", json={"workspace_id": "other"})
    headers = {"Authorization": f"Bearer {token.text}"}
    response = await client.get(f"/api/w/main/schedules/{route}", headers=headers)
    assert response.status_code == 403
