"""Starting Tidemill's processes: the server, workers, and all of it at once (`up`)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess

import uvicorn

from server import app, bootstrap, db, embedded, settings
from worker import main as worker_main

log = logging.getLogger("tidemill")

WORKER_STOP_GRACE_S = 10.0
RESTART_CHECK_S = 1.0


async def _bootstrap(config: settings.Settings, dsn: str) -> bootstrap.FirstStart:
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        return await bootstrap.ensure(pool, config)
    finally:
        await pool.close()


def _server(config: settings.Settings, dsn: str) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app.create_app(config, dsn),
            host=config.host,
            port=config.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )


def serve(config: settings.Settings) -> None:
    """`tidemill server`: migrations, then the HTTP API until interrupted."""
    dsn = worker_main.require_database(config)
    asyncio.run(_bootstrap(config, dsn))
    _server(config, dsn).run()


class WorkerPool:
    """`up`'s worker processes, restarted when one dies."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.count = count
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(worker_main.command(["default"]), env=self.env)

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]

    async def keep_alive(self) -> None:
        while not self.stopping:
            await asyncio.sleep(RESTART_CHECK_S)
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping:
                    log.warning(
                        "worker pid %d exited (%s); restarting it", proc.pid, proc.returncode
                    )
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self.stopping = True
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(WORKER_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def up(config: settings.Settings, workers: int) -> None:
    """`tidemill up`: (embedded PostgreSQL,) server and `workers` workers, until Ctrl-C."""
    cluster = None if config.database_url else embedded.EmbeddedPostgres(config.home / "postgres")
    dsn = config.database_url or ""
    if cluster is not None:
        log.info("starting the embedded PostgreSQL in %s", cluster.data)
        dsn = cluster.start()
    try:
        first = asyncio.run(_bootstrap(config, dsn))
        pool = WorkerPool(
            workers,
            {**os.environ, "TIDEMILL_DATABASE_URL": dsn, "TIDEMILL_BASE_URL": config.base_url},
        )
        pool.start()
        try:
            _announce(config, first, workers)
            asyncio.run(_serve_with(pool, _server(config, dsn)))
        finally:
            pool.stop()
    finally:
        if cluster is not None:
            cluster.stop()


async def _serve_with(pool: WorkerPool, server: uvicorn.Server) -> None:
    keeper = asyncio.ensure_future(pool.keep_alive())
    try:
        await server.serve()
    finally:
        pool.stopping = True
        keeper.cancel()


def _announce(config: settings.Settings, first: bootstrap.FirstStart, workers: int) -> None:
    lines = [
        f"Tidemill is up at {config.base_url} with {workers} worker(s)",
        f"  admin token: {first.admin_token}",
    ]
    if first.generated_password:
        lines.append(f"  admin password (generated, shown once): {first.generated_password}")
    print("\n".join(lines), flush=True)
