"""A worker process: what `tidemill worker` runs, and each of `tidemill up`'s workers.

It is started as `python -m worker` (`tidemill worker` replaces its own
process with that one), so it loads the worker and the core it uses, never
the CLI's modules nor the HTTP server's: an idle worker stays under ~50 MB
where it would hold ~80 with them (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from server import db, errors, settings
from worker import service

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)


def require_database(config: settings.Settings) -> str:
    if not config.database_url:
        raise errors.Unavailable(
            "set TIDEMILL_DATABASE_URL (or use `tidemill up`, which can start its own PostgreSQL)"
        )
    return config.database_url


def command(tags: list[str]) -> list[str]:
    """The command line of a worker process taking `tags`.

    `-P`: the current folder is not put on the import path, so a folder named
    like one of ours (`worker/`, say) where it is started cannot stand in for it.
    """
    return [sys.executable, "-P", "-m", "worker", "--tags", ",".join(tags)]


async def _work(config: settings.Settings, dsn: str, tags: list[str]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # a worker started while the database restarts waits for it rather than exit
        conn = await db.connect_when_up(dsn)
        try:
            await db.migrate(conn)
        finally:
            await conn.close()
        pool = await db.create_pool(dsn, min_size=1, max_size=3)
        stack.push_async_callback(pool.close)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.Worker(config, pool, dsn, tags=tags).run(stop)


def work(config: settings.Settings, tags: list[str]) -> None:
    """Serve jobs until interrupted.

    The worker runs on the standard asyncio loop, not uvloop: uvloop reports the
    end of a child's output only once the child has exited, which costs every
    job a few milliseconds.
    """
    asyncio.run(_work(config, require_database(config), tags))


def run(argv: list[str]) -> None:
    """`python -m worker [--tags a,b]`; a setting that is missing ends it with its message."""
    parser = argparse.ArgumentParser(prog="tidemill worker", description=__doc__)
    parser.add_argument("--tags", default="default", help="comma-separated job tags to take")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        work(settings.from_env(), [t.strip() for t in args.tags.split(",") if t.strip()])
    except errors.TidemillError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        raise SystemExit(1) from None
