"""pgqueuer and procrastinate, run inside their own environment by `bench/queues.py`.

Not imported by Tidemill: this file runs with the interpreter of the peers'
environment (`bench.peers.environment`). Every job's handler appends one line,
`<time it started> <seconds since it was enqueued>`, to OUT; the caller reads
latency and throughput from those lines, the same way it reads Tidemill's.

    python peer_queues.py pgqueuer|procrastinate DSN setup
    python peer_queues.py pgqueuer|procrastinate DSN enqueue N [SPACING_S]
    python peer_queues.py pgqueuer|procrastinate DSN work OUT drain|forever
"""

from __future__ import annotations

import asyncio
import sys
import time


class Lines:
    def __init__(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - for the process's life

    def started(self, enqueued_at: float) -> None:
        now = time.time()
        self.file.write(f"{now} {now - enqueued_at}\n")
        self.file.flush()


# -- pgqueuer -------------------------------------------------------------------


async def pgqueuer_main(dsn: str, command: str, rest: list[str]) -> None:
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(dsn)
    if command == "setup":
        await Queries(AsyncpgDriver(conn)).install()
    elif command == "enqueue":
        queries = Queries(AsyncpgDriver(conn))
        count, spacing = int(rest[0]), float(rest[1]) if len(rest) > 1 else 0.0
        if spacing == 0:  # one batch: the queue is full before any worker starts
            for start in range(0, count, 1000):
                n = min(1000, count - start)
                await queries.enqueue(["bench"] * n, [b"0"] * n, [0] * n)
        else:
            for _ in range(count):
                await queries.enqueue("bench", str(time.time()).encode())
                await asyncio.sleep(spacing)
    else:
        lines = Lines(rest[0])
        manager = QueueManager(Queries(AsyncpgDriver(conn)))

        @manager.entrypoint("bench")
        async def bench(job):  # a pgqueuer Job
            lines.started(float(job.payload))

        mode = QueueExecutionMode.drain if rest[1] == "drain" else QueueExecutionMode.continuous
        await manager.run(mode=mode)
    await conn.close()


# -- procrastinate --------------------------------------------------------------


async def procrastinate_main(dsn: str, command: str, rest: list[str]) -> None:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    lines = Lines(rest[0]) if command == "work" else None

    @app.task(name="bench")
    async def bench(t: float) -> None:
        assert lines is not None
        lines.started(t)

    async with app.open_async():
        if command == "setup":
            await app.schema_manager.apply_schema_async()
        elif command == "enqueue":
            count, spacing = int(rest[0]), float(rest[1]) if len(rest) > 1 else 0.0
            if spacing == 0:
                for start in range(0, count, 1000):
                    n = min(1000, count - start)
                    await bench.batch_defer_async(*[{"t": 0.0}] * n)
            else:
                for _ in range(count):
                    await bench.defer_async(t=time.time())
                    await asyncio.sleep(spacing)
        else:
            await app.run_worker_async(wait=rest[1] != "drain", install_signal_handlers=False)


if __name__ == "__main__":
    peer, dsn, command, *rest = sys.argv[1:]
    main = pgqueuer_main if peer == "pgqueuer" else procrastinate_main
    asyncio.run(main(dsn, command, rest))
