"""A worker: lease a job, run it, record it, repeat.

Each worker process runs one job at a time. It sleeps on LISTEN
`tidemill_queued` (polling every `poll_s` in case a notification is lost),
heartbeats while it runs so others can tell it is alive, and on every
heartbeat also gives back the jobs of workers that went silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import uuid
from pathlib import Path

import asyncpg

from server import auth, db, metrics, models, queue, settings
from worker import (
    bash_runner,
    deno_runner,
    environments,
    execution,
    limits,
    python_runner,
    runner,
)

log = logging.getLogger(__name__)

# what a worker survives by waiting and retrying: the database going away
TRANSIENT = db.UNAVAILABLE


class Worker:
    """One lease loop with a runner per language."""

    def __init__(
        self,
        config: settings.Settings,
        pool: db.Pool,
        dsn: str,
        *,
        name: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.config = config
        self.pool = pool
        self.dsn = dsn
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.tags = tags or ["default"]
        self._wake = asyncio.Event()
        self._listener: db.Connection | None = None
        self._current: models.JobId | None = None
        self._canceled = asyncio.Event()
        confinement = limits.Confinement(
            limits.JobLimits(
                memory_mb=config.job_memory_mb, max_processes=config.job_max_processes
            ),
            limits.Cgroups.find(config.job_max_processes),
        )
        self._python = python_runner.PythonRunner(
            environments.base_python(config.envs_dir),
            config.jobs_dir,
            envs_dir=config.envs_dir,
            confinement=confinement,
        )
        self._runners: dict[models.Language, runner.Runner] = {
            "python3": self._python,
            "deno": deno_runner.DenoRunner(config.home, confinement),
            "bash": bash_runner.BashRunner(confinement),
        }

    # -- notifications -------------------------------------------------------

    def _on_queued(self, _c: object, _pid: int, _channel: str, tag: object) -> None:
        if tag in self.tags:
            self._wake.set()

    def _on_cancel(self, _c: object, _pid: int, _channel: str, job_id: object) -> None:
        if self._current is not None and str(self._current) == job_id:
            self._canceled.set()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            conn = await db.connect(self.dsn)
            await conn.add_listener(queue.QUEUED_CHANNEL, self._on_queued)
            await conn.add_listener(queue.CANCEL_CHANNEL, self._on_cancel)
            # a lost connection wakes the loop, which listens again at once, not at the next poll
            conn.add_termination_listener(lambda _conn: self._wake.set())
        except TRANSIENT as exc:
            log.warning("worker %s: cannot listen (%s); polling", self.name, exc)
            return
        self._listener = conn
        self._wake.set()  # jobs may have been queued while we were not listening

    # -- the loop ------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve jobs until `stop` is set; the job in hand is finished first."""
        while True:
            try:
                await queue.register_worker(
                    self.pool,
                    name=self.name,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    tags=self.tags,
                )
                break
            except TRANSIENT as exc:
                log.warning("worker %s: cannot register yet (%s)", self.name, exc)
                await _sleep_or(stop, self.config.poll_s)
                if stop.is_set():
                    return
        self._python.warm()
        beat = asyncio.ensure_future(self._heartbeat_forever())
        try:
            while not stop.is_set():
                await self._listen()
                try:
                    served = await self._serve_one()
                except TRANSIENT as exc:
                    log.warning("worker %s: database unavailable (%s)", self.name, exc)
                    await _sleep_or(stop, min(self.config.poll_s, 1.0))
                    continue
                if not served:
                    await self._idle(stop)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            await self._python.close()
            if self._listener is not None:
                await self._listener.close()
            try:
                await queue.unregister_worker(self.pool, self.name)
            except TRANSIENT:
                log.warning("worker %s: could not unregister", self.name)

    async def _idle(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()

    async def _serve_one(self) -> bool:
        token = auth.new_token()
        job = await queue.lease(
            self.pool,
            worker=self.name,
            tags=self.tags,
            job_token=token,
            default_timeout_s=self.config.default_timeout_s,
        )
        if job is None:
            return False
        self._current = job.id
        self._canceled.clear()
        try:
            await self._run(job, token)
        finally:
            self._current = None
            self._python.warm()
        return True

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            try:
                if await queue.heartbeat(self.pool, worker=self.name, job_id=self._current):
                    self._canceled.set()
                for job_id, outcome in await queue.recover_lost(
                    self.pool, lost_after_s=self.config.lost_after_s
                ):
                    log.warning("job %s of a silent worker was %s", job_id, outcome)
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as exc:
                # a failed beat must not end the beating: the next one may succeed
                log.warning("worker %s: heartbeat failed (%r)", self.name, exc)

    # -- one job -------------------------------------------------------------

    def _script_env(self, job: models.LeasedJob, token: str) -> dict[str, str]:
        values = {
            "BASE_URL": self.config.base_url,
            "TOKEN": token,
            "WORKSPACE": job.workspace,
            "JOB_ID": str(job.id),
            "JOB_PATH": job.script_path,
        }
        env = {f"WM_{k}": v for k, v in values.items()}
        env |= {f"TIDEMILL_{k}": v for k, v in values.items()}
        return env

    async def _run(self, job: models.LeasedJob, token: str) -> None:
        workdir = self.config.jobs_dir / str(job.id)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            await self._run_in(workdir, job, token)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _run_in(self, workdir: Path, job: models.LeasedJob, token: str) -> None:
        """Start the job with its language's runner, supervise it, record how it ended."""
        if job.language == "python3" and job.lock:
            await self._count_dependency_cache(job.lock)
        try:
            process = await self._runners[job.language].start(
                runner.Job(
                    script_path=job.script_path,
                    script_hash=job.script_hash,
                    content=job.content,
                    args=job.args,
                    env=self._script_env(job, token),
                    workdir=workdir,
                    lock=job.lock,
                    lock_error=job.lock_error,
                )
            )
        except (runner.CannotStart, OSError) as exc:
            error = models.JobError(name="CannotStart", message=str(exc))
            await self._record(job, execution.Outcome(status="failure", error=error), "")
            return
        logs = execution.LogBuffer(self.config.max_log_bytes)
        try:
            outcome = await execution.supervise(
                process,
                logs=logs,
                flush=lambda text: queue.append_log(self.pool, job.id, text),
                timeout_s=min(
                    job.timeout_s or self.config.default_timeout_s, self.config.max_timeout_s
                ),
                canceled=self._canceled,
                max_result_bytes=self.config.max_result_bytes,
            )
            await self._record(job, outcome, logs.take())
        finally:
            await execution.reap(process)

    async def _count_dependency_cache(self, lock: str) -> None:
        """For /metrics: whether this job's environment was built before (best effort)."""
        hit = environments.is_built(self.config.envs_dir, lock)
        name = metrics.DEPENDENCY_CACHE_HIT if hit else metrics.DEPENDENCY_CACHE_MISS
        try:
            await metrics.count_worker_event(self.pool, worker=self.name, name=name)
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as exc:
            log.warning("worker %s: cannot count a cache %s (%r)", self.name, name, exc)

    async def _record(
        self, job: models.LeasedJob, outcome: execution.Outcome, last_log: str
    ) -> None:
        """Store the outcome, retrying while the database is away: a result is never dropped.

        A failure with retries left in the job's policy queues the job again instead.
        """
        retry_in = None
        if outcome.status == "failure" and job.retry is not None:
            retry_in = job.retry.delay_before(job.retries + 1)
        delay = 0.1
        while True:
            try:
                if retry_in is not None:
                    note = f"\n[attempt {job.retries + 1} failed; retrying in {retry_in:g} s]\n"
                    kept = await queue.retry_later(
                        self.pool,
                        job_id=job.id,
                        worker=self.name,
                        delay_s=retry_in,
                        error=outcome.error,
                        last_log=last_log + note,
                    )
                else:
                    kept = await queue.complete(
                        self.pool,
                        job_id=job.id,
                        worker=self.name,
                        status=outcome.status,
                        result=outcome.result,
                        error=outcome.error,
                        last_log=last_log,
                    )
            except TRANSIENT as exc:
                log.warning("job %s: cannot record its end yet (%s)", job.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except asyncpg.DataError as exc:
                # what the job produced cannot be stored (a NUL in a JSON string, say):
                # the job fails with PostgreSQL's reason, and the worker carries on
                if outcome.error is not None and outcome.error.name == "NotStorable":
                    raise
                outcome = execution.Outcome(
                    status="failure",
                    error=models.JobError(
                        name="NotStorable",
                        message=f"the job's result or logs cannot be stored: {exc}",
                    ),
                )
                retry_in, last_log = None, last_log.replace("\x00", "\ufffd")
                continue
            if not kept:
                log.warning("job %s was given up as lost before it ended here", job.id)
            return


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
