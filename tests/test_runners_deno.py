"""TypeScript jobs on Deno: positional arguments, Dates, errors, the sandbox, kills."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import settings
from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from worker import deno_runner, service

TYPED = """
interface Trip {
  name: string;
  legs: { from: string; departs: Date }[];
  returns?: Date | null;
}

/** Plans a trip. */
export async function main(
  count: number,
  when: Date,
  trip: Trip,
  moments: Date[],
  label = "default label",
  maybe: Date | null = null,
) {
  return {
    count: count + 1,
    when: [when instanceof Date, when.getUTCFullYear(), when.toISOString()],
    leg: [trip.legs[0].departs instanceof Date, trip.legs[0].departs.getUTCHours()],
    returns: trip.returns instanceof Date,
    moments: moments.map((m) => m instanceof Date),
    label,
    maybe,
  };
}
"""


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args)


async def save_ts(client: httpx.AsyncClient, path: str, content: str, **settings: Any) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": path, "content": content, "language": "deno", **settings},
    )
    assert response.status_code == 201, response.text


async def test_arguments_are_positional_and_dates_are_dates(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/ts/typed", TYPED, language="deno")
    trip = {"name": "x", "legs": [{"from": "a", "departs": "2024-05-06T10:30:00Z"}]}
    args = {
        "trip": trip,
        "moments": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"],
        "when": "2024-05-06T07:08:09.000Z",
        "count": 41,
    }
    response = await run(client, "f/ts/typed", args)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "count": 42,
        "when": [True, 2024, "2024-05-06T07:08:09.000Z"],
        "leg": [True, 10],
        "returns": False,
        "moments": [True, True],
        "label": "default label",
        "maybe": None,
    }


async def test_a_non_literal_default_applies_when_the_argument_is_left_out(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "const base = 10;\n"
        "export function main(a: number, b = base * 2, c?: string) {\n"
        "  return [a, b, c === undefined];\n"
        "}\n"
    )
    await save(client, "f/ts/defaults", content, language="deno")
    assert (await run(client, "f/ts/defaults", {"a": 1})).json() == [1, 20, True]
    assert (await run(client, "f/ts/defaults", {"a": 1, "b": 2, "c": "x"})).json() == [1, 2, False]


async def test_a_date_that_does_not_parse_fails_naming_the_argument(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/ts/typed", TYPED, language="deno")
    trip = {"name": "x", "legs": [{"from": "a", "departs": "someday"}]}
    args = {"trip": trip, "moments": [], "when": "2024-05-06T07:08:09Z", "count": 1}
    response = await run(client, "f/ts/typed", args)
    assert response.status_code == 500
    details = response.json()["error"]["details"]
    assert details["name"] == "InvalidArgument"
    assert details["message"] == "argument 'trip.legs[0].departs': \"someday\" is not a date-time"


async def test_a_throw_gives_name_message_and_the_scripts_stack(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "class QuotaError extends Error { override name = 'QuotaError'; }\n\n"
        "function check(n: number) {\n"
        "  throw new QuotaError(`too many: ${n}`);\n"
        "}\n\n"
        "export async function main(n: number) {\n"
        "  console.log('checking');\n"
        "  check(n);\n"
        "}\n"
    )
    await save(client, "f/ts/boom", content, language="deno")
    response = await run(client, "f/ts/boom", {"n": 7})
    assert response.status_code == 500
    details = response.json()["error"]["details"]
    assert details["name"] == "QuotaError"
    assert details["message"] == "too many: 7"
    assert "at check (f/ts/boom.ts:4:9)" in details["stack"]
    assert "main (f/ts/boom.ts:9:3)" in details["stack"]
    assert "shim" not in details["stack"] and "file://" not in details["stack"]
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{details['job_id']}")).text
    assert "checking" in logs


async def test_throwing_a_non_error_and_missing_main(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/ts/str", "export function main() { throw 'plain text'; }\n", "deno")
    details = (await run(client, "f/ts/str", {})).json()["error"]["details"]
    assert (details["name"], details["message"]) == ("Error", "plain text")
    content = (
        "export function main() { return 1; }\nawait Promise.reject(new TypeError('at load'));\n"
    )
    await save(client, "f/ts/load", content, "deno")
    details = (await run(client, "f/ts/load", {})).json()["error"]["details"]
    assert (details["name"], details["message"]) == ("TypeError", "at load")


async def test_results_that_json_cannot_hold_directly(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        "export function main() {\n"
        "  return {\n"
        "    bytes: new TextEncoder().encode('hi'),\n"
        "    set: new Set([1, 2]),\n"
        "    map: new Map([['a', 1]]),\n"
        "    big: 2n ** 70n,\n"
        "    small: 5n,\n"
        "    when: new Date(Date.UTC(2024, 0, 2)),\n"
        "    gone: undefined,\n"
        "  };\n"
        "}\n"
    )
    await save(client, "f/ts/values", content, language="deno")
    assert (await run(client, "f/ts/values", {})).json() == {
        "bytes": "aGk=",
        "set": [1, 2],
        "map": {"a": 1},
        "big": "1180591620717411303424",
        "small": 5,
        "when": "2024-01-02T00:00:00.000Z",
    }
    await save(client, "f/ts/void", "export async function main() {}\n", language="deno")
    assert (await run(client, "f/ts/void", {})).json() is None


async def test_the_sandbox_allows_the_job_dir_and_its_variables_only(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    secret = config.home / "worker-secret.txt"
    secret.write_text("do not read")
    deno_dir = config.home / "deno"
    content = f"""
async function attempt(action: () => Promise<unknown> | unknown): Promise<string> {{
  try {{
    await action();
    return "allowed";
  }} catch (error) {{
    return (error as Error).name;
  }}
}}

export async function main() {{
  await Deno.writeTextFile("scratch.txt", "mine");
  return {{
    own_file: await Deno.readTextFile("scratch.txt"),
    temp: await attempt(() => Deno.makeTempFile()),
    workspace: Deno.env.get("WM_WORKSPACE"),
    worker_file: await attempt(() => Deno.readTextFile({str(secret)!r})),
    write_outside: await attempt(() => Deno.writeTextFile({str(config.home / "x")!r}, "x")),
    path_var: await attempt(() => Deno.env.get("PATH")),
    run: await attempt(() => new Deno.Command("true").output()),
    deno_dir: await attempt(() => Array.fromAsync(Deno.readDir({str(deno_dir)!r}))),
  }};
}}
"""
    await save(client, "f/ts/sandbox", content, language="deno")
    response = await run(client, "f/ts/sandbox", {})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "own_file": "mine",
        "temp": "allowed",
        "workspace": "main",
        "worker_file": "NotCapable",
        "write_outside": "NotCapable",
        "path_var": "NotCapable",
        "run": "NotCapable",
        "deno_dir": "NotCapable",
    }


async def test_a_version_is_stored_and_compiled_once(
    client: httpx.AsyncClient, worker: service.Worker, config: Any
) -> None:
    hash_ = await save(client, "f/ts/one", "export function main() { return 1; }\n", "deno")
    for _ in range(3):
        assert (await run(client, "f/ts/one", {})).json() == 1
    scripts = config.home / "deno" / "scripts"
    assert [p.name for p in scripts.iterdir()] == [f"{hash_}.ts"]
    assert not list(config.jobs_dir.glob("*/deno.lock"))


async def test_timeout_kills_a_deno_job(client: httpx.AsyncClient, worker: service.Worker) -> None:
    content = (
        "export async function main() {\n  await new Promise((r) => setTimeout(r, 60_000));\n}\n"
    )
    await save_ts(client, "f/ts/slow", content, timeout=1)
    started = time.monotonic()
    response = await run(client, "f/ts/slow", {})
    assert time.monotonic() - started < 10
    assert response.json()["error"]["details"]["name"] == "TimeoutError"


async def test_cancel_a_running_deno_job(client: httpx.AsyncClient, worker: service.Worker) -> None:
    content = (
        "export async function main() {\n"
        "  console.log('sleeping');\n"
        "  await new Promise((r) => setTimeout(r, 60_000));\n"
        "}\n"
    )
    await save(client, "f/ts/sleepy", content, language="deno")
    job_id = (await client.post("/api/w/main/jobs/run/p/f/ts/sleepy", json={})).text
    deadline = time.monotonic() + 20
    logs = ""
    while "sleeping" not in logs and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    started = time.monotonic()
    await client.post(f"/api/w/main/jobs_u/queue/cancel/{job_id}", json={"reason": "enough"})
    maybe = await wait_completed(client, job_id)
    assert time.monotonic() - started < 5
    assert maybe["success"] is False
    job = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert job["status"] == "canceled"


async def test_a_script_that_exits_by_itself_fails_with_its_code(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = "export function main() {\n  console.error('bailing out');\n  Deno.exit(4);\n}\n"
    await save(client, "f/ts/exits", content, language="deno")
    details = (await run(client, "f/ts/exits", {})).json()["error"]["details"]
    assert details["name"] == "ProcessExited"
    assert "(code 4)" in details["message"] and "bailing out" in details["message"]


async def test_a_missing_deno_fails_the_job_not_the_worker(
    client: httpx.AsyncClient, worker: service.Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deno_runner, "deno_binary", lambda: "/nonexistent/deno")
    await save(client, "f/ts/one", "export function main() { return 1; }\n", "deno")
    response = await run(client, "f/ts/one", {})
    assert response.status_code == 500
    details = response.json()["error"]["details"]
    assert details["name"] == "CannotStart" and "/nonexistent/deno" in details["message"]
    await save(client, "f/sh/two", "echo 2\n", "bash")
    assert (await run(client, "f/sh/two", {})).json() == 2


def test_date_shapes_follow_the_schema() -> None:
    date = {"type": "string", "format": "date-time"}
    assert deno_runner.date_shape(date) == "date"
    assert deno_runner.date_shape({"anyOf": [date, {"type": "null"}]}) == "date"
    assert deno_runner.date_shape({"type": "array", "items": date}) == {"items": "date"}
    nested = {"type": "object", "properties": {"a": {"type": "string"}, "b": date}}
    assert deno_runner.date_shape(nested) == {"properties": {"b": "date"}}
    assert deno_runner.date_shape({"type": "object", "properties": {"a": {}}}) is None
    assert deno_runner.date_shape({"anyOf": [date, {"type": "number"}]}) is None


def test_the_shim_type_checks(tmp_path: Path) -> None:
    """Jobs run it with --no-check, so its types are checked here."""
    result = subprocess.run(
        [deno_runner.deno_binary(), "check", "--quiet", "--no-config", str(deno_runner.SHIM)],
        env={"DENO_DIR": str(tmp_path), "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
