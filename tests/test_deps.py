"""Dependencies end to end through the queue: locked at save, installed once, reused.

These resolve and install a real small package from PyPI (`six`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from server import requirements, settings
from tests.test_api_scripts import save
from worker import environments, service

pytestmark = pytest.mark.deps

SIX = "import six\n\ndef main():\n    return six.__name__ + six.__version__[:2]\n"
PINNED = "# pin: six==1.16.0\nimport six\n\ndef main():\n    return six.__version__\n"
UNKNOWN = "import tidemill_no_such_package_zz9\n\ndef main():\n    return 1\n"


def env_dirs(config: settings.Settings) -> list[Path]:
    """The dependency environments built so far (not the base one)."""
    return sorted(p for p in config.envs_dir.iterdir() if p.name not in {"base"})


async def run(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json={})


async def test_first_run_installs_and_the_second_is_warm(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/with_six", SIX)
    script = (await client.get("/api/w/main/scripts/get/p/f/deps/with_six")).json()
    assert script["lock_status"] == "ready"
    assert "six==" in script["lock"]

    first = await run(client, "f/deps/with_six")
    assert first.status_code == 200, first.text
    assert first.json() == "six1."
    [env] = env_dirs(config)
    built = env.stat().st_ino, env.stat().st_mtime_ns

    second = await run(client, "f/deps/with_six")
    assert second.json() == "six1."
    assert env_dirs(config) == [env]
    assert (env.stat().st_ino, env.stat().st_mtime_ns) == built


async def test_two_scripts_with_one_lock_share_one_environment(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/a", SIX)
    await save(client, "f/deps/b", SIX.replace("main():", "main():\n    pass\n    "))
    a = (await client.get("/api/w/main/scripts/get/p/f/deps/a")).json()
    b = (await client.get("/api/w/main/scripts/get/p/f/deps/b")).json()
    assert a["hash"] != b["hash"]
    assert a["lock"] == b["lock"]
    for path in ("f/deps/a", "f/deps/b", "f/deps/a"):
        assert (await run(client, path)).status_code == 200
    assert len(env_dirs(config)) == 1


async def test_a_pin_is_honoured_in_its_own_environment(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/pinned", PINNED)
    await save(client, "f/deps/with_six", SIX)
    assert (await run(client, "f/deps/pinned")).json() == "1.16.0"
    assert (await run(client, "f/deps/with_six")).json() == "six1."
    assert (await run(client, "f/deps/pinned")).json() == "1.16.0"
    assert len(env_dirs(config)) == 2


async def test_an_unknown_package_fails_with_uv_naming_it(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/unknown", UNKNOWN)
    script = (await client.get("/api/w/main/scripts/get/p/f/deps/unknown")).json()
    assert script["lock_status"] == "failed"
    assert script["lock"] is None
    assert "tidemill-no-such-package-zz9" in script["lock_error"]

    response = await run(client, "f/deps/unknown")
    assert response.status_code == 500
    error = response.json()["error"]
    assert "tidemill-no-such-package-zz9" in error["message"] + str(error["details"])
    assert env_dirs(config) == []


async def test_a_requires_python_no_interpreter_satisfies_fails_clearly(
    client: httpx.AsyncClient,
) -> None:
    content = '# /// script\n# requires-python = ">=3.99"\n# ///\n\ndef main():\n    return 1\n'
    await save(client, "f/deps/future", content)
    script = (await client.get("/api/w/main/scripts/get/p/f/deps/future")).json()
    assert script["lock_status"] == "failed"
    assert "no installed Python satisfies requires-python '>=3.99'" in script["lock_error"]


async def test_two_builders_of_one_lock_end_with_one_good_environment(tmp_path: Path) -> None:
    locked = await requirements.lock(requirements.of_python("import six\n"))
    assert locked.text is not None
    first, second = await asyncio.gather(
        environments.locked_python(tmp_path, locked.text),
        environments.locked_python(tmp_path, locked.text),
    )
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [first.parent.parent.name]
    check = await asyncio.create_subprocess_exec(str(first), "-c", "import six")
    assert await check.wait() == 0
