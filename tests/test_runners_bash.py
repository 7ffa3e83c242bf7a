"""Bash jobs: positional arguments, results from result.json or the last line, exits, kills."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from worker import bash_runner, service

GREET = """#!/bin/bash
# Greets someone, a number of times
name="$1"
count="${2:-2}"
greeting="${3:-hello}"
echo "starting" >&2
for i in $(seq "$count"); do echo "$greeting $name"; done
echo "[\\"$1\\", \\"$2\\", \\"$3\\", $#]"
"""


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args)


async def result(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> Any:
    response = await run(client, path, args)
    assert response.status_code == 200, response.text
    return response.json()


async def save_bash(client: httpx.AsyncClient, path: str, content: str, **settings: Any) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": path, "content": content, "language": "bash", **settings},
    )
    assert response.status_code == 201, response.text


async def test_arguments_are_positional_in_the_declared_order(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/sh/greet", GREET, language="bash")
    response = await run(client, "f/sh/greet", {"greeting": "hi", "name": "ada lovelace"})
    assert response.status_code == 200, response.text
    # defaults are filled before queueing, so every position is passed
    assert response.json() == ["ada lovelace", "2", "hi", 3]
    job_id = (await client.get("/api/w/main/jobs/list")).json()[0]["id"]
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "starting" in logs
    assert logs.count("hi ada lovelace") == 2


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        ('echo \'{"ok": true, "n": 2}\'', {"ok": True, "n": 2}),
        ("echo 42", 42),
        ("echo 'just some words  '", "just some words"),
        ("echo done; echo; echo '   '", "done"),
        ("echo done >&2", None),
        ("true", None),
    ],
    ids=["json", "number", "text", "trailing-blank-lines", "stderr-only", "silent"],
)
async def test_the_result_is_the_last_non_empty_line_of_stdout(
    client: httpx.AsyncClient, worker: service.Worker, last: str, expected: Any
) -> None:
    await save(client, "f/sh/last", f"{last}\n", language="bash")
    assert await result(client, "f/sh/last", {}) == expected


async def test_result_json_wins_over_stdout(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = 'echo \'{"from": "file", "items": [1, 2]}\' > result.json\necho "from stdout"\n'
    await save(client, "f/sh/file", content, language="bash")
    response = await run(client, "f/sh/file", {})
    assert response.json() == {"from": "file", "items": [1, 2]}


async def test_a_result_json_that_is_not_json_fails_the_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/sh/badfile", "echo 'not json' > result.json\n", language="bash")
    response = await run(client, "f/sh/badfile", {})
    assert response.status_code == 500
    details = response.json()["error"]["details"]
    assert details["name"] == "ResultNotJSON"
    assert "result.json is not JSON" in details["message"]


async def test_a_result_json_link_is_not_followed(
    client: httpx.AsyncClient, worker: service.Worker, tmp_path: Any
) -> None:
    secret = tmp_path / "worker-secret.json"
    secret.write_text('{"secret": 1}')
    content = f"ln -s {secret} result.json\necho fallback\n"
    await save(client, "f/sh/link", content, language="bash")
    assert await result(client, "f/sh/link", {}) == "fallback"


async def test_a_non_zero_exit_fails_with_the_last_output(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = 'echo "working on it"\necho "disk is full" >&2\nexit 3\n'
    await save(client, "f/sh/fails", content, language="bash")
    response = await run(client, "f/sh/fails", {})
    assert response.status_code == 500
    details = response.json()["error"]["details"]
    assert details["name"] == "ExitCode"
    assert details["message"].startswith("the script exited with code 3")
    assert "working on it\ndisk is full" in details["message"]


async def test_set_e_failures_carry_the_command_error(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/sh/sete", "set -e\ncat /no/such/file\necho unreachable\n", "bash")
    details = (await run(client, "f/sh/sete", {})).json()["error"]["details"]
    assert "code 1" in details["message"]
    assert "/no/such/file: No such file or directory" in details["message"]


async def test_the_job_ends_when_the_script_does_despite_background_children(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/sh/bg", "sleep 60 &\necho started\n", language="bash")
    started = time.monotonic()
    assert await result(client, "f/sh/bg", {}) == "started"
    assert time.monotonic() - started < 5


async def test_the_script_sees_its_job_environment_only(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        'echo "{\\"ws\\": \\"$WM_WORKSPACE\\", \\"home\\": \\"$HOME\\", \\"pwd\\": \\"$PWD\\"}"\n'
    )
    await save(client, "f/sh/env", content, language="bash")
    env = (await run(client, "f/sh/env", {})).json()
    assert env["ws"] == "main"
    assert env["home"] == env["pwd"]
    await save(client, "f/sh/envall", "env | cut -d= -f1 | sort | tr '\\n' ' '\n", "bash")
    names = set((await result(client, "f/sh/envall", {})).split())
    assert {"WM_TOKEN", "TIDEMILL_JOB_ID", "PATH", "HOME"} <= names
    assert not [name for name in names if name.startswith(("TIDEMILL_DATABASE", "PG", "fd"))]


async def test_timeout_kills_a_bash_job_and_its_children(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save_bash(client, "f/sh/slow", "sleep 60 &\nsleep 60\n", timeout=1)
    started = time.monotonic()
    response = await run(client, "f/sh/slow", {})
    assert time.monotonic() - started < 10
    assert response.json()["error"]["details"]["name"] == "TimeoutError"


async def test_cancel_a_running_bash_job(client: httpx.AsyncClient, worker: service.Worker) -> None:
    await save(client, "f/sh/sleepy", "echo sleeping\nsleep 60\n", language="bash")
    job_id = (await client.post("/api/w/main/jobs/run/p/f/sh/sleepy", json={})).text
    while not (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()["running"]:
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={"reason": "enough"})
    maybe = await wait_completed(client, job_id)
    assert time.monotonic() - started < 5
    assert maybe["success"] is False
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["status"] == "canceled"


@pytest.mark.parametrize(
    ("value", "text"),
    [("a b", "a b"), ("", ""), (3, "3"), (True, "true"), (None, ""), ({"a": [1]}, '{"a":[1]}')],
)
def test_values_become_shell_words(value: Any, text: str) -> None:
    assert bash_runner.as_argument(value) == text


def test_missing_arguments_keep_later_positions_in_place() -> None:
    content = 'a="$1"\nb="${2:-$HOME}"\nc="$3"\n'
    assert bash_runner.positional(content, {"a": "x", "c": "z"}) == ["x", "", "z"]
