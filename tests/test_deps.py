"""Dependencies end to end through the queue: resolved by a `dependencies` job, installed
once, reused.

These resolve and install real small packages (`six` from PyPI, `lodash` from npm).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import msgspec
import pytest

from server import db, requirements, settings
from tests.test_api_scripts import save
from worker import dependencies, environments, service

pytestmark = pytest.mark.deps

SIX = "import six\n\ndef main():\n    return six.__name__ + six.__version__[:2]\n"
PINNED = "# pin: six==1.16.0\nimport six\n\ndef main():\n    return six.__version__\n"
UNKNOWN = "import tidemill_no_such_package_zz9\n\ndef main():\n    return 1\n"
LODASH = (
    'import _ from "lodash";\n\n'
    "export function main(): number {\n  return _.chunk([1, 2, 3], 2).length;\n}\n"
)


def env_dirs(config: settings.Settings) -> list[Path]:
    """The dependency environments built so far (not the base one)."""
    return sorted(p for p in config.envs_dir.iterdir() if p.name not in {"base"})


async def run(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    return await client.post(f"/api/w/main/jobs/run_wait_result/p/{path}", json={}, params=params)


async def get(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(f"/api/w/main/scripts/get/p/{path}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(client: httpx.AsyncClient, path: str, within_s: float = 120) -> dict[str, Any]:
    """The script once its lock is no longer pending (a worker resolved it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while (script := await get(client, path))["lock_status"] == "pending":
        assert loop.time() < deadline, "the lock stayed pending"
        await asyncio.sleep(0.1)
    return script


@contextlib.asynccontextmanager
async def running_worker(
    config: settings.Settings, pool: db.Pool, dsn: str
) -> AsyncIterator[service.Worker]:
    """A second real worker, for as long as the block runs."""
    other = service.Worker(config, pool, dsn, name=f"test-worker-{id(config)}")
    stop = asyncio.Event()
    task = asyncio.ensure_future(other.run(stop))
    try:
        yield other
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def jobs_of(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    response = await client.get("/api/w/main/jobs/list", params={"script_path_exact": path})
    jobs: list[dict[str, Any]] = response.json()
    return jobs


async def test_a_save_is_fast_and_leaves_the_lock_to_a_dependencies_job(
    client: httpx.AsyncClient,
) -> None:
    # no worker: the save only marks the lock pending and queues the job that resolves it
    await save(client, "f/deps/with_six", SIX)
    script = await get(client, "f/deps/with_six")
    assert (script["lock_status"], script["lock"], script["lock_error"]) == ("pending", None, None)
    [job] = await jobs_of(client, "f/deps/with_six")
    assert (job["job_kind"], job["status"]) == ("dependencies", "queued")
    assert job["script_hash"] == script["hash"]

    # saving the same content again queues no second resolution
    await save(client, "f/deps/with_six", SIX)
    assert len(await jobs_of(client, "f/deps/with_six")) == 1

    # nothing to install: no lock, no job
    await save(client, "f/deps/plain", "import json\n\ndef main():\n    return 1\n")
    assert (await get(client, "f/deps/plain"))["lock_status"] == "none"
    assert await jobs_of(client, "f/deps/plain") == []


async def test_first_run_installs_and_the_second_is_warm(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/with_six", SIX)
    first = await run(client, "f/deps/with_six")  # queued while the lock may still be pending
    assert first.status_code == 200, first.text
    assert first.json() == "six1."
    script = await get(client, "f/deps/with_six")
    assert script["lock_status"] == "ready"
    assert "six==" in script["lock"]
    kinds = sorted(j["job_kind"] for j in await jobs_of(client, "f/deps/with_six"))
    assert kinds == ["dependencies", "script"]
    [resolved] = [j for j in await jobs_of(client, "f/deps/with_six") if j["job_kind"] != "script"]
    assert resolved["success"] is True
    assert resolved["result"] == {"lock": script["lock"]}

    [env] = env_dirs(config)
    # not rebuilt: the same directory, the same files (`.preload` may be added beside them)
    lock_file = env / "requirements.lock"
    built = env.stat().st_ino, lock_file.stat().st_ino, lock_file.stat().st_mtime_ns
    second = await run(client, "f/deps/with_six")
    assert second.json() == "six1."
    assert env_dirs(config) == [env]
    assert (env.stat().st_ino, lock_file.stat().st_ino, lock_file.stat().st_mtime_ns) == built


async def test_a_run_waits_for_a_resolver_that_is_busy_elsewhere(
    client: httpx.AsyncClient,
    pool: db.Pool,
    dsn: str,
    config: settings.Settings,
    worker: service.Worker,
) -> None:
    # two workers: one leases the dependencies job, the other a run, which must wait
    async with running_worker(config, pool, dsn):
        await save(client, "f/deps/raced", SIX)
        responses = await asyncio.gather(*(run(client, "f/deps/raced") for _ in range(3)))
    assert [r.json() for r in responses] == ["six1."] * 3


async def test_a_pending_lock_nobody_resolves_is_resolved_by_the_run(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    # the dependencies job is gone (here canceled; a job given up after its worker died
    # is the same): the run must neither hang nor fail, it resolves the lock itself
    await save(client, "f/deps/orphan", SIX)
    [job] = await jobs_of(client, "f/deps/orphan")
    canceled = await client.post(f"/api/w/main/jobs_u/queue/cancel/{job['id']}", json={})
    assert canceled.status_code == 200, canceled.text
    assert (await get(client, "f/deps/orphan"))["lock_status"] == "pending"
    async with running_worker(config, pool, dsn):
        response = await run(client, "f/deps/orphan")
    assert response.status_code == 200, response.text
    assert response.json() == "six1."
    assert (await get(client, "f/deps/orphan"))["lock_status"] == "ready"


async def test_a_run_waiting_on_a_lock_is_bounded(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    # the version's resolver runs on tag `elsewhere`, served by no worker: the run
    # (sent to `default`) waits its bound, then fails saying why
    worker.lock_wait_s = 1.0
    response = await client.post(
        "/api/w/main/scripts/create",
        json={"path": "f/deps/stuck", "content": SIX, "language": "python3", "tag": "elsewhere"},
    )
    assert response.status_code == 201
    started = asyncio.get_running_loop().time()
    failed = await run(client, "f/deps/stuck", tag="default")
    assert asyncio.get_running_loop().time() - started < 15
    assert failed.status_code == 500
    message = failed.json()["error"]["message"]
    assert "still being resolved after 1 s" in message
    assert "`dependencies` job is queued" in message


async def test_two_scripts_with_one_lock_share_one_environment(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/a", SIX)
    await save(client, "f/deps/b", SIX.replace("main():", "main():\n    pass\n    "))
    a = await settled(client, "f/deps/a")
    b = await settled(client, "f/deps/b")
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
    script = await settled(client, "f/deps/unknown")
    assert script["lock_status"] == "failed"
    assert script["lock"] is None
    assert "tidemill-no-such-package-zz9" in script["lock_error"]
    [job] = await jobs_of(client, "f/deps/unknown")
    assert job["job_kind"] == "dependencies"
    assert job["success"] is False
    assert "tidemill-no-such-package-zz9" in job["result"]["error"]["message"]

    response = await run(client, "f/deps/unknown")
    assert response.status_code == 500
    error = response.json()["error"]
    assert "tidemill-no-such-package-zz9" in error["message"] + str(error["details"])
    assert env_dirs(config) == []


async def test_a_bad_pep723_block_fails_at_save_without_a_job(client: httpx.AsyncClient) -> None:
    await save(client, "f/deps/bad", "# /// script\n# dependencies = [\n# ///\n\ndef main(): ...\n")
    script = await get(client, "f/deps/bad")
    assert script["lock_status"] == "failed"
    assert "not valid TOML" in script["lock_error"]
    assert await jobs_of(client, "f/deps/bad") == []


async def test_requires_python_selects_an_installed_interpreter_or_fails_clearly(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    future = '# /// script\n# requires-python = ">=3.99"\n# ///\n\ndef main():\n    return 1\n'
    await save(client, "f/deps/future", future)
    script = await settled(client, "f/deps/future")
    assert script["lock_status"] == "failed"
    assert "no installed Python satisfies requires-python '>=3.99'" in script["lock_error"]
    response = await run(client, "f/deps/future")
    assert response.status_code == 500
    assert "requires-python '>=3.99'" in response.json()["error"]["message"]

    content = (
        '# /// script\n# requires-python = ">=3.11,<3.12"\n# ///\nimport sys\n\n'
        "def main():\n    return list(sys.version_info[:2])\n"
    )
    await save(client, "f/deps/py311", content)
    script = await settled(client, "f/deps/py311")
    assert script["lock_status"] == "ready"
    assert script["lock"].startswith(requirements.PYTHON_HEADER)
    assert (await run(client, "f/deps/py311")).json() == [3, 11]


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
    env = first.parent.parent
    assert int((env / environments.SIZE_FILE).read_text()) > 0
    assert (env / environments.LAST_USED_FILE).exists()


# -- a private index's credentials -------------------------------------------------------


class _Index(http.server.BaseHTTPRequestHandler):
    """A package index that wants a login and has no packages: it records what it was sent."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        self.seen.append(auth or "")
        if auth is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.end_headers()
            return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def private_index() -> Iterator[str]:
    _Index.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_private_index_gets_the_login_from_a_secret_variable(
    client: httpx.AsyncClient,
    pool: db.Pool,
    config: settings.Settings,
    private_index: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UV_INDEX_URL", private_index)
    monkeypatch.setenv("UV_CACHE_DIR", str(config.home / "uv-cache"))
    created = await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/deps/index_login", "value": "robot:s3cr3t-pw", "is_secret": True},
    )
    assert created.status_code == 201, created.text
    uv = dependencies.UvSettings(
        settings.from_env({}, home=config.home, uv_index_credentials_variable="f/deps/index_login"),
        pool,
    )
    async with uv.environ("main") as environ:
        netrc = Path(environ["NETRC"])
        assert netrc.stat().st_mode & 0o777 == 0o600
        locked = await requirements.lock(requirements.of_python("import six\n"), env=environ)
    assert not netrc.exists()
    expected = "Basic " + base64.b64encode(b"robot:s3cr3t-pw").decode()
    assert expected in _Index.seen
    assert locked.error is not None
    assert "six" in locked.error
    assert "s3cr3t" not in locked.error


async def test_index_credentials_must_be_a_readable_secret(
    client: httpx.AsyncClient, pool: db.Pool, config: settings.Settings
) -> None:
    await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/deps/plain_login", "value": "u:p", "is_secret": False},
    )
    for path, message in (
        ("f/deps/plain_login", "must be a secret variable"),
        ("f/deps/missing", "cannot be read"),
    ):
        config = settings.from_env({}, home=config.home, uv_index_credentials_variable=path)
        with pytest.raises(requirements.UvFailed, match=message):
            async with dependencies.UvSettings(config, pool).environ("main"):
                pass


def test_index_hosts_cover_every_configured_index() -> None:
    environ = {
        "UV_INDEX_URL": "https://pypi.corp.example/simple",
        "UV_EXTRA_INDEX_URL": "https://a.example/simple https://b.example:8443/x",
        "UV_INDEX": "internal=https://c.example/simple",
    }
    assert dependencies.index_hosts(environ) == [
        "pypi.corp.example",
        "a.example",
        "b.example",
        "c.example",
    ]


# -- TypeScript --------------------------------------------------------------------------


async def test_typescript_bare_imports_come_from_npm_with_a_stored_deno_lock(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/lodash", LODASH, language="deno")
    response = await run(client, "f/deps/lodash")
    assert response.status_code == 200, response.text
    assert response.json() == 2
    script = await get(client, "f/deps/lodash")
    assert script["lock_status"] == "ready"
    assert '"npm:lodash@*"' in script["lock"]
    assert (await run(client, "f/deps/lodash")).json() == 2


async def test_a_typescript_preview_is_locked_by_a_dependencies_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    response = await client.post(
        "/api/w/main/jobs/run_wait_result/preview", json={"content": LODASH, "language": "deno"}
    )
    assert (response.status_code, response.json()) == (200, 2), response.text
    [resolver] = [j for j in await jobs_of(client, "u/admin/preview") if j["job_kind"] != "preview"]
    assert (resolver["job_kind"], resolver["success"]) == ("dependencies", True)
    assert '"npm:lodash@*"' in resolver["result"]["lock"]


async def test_an_unknown_npm_package_fails_the_lock_naming_it(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    content = (
        'import x from "npm:tidemill-no-such-pkg-zz9";\nexport function main() { return x; }\n'
    )
    await save(client, "f/deps/ts_unknown", content, language="deno")
    script = await settled(client, "f/deps/ts_unknown")
    assert script["lock_status"] == "failed"
    assert "tidemill-no-such-pkg-zz9" in script["lock_error"]
    assert "Stack backtrace" not in script["lock_error"]
    response = await run(client, "f/deps/ts_unknown")
    assert response.status_code == 500
    assert "tidemill-no-such-pkg-zz9" in response.json()["error"]["message"]


async def test_a_warm_typescript_run_downloads_nothing(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    await save(client, "f/deps/lodash", LODASH, language="deno")
    assert (await run(client, "f/deps/lodash")).json() == 2
    # the version is fetched on this machine: with the cache gone, a run must fail rather
    # than download (it runs `--cached-only --frozen`)
    cache = config.home / "deno" / "cache"
    cache.rename(config.home / "deno" / "cache-moved")
    response = await run(client, "f/deps/lodash")
    assert response.status_code == 500
    assert "--cached-only" in response.text


class _Jsr(http.server.BaseHTTPRequestHandler):
    """A JSR registry (jsr.io's protocol) with one package, `@tidemill/hello` 1.0.0.

    jsr.io itself cannot be reached from the test machine; Deno fetches from the registry
    `JSR_URL` names, which the worker passes through. Records every path it is asked for.
    """

    MODULE = b"export function hello(name: string): string {\n  return `hello ${name}`;\n}\n"
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        files = {
            "/@tidemill/hello/meta.json": (
                "application/json",
                msgspec.json.encode({"scope": "tidemill", "name": "hello", "latest": "1.0.0",
                                     "versions": {"1.0.0": {}}}),
            ),
            "/@tidemill/hello/1.0.0_meta.json": (
                "application/json",
                msgspec.json.encode({
                    "manifest": {"/mod.ts": {
                        "size": len(self.MODULE),
                        "checksum": "sha256-" + hashlib.sha256(self.MODULE).hexdigest(),
                    }},
                    "exports": {".": "./mod.ts"},
                }),
            ),
            "/@tidemill/hello/1.0.0/mod.ts": ("application/typescript", self.MODULE),
        }  # fmt: skip
        if self.path not in files:
            self.send_response(404)
            self.end_headers()
            return
        kind, body = files[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def jsr_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _Jsr.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jsr)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("JSR_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


HELLO_JSR = (
    'import { hello } from "jsr:@tidemill/hello@^1";\n\n'
    'export function main(): string {\n  return hello("jsr");\n}\n'
)


async def test_a_jsr_import_is_locked_with_its_version_and_runs_warm(
    client: httpx.AsyncClient, worker: service.Worker, jsr_registry: None
) -> None:
    await save(client, "f/deps/jsr", HELLO_JSR, language="deno")
    first = await run(client, "f/deps/jsr")
    assert (first.status_code, first.json()) == (200, "hello jsr"), first.text
    lock = msgspec.json.decode((await get(client, "f/deps/jsr"))["lock"])
    assert lock["specifiers"] == {"jsr:@tidemill/hello@1": "1.0.0"}
    assert set(lock["jsr"]) == {"@tidemill/hello@1.0.0"}
    assert "/@tidemill/hello/1.0.0/mod.ts" in _Jsr.seen
    asked = len(_Jsr.seen)
    # the registry still answers, and is not asked again
    assert (await run(client, "f/deps/jsr")).json() == "hello jsr"
    assert len(_Jsr.seen) == asked


async def test_an_unreachable_jsr_registry_fails_the_lock_naming_the_package(
    client: httpx.AsyncClient, worker: service.Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSR_URL", "http://127.0.0.1:9/")  # nothing listens there
    loop = asyncio.get_running_loop()
    started = loop.time()
    await save(client, "f/deps/jsr_offline", HELLO_JSR, language="deno")
    script = await settled(client, "f/deps/jsr_offline", within_s=30)
    assert loop.time() - started < 30
    assert script["lock_status"] == "failed"
    assert "JSR package manifest for '@tidemill/hello' failed to load" in script["lock_error"]
    response = await run(client, "f/deps/jsr_offline")
    assert response.status_code == 500
    assert "@tidemill/hello" in response.json()["error"]["message"]


async def test_past_the_size_limit_unused_environments_are_evicted(
    client: httpx.AsyncClient, pool: db.Pool, dsn: str, config: settings.Settings
) -> None:
    # a limit of 0: every build evicts every environment not in use; the worker holds
    # the one it used last (its spare interpreter lives there), so that one stays
    tiny = msgspec.structs.replace(config, env_cache_max_mb=0)
    versions = {
        "f/deps/v16": PINNED,
        "f/deps/v15": PINNED.replace("1.16.0", "1.15.0"),
        "f/deps/v17": PINNED.replace("1.16.0", "1.17.0"),
    }
    for path, content in versions.items():
        await save(client, path, content)
    async with running_worker(tiny, pool, dsn):
        assert (await run(client, "f/deps/v16")).json() == "1.16.0"
        [v16] = env_dirs(config)
        assert (await run(client, "f/deps/v15")).json() == "1.15.0"
        assert v16 in env_dirs(config)  # in use while v15's was built
        assert (await run(client, "f/deps/v17")).json() == "1.17.0"
        assert v16 not in env_dirs(config)
        assert len(env_dirs(config)) == 2
        assert (await run(client, "f/deps/v16")).json() == "1.16.0"  # rebuilt


async def test_a_spare_preloads_the_stdlib_its_environment_needs(
    client: httpx.AsyncClient, worker: service.Worker, config: settings.Settings
) -> None:
    # `six` imports `struct` and `importlib.util`: a spare of its environment has them loaded
    # before the job arrives; the base environment's spare does not
    probe = (
        "import sys\nLOADED = [m in sys.modules for m in ('struct', 'importlib.util')]\n{imports}\n"
        "def main():\n    return LOADED\n"
    )
    await save(client, "f/deps/probe_six", probe.format(imports="import six"))
    await save(client, "f/deps/probe_none", probe.format(imports=""))
    assert (await run(client, "f/deps/probe_six")).json() == [False, False]  # built now
    [env] = env_dirs(config)
    preload = env / environments.PRELOAD_FILE
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not preload.exists():  # found in the background, after the first job
        assert loop.time() < deadline
        await asyncio.sleep(0.1)
    assert "struct" in preload.read_text().split(",")
    # the waiting spare may have started before the list was found; the next one has it
    assert (await run(client, "f/deps/probe_six")).json() is not None
    assert (await run(client, "f/deps/probe_six")).json() == [True, True]
    assert (await run(client, "f/deps/probe_none")).json() == [False, False]


async def test_an_unreachable_index_fails_the_version_naming_the_package(
    client: httpx.AsyncClient,
    worker: service.Worker,
    config: settings.Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # nothing cached to fall back on
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    loop = asyncio.get_running_loop()
    started = loop.time()
    await save(client, "f/deps/offline", SIX)
    script = await settled(client, "f/deps/offline", within_s=60)
    assert loop.time() - started < 60
    assert (script["lock_status"], script["lock"]) == ("failed", None)
    assert "six" in script["lock_error"]
    assert "Connection refused" in script["lock_error"]
    response = await run(client, "f/deps/offline")
    assert response.status_code == 500
    assert "Connection refused" in response.json()["error"]["message"]
    assert env_dirs(config) == []


async def test_a_version_that_does_not_exist_fails_naming_it(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await save(client, "f/deps/no_such_six", PINNED.replace("1.16.0", "0.0.999"))
    lodash = 'import _ from "npm:lodash@999.0.0";\nexport function main() { return 1; }\n'
    await save(client, "f/deps/no_such_lodash", lodash, language="deno")
    six = await settled(client, "f/deps/no_such_six")
    assert six["lock_status"] == "failed"
    assert "there is no version of six==0.0.999" in six["lock_error"]
    ts = await settled(client, "f/deps/no_such_lodash")
    assert ts["lock_status"] == "failed"
    assert "Could not find npm package 'lodash' matching '999.0.0'" in ts["lock_error"]
    for path, version in (("f/deps/no_such_six", "0.0.999"), ("f/deps/no_such_lodash", "999.0.0")):
        response = await run(client, path)
        assert response.status_code == 500
        assert version in response.json()["error"]["message"]


async def test_an_index_that_never_answers_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts the connection, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    started = asyncio.get_running_loop().time()
    try:
        locked = await requirements.lock(requirements.of_python("import six\n"), timeout_s=2)
    finally:
        server.close()
    assert asyncio.get_running_loop().time() - started < 10
    assert locked.error == "uv pip compile took longer than 2 s"


async def test_resolving_dependencies_does_not_count_against_a_concurrency_limit(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    # one run per minute: the `dependencies` job that ran first must not take that slot
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": "f/deps/limited",
            "content": SIX,
            "language": "python3",
            "concurrent_limit": 1,
            "concurrency_time_window_s": 60,
        },
    )
    assert response.status_code == 201
    await settled(client, "f/deps/limited")
    first = await asyncio.wait_for(run(client, "f/deps/limited"), 30)
    assert first.json() == "six1."
