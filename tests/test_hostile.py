"""Hostile scripts: each fails its own job cleanly, and the worker goes on serving.

The limits are set small here (512 MB of memory, 64 processes, 1 MB of result,
the default 2 MB of logs) so that hitting them is quick.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from server import db, settings
from tests.test_api_jobs import wait_completed
from worker import limits, service

pytestmark = pytest.mark.chaos

MEMORY_MB = 512
MAX_PROCESSES = 64
MAX_RESULT = 1024 * 1024
SENTINEL = "TIDEMILL_CHAOS_SENTINEL"


@pytest.fixture
def config(config: settings.Settings) -> settings.Settings:
    """conftest's settings, with the limits these tests push against."""
    return msgspec.structs.replace(
        config,
        job_memory_mb=MEMORY_MB,
        job_max_processes=MAX_PROCESSES,
        max_result_bytes=MAX_RESULT,
    )


async def save(
    client: httpx.AsyncClient, path: str, content: str, language: str, **extra: Any
) -> None:
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": path, "content": content, "language": language, **extra},
    )
    assert response.status_code == 201, response.text


async def run(client: httpx.AsyncClient, path: str, args: dict[str, Any] | None = None) -> Any:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json=args or {})


async def failure(client: httpx.AsyncClient, path: str, args: dict[str, Any] | None = None) -> Any:
    """The error of a job that must fail: a JSON error naming what stopped it."""
    response = await run(client, path, args)
    assert response.status_code >= 400, response.text
    return response.json()["error"]["details"]


async def still_serving(client: httpx.AsyncClient) -> None:
    """The worker that ran a hostile job takes the next one at once."""
    for language, content in (
        ("python3", "def main():\n    return 'alive'\n"),
        ("bash", "echo alive\n"),
    ):
        await save(client, f"f/ok/{language}", content, language)
        response = await asyncio.wait_for(run(client, f"f/ok/{language}"), 30)
        assert response.status_code == 200, response.text
        assert response.json() == "alive"


async def test_an_infinite_loop_is_stopped_by_its_timeout(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(
        client, "f/bad/spin", "def main():\n    while True:\n        pass\n", "python3", timeout=1
    )
    await save(
        client, "f/bad/spints", "export function main() { while (true) {} }\n", "deno", timeout=2
    )
    assert (await failure(client, "f/bad/spin"))["name"] == "TimeoutError"
    assert (await failure(client, "f/bad/spints"))["name"] == "TimeoutError"
    await still_serving(client)


async def test_a_memory_hog_meets_the_memory_limit(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    hog = (
        "def main():\n"
        "    chunks = []\n"
        "    while True:\n"
        "        chunks.append(bytearray(16 << 20))\n"
    )
    await save(client, "f/bad/hog", hog, "python3", timeout=30)
    error = await failure(client, "f/bad/hog")
    assert error["name"] == "MemoryError"
    # a single allocation over the limit fails too, and a modest one under it works
    big = "def main(mb: int):\n    return len(bytearray(mb << 20)) >> 20\n"
    await save(client, "f/bad/big", big, "python3", timeout=30)
    assert (await failure(client, "f/bad/big", {"mb": 2 * MEMORY_MB}))["name"] == "MemoryError"
    assert (await run(client, "f/bad/big", {"mb": MEMORY_MB // 2})).json() == MEMORY_MB // 2

    ts_hog = (
        "export function main() {\n"
        "  const kept: number[][] = [];\n"
        "  while (true) kept.push(new Array(1 << 20).fill(1.5));\n"
        "}\n"
    )
    await save(client, "f/bad/tshog", ts_hog, "deno", timeout=60)
    error = await failure(client, "f/bad/tshog")
    assert error["name"] == "ProcessExited"
    assert "heap limit" in error["message"]

    sh_hog = 'x=$(head -c 2000000000 /dev/zero | tr "\\0" a)\necho "${#x}"\n'
    await save(client, "f/bad/shhog", sh_hog, "bash", timeout=60)
    error = await failure(client, "f/bad/shhog")
    assert error["name"] == "ExitCode"
    assert "allocate" in error["message"]
    await still_serving(client)


async def test_a_gigabyte_of_output_is_capped_and_never_held_in_memory(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    loud = (
        "import sys\n\n"
        "def main():\n"
        "    block = b'x' * (1 << 20)\n"
        "    for _ in range(1024):\n"
        "        sys.stdout.buffer.write(block)\n"
        "    sys.stdout.flush()\n"
        "    return 'said it all'\n"
    )
    await save(client, "f/bad/loud", loud, "python3", timeout=120)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    job_id = (await client.post("/api/w/main/jobs/run/p/f/bad/loud", json={})).text
    done = await wait_completed(client, job_id, timeout_s=120)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert done["success"] is True
    assert done["result"] == "said it all"
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "[logs truncated: output past 2097152 bytes was dropped]" in logs
    assert len(logs.encode()) < 2 * 1024 * 1024 + 1024
    assert grown_mb < 64, f"the worker's peak memory grew by {grown_mb:.0f} MB"
    await still_serving(client)


def processes_are_limited() -> bool:
    """Whether jobs here get a pids cgroup; without one a fork bomb test is unsafe to run.

    (`RLIMIT_NPROC` binds only a job user other than the worker's, which a test cannot
    know at collection; and it counts that user's processes machine-wide.)
    """
    return limits.Cgroups.find(MAX_PROCESSES).root is not None


@pytest.mark.skipif(
    not processes_are_limited(),
    reason="no writable pids cgroup here: a fork bomb would not be contained",
)
async def test_a_fork_bomb_meets_the_process_limit(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    forker = (
        "import os, time\n\n"
        "def main():\n"
        "    children = 0\n"
        "    try:\n"
        "        while children < 10_000:\n"
        "            if os.fork() == 0:\n"
        "                os.closerange(3, 1 << 16)  # not the result pipe: the job ends now\n"
        "                time.sleep(60)\n"
        "                os._exit(0)\n"
        "            children += 1\n"
        "    except OSError as exc:\n"
        "        return [children, exc.strerror]\n"
        "    return [children, None]\n"
    )
    await save(client, "f/bad/forker", forker, "python3", timeout=30)
    response = await run(client, "f/bad/forker")
    children, why = response.json()
    assert children < MAX_PROCESSES
    assert why == "Resource temporarily unavailable"

    bomb = "bomb() { bomb | bomb & }\nbomb\nwait\n"
    await save(client, "f/bad/bomb", bomb, "bash", timeout=3)
    # under the limit the bomb fizzles out (forks fail) or runs into its timeout
    started = time.monotonic()
    response = await run(client, "f/bad/bomb")
    assert time.monotonic() - started < 15
    if response.status_code != 200:
        assert response.json()["error"]["details"]["name"] in {"TimeoutError", "ExitCode"}
    await still_serving(client)
    # nothing the bombs started is left running
    cgroups = limits.Cgroups.find(MAX_PROCESSES).root
    if cgroups is not None:
        left = [p.read_text().split() for p in cgroups.glob("job-*/cgroup.procs")]
        assert sum(len(pids) for pids in left) <= 2  # the next spare interpreters, waiting


async def test_an_oversized_result_fails_cleanly(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    big = 100 * 1024 * 1024
    await save(client, "f/bad/bigpy", f"def main():\n    return 'x' * {big}\n", "python3")
    await save(
        client, "f/bad/bigts", f"export function main() {{ return 'x'.repeat({big}); }}\n", "deno"
    )
    await save(
        client, "f/bad/bigsh", f'head -c {big} /dev/zero | tr "\\0" 1 > result.json\n', "bash"
    )
    for path in ("f/bad/bigpy", "f/bad/bigts", "f/bad/bigsh"):
        error = await failure(client, path)
        assert error["name"] == "ResultTooLarge", (path, error)
        assert "1048576 bytes" in error["message"]
    await still_serving(client)


async def test_the_worker_s_environment_is_not_passed_to_scripts(
    client: httpx.AsyncClient, worker: service.Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SENTINEL, "worker-only")
    monkeypatch.setenv("TIDEMILL_DATABASE_URL", "postgresql://secret@nowhere/db")
    probe = "import os\n\ndef main():\n    return sorted(os.environ)\n"
    await save(client, "f/bad/env", probe, "python3")
    names = (await run(client, "f/bad/env")).json()
    assert SENTINEL not in names
    assert "TIDEMILL_DATABASE_URL" not in names
    await save(client, "f/bad/envsh", "env | cut -d= -f1 | sort | tr '\\n' ' '\n", "bash")
    names = (await run(client, "f/bad/envsh")).json().split()
    assert SENTINEL not in names
    assert "TIDEMILL_DATABASE_URL" not in names


async def test_a_deno_job_reads_neither_the_worker_nor_other_jobs(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    neighbour = config.jobs_dir / str(uuid.uuid4())
    neighbour.mkdir(parents=True)
    (neighbour / "secret.txt").write_text("another job's file")
    probe = (
        "export async function main(path: string) {\n"
        "  try { return await Deno.readTextFile(path); }\n"
        "  catch (e) { return (e as Error).name; }\n"
        "}\n"
    )
    await save(client, "f/bad/peek", probe, "deno")
    for path in (str(neighbour / "secret.txt"), f"/proc/{os.getpid()}/environ", "/etc/passwd"):
        assert (await run(client, "f/bad/peek", {"path": path})).json() == "NotCapable", path


@pytest.fixture
async def second_worker(dsn: str, config: settings.Settings) -> AsyncIterator[service.Worker]:
    """Another worker with a pool of its own, as another process would have."""
    own_pool = await db.create_pool(dsn, min_size=1, max_size=3)
    running = service.Worker(config, own_pool, dsn, name="second-worker")
    stop = asyncio.Event()
    task = asyncio.ensure_future(running.run(stop))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await own_pool.close()


async def test_a_python_job_reads_neither_the_worker_nor_other_jobs(
    client: httpx.AsyncClient,
    worker: service.Worker,
    second_worker: service.Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Needs the job user: a job running as root reads every file; skipped then."""
    monkeypatch.setenv(SENTINEL, "worker-only")
    holder = (
        "import os, time\n\n"
        "def main():\n"
        "    with open('secret.txt', 'w') as f:\n"
        "        f.write('mine')\n"
        "    time.sleep(3)\n"
        "    return os.getcwd()\n"
    )
    peeker = (
        "import glob, os\n\n"
        "def main():\n"
        "    found = {'uid': os.getuid()}\n"
        "    for path in glob.glob('../*/secret.txt') + [f'/proc/{os.getppid()}/environ']:\n"
        "        try:\n"
        "            with open(path, 'rb') as f:\n"
        "                found[path] = f.read().replace(b'\\0', b' ').decode()\n"
        "        except OSError as exc:\n"
        "            found[path] = type(exc).__name__\n"
        "    return found\n"
    )
    await save(client, "f/bad/holder", holder, "python3")
    await save(client, "f/bad/peeker", peeker, "python3")
    holding = (await client.post("/api/w/main/jobs/run/p/f/bad/holder", json={})).text
    await asyncio.sleep(1.5)  # the holder has written its file by now
    found = (await run(client, "f/bad/peeker")).json()
    await wait_completed(client, holding, timeout_s=20)
    if found.pop("uid") == 0:
        pytest.skip("jobs run as root here: only a job user (or Deno's sandbox) isolates files")
    assert not [value for value in found.values() if value == "mine" or SENTINEL in value]


async def test_nul_characters_in_logs_or_result_do_not_stop_the_worker(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    """PostgreSQL cannot store NUL in text or JSON strings; that must not crash the worker."""
    nul = "import sys\n\ndef main():\n    print('a\\x00b')\n    return 'c\\x00d'\n"
    await save(client, "f/bad/nul", nul, "python3")
    job_id = (await client.post("/api/w/main/jobs/run/p/f/bad/nul", json={})).text
    done = await wait_completed(client, job_id)
    assert done["success"] is False
    assert done["result"]["error"]["name"] == "NotStorable"
    logs = (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text
    assert "a\ufffdb" in logs
    await still_serving(client)
