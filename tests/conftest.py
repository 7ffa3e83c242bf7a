"""Fixtures: a real PostgreSQL, a migrated template database, a clone per test.

The server is `TIDEMILL_TEST_DATABASE_URL` when set (CI points it at the local
PostgreSQL); otherwise an embedded cluster is started once for the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar

from server import app, bootstrap, db, embedded, settings
from worker import service

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "tm_test_admin_token_0123456789"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A DSN with rights to create databases."""
    url = os.environ.get("TIDEMILL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    home = Path(tempfile.mkdtemp(prefix="tidemill-test-pg-"))
    cluster = embedded.EmbeddedPostgres(home)
    dsn = cluster.start()
    try:
        yield dsn
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
async def template_db(pg_server: str) -> AsyncIterator[str]:
    """A database migrated once; each test clones it."""
    name = f"tidemill_tpl_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await db.connect(with_database(pg_server, name))
        try:
            await db.migrate(conn)
        finally:
            await conn.close()
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def dsn(pg_server: str, template_db: str) -> AsyncIterator[str]:
    name = f"tidemill_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield with_database(pg_server, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def reachable_dir(prefix: str = "tidemill-test-") -> Path:
    """A private temporary folder a job user can traverse (0711), outside pytest's own.

    A root worker runs jobs as another user (worker.sandbox), who must reach the jobs
    and environments under `$TIDEMILL_HOME`. pytest's base temporary folder will not do:
    every pytest session that starts (as root, here) makes it 0700 again, cutting off
    the jobs of any other session running at the time.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o711)
    return folder


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """`reachable_dir()` for one test, removed after it."""
    folder = reachable_dir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def config(reachable_tmp: Path) -> settings.Settings:
    return settings.from_env(
        {},
        home=reachable_tmp / "home",
        admin_token=ADMIN_TOKEN,
        admin_password="admin-password",
        heartbeat_s=0.2,
        lost_after_s=1.5,
        poll_s=0.5,
    )


@pytest.fixture
def shared_dir(reachable_tmp: Path) -> Path:
    """A folder the test and its jobs both write: a root worker runs jobs as another user
    (worker.sandbox), who may not enter pytest's tmp_path (see reachable_dir). A file several jobs
    append to is made first, mode 0666: each worker's jobs run as a user of their own."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    folder.chmod(0o777)  # not sticky: jobs of different workers append to one file
    return folder


@pytest.fixture
async def pool(dsn: str, config: settings.Settings) -> AsyncIterator[db.Pool]:
    pool = await db.create_pool(dsn, min_size=1, max_size=5)
    await bootstrap.ensure(pool, config)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def client(
    pool: db.Pool, dsn: str, config: settings.Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process and in this event loop, with the admin token sent by default.

    (Litestar's AsyncTestClient runs the app's lifespan in another thread and loop,
    where the job waiters' notifications would never reach the request.)
    """
    async with (
        serving(app.create_app(config, dsn)) as api,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api),
            base_url="http://tidemill.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        ) as test_client,
    ):
        yield test_client


@contextlib.asynccontextmanager
async def serving(api: Litestar) -> AsyncIterator[Litestar]:
    """Run an app's lifespan (pool, waiters, scheduler) in a task of its own.

    Entered and left in one task, as anyio's cancel scopes require; pytest-asyncio
    sets a fixture up and tears it down in different tasks.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with api.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.ensure_future(run_lifespan())
    await asyncio.wait(
        [lifespan, asyncio.ensure_future(started.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if lifespan.done():
        lifespan.result()
    try:
        yield api
    finally:
        stop.set()
        await lifespan


@pytest.fixture
async def worker(
    pool: db.Pool, dsn: str, config: settings.Settings
) -> AsyncIterator[service.Worker]:
    """One real worker in this event loop: real leases, real subprocesses."""
    running = service.Worker(config, pool, dsn, name="test-worker")
    stop = asyncio.Event()
    task = asyncio.ensure_future(running.run(stop))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def process_env(dsn: str, *, home: Path, tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a test's `tidemill` processes on `dsn`, serving on a free port.

    Quick heartbeats and polls by default; `settings` (`TIDEMILL_...=value`) add or override.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "TIDEMILL_DATABASE_URL": dsn,
        "TIDEMILL_HOME": str(home),
        "TIDEMILL_ADMIN_TOKEN": ADMIN_TOKEN,
        "TIDEMILL_PORT": str(free_port()),
        "TIDEMILL_HEARTBEAT_S": "0.2",
        "TIDEMILL_LOST_AFTER_S": "1.5",
        "TIDEMILL_POLL_S": "0.5",
    } | settings


class Processes:
    """Real `tidemill` processes started by a test, stopped at its end."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.logdir / f"{args[0]}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cli", *args],
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(base_url + "/api/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} did not become healthy")


@pytest.fixture
def processes(dsn: str, tmp_path: Path, reachable_tmp: Path, pool: db.Pool) -> Iterator[Processes]:
    """Start `tidemill server` / `tidemill worker` processes on this test's database."""
    env = process_env(dsn, home=reachable_tmp / "home", tmp=tmp_path)
    running = Processes(env, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()
