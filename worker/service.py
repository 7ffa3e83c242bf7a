"""A worker: lease a job, run it, record it, repeat.

Each worker process runs one job at a time. While jobs wait, the statement
that records a job's end also leases the next: one round trip and one commit
per job. Idle, it sleeps on LISTEN `tidemill_queued`, polling every `poll_s`
in case a notification is lost and waking when a job queued for later falls
due. It heartbeats while it runs so others can tell it is alive, and on every
heartbeat also gives back the jobs of workers that went silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import socket
import uuid
from pathlib import Path

import asyncpg

from server import (
    auth,
    db,
    errors,
    metrics,
    models,
    queue,
    references,
    requirements,
    scripts,
    secrets,
    settings,
)
from worker import (
    bash_runner,
    deno_runner,
    dependencies,
    environments,
    execution,
    limits,
    masking,
    python_runner,
    runner,
    sandbox,
    warm,
)

log = logging.getLogger(__name__)

# what a worker survives by waiting and retrying: the database going away
TRANSIENT = db.UNAVAILABLE
# what keeps a worker from learning a job's secrets: its output is then withheld
UNMASKABLE: tuple[type[Exception], ...] = (*TRANSIENT, errors.TidemillError)
# how long a run waits for its version's lock: resolving is bounded (a minute per uv call)
LOCK_WAIT_S = 3 * requirements.LOCK_TIMEOUT_S


# a job this worker has leased, with the token minted for it
Leased = tuple[models.LeasedJob, str]


class Canceled(Exception):
    """The job was canceled before it started."""


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
        # set when the worker is to stop: the job in hand ends without leasing the next
        self._stop = asyncio.Event()
        self._locked = asyncio.Event()
        self.lock_wait_s = LOCK_WAIT_S
        self._uv = dependencies.UvSettings(config, pool)
        # as root, jobs run as a user of their own (see worker.sandbox)
        self.user = sandbox.job_user()
        if self.user is not None:
            sandbox.prepare_jobs_dir(config.jobs_dir)
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
            uv_environ=self._uv.environ,
            max_env_bytes=config.env_cache_max_mb * 1024 * 1024,
            user=self.user,
            confinement=confinement,
        )
        self._deno = deno_runner.DenoRunner(config.home, self.user, confinement)
        self._runners: dict[models.Language, runner.Runner] = {
            "python3": self._python,
            "deno": self._deno,
            "bash": bash_runner.BashRunner(self.user, confinement),
        }
        self._warm = warm.WarmRunner(
            self._python.interpreter_for,
            config.jobs_dir,
            user=self.user,
            confinement=confinement,
        )

    @functools.cached_property
    def _vault(self) -> secrets.Vault:
        """The master key, read only once a job needs a secret (most never do).

        Never made here: a worker on a machine of its own must be given the server's key
        (`TIDEMILL_SECRET_KEY`), not invent one that decrypts nothing.
        """
        key_file = self.config.home / secrets.KEY_FILE
        if not self.config.secret_key and not key_file.exists():
            raise errors.Unavailable(
                f"this worker has no master key to read secrets with: set TIDEMILL_SECRET_KEY "
                f"(or share {key_file}) as on the server"
            )
        return secrets.Vault(secrets.master_key(self.config))

    # -- notifications -------------------------------------------------------

    def _on_queued(self, _c: object, _pid: int, _channel: str, tag: object) -> None:
        if tag in self.tags:
            self._wake.set()

    def _on_locked(self, _c: object, _pid: int, _channel: str, _hash: object) -> None:
        self._locked.set()

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
            await conn.add_listener(scripts.LOCKED_CHANNEL, self._on_locked)
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
        self._stop = stop
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
                # cleared before the lease, not after: a job queued while the lease
                # runs must wake the next round, not be left to the poll
                self._wake.clear()
                try:
                    idle_s = None if await self._serve_one() else await self._wait_s()
                except TRANSIENT as exc:
                    log.warning("worker %s: database unavailable (%s)", self.name, exc)
                    await _sleep_or(stop, min(self.config.poll_s, 1.0))
                    continue
                if idle_s is not None:
                    await self._idle(stop, idle_s)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            await self._python.close()
            await self._warm.close()
            if self._listener is not None:
                await self._listener.close()
            try:
                await self._export_cache_counts()
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as exc:
                log.warning("worker %s: could not export its cache counts (%r)", self.name, exc)
            try:
                await queue.unregister_worker(self.pool, self.name)
            except TRANSIENT:
                log.warning("worker %s: could not unregister", self.name)

    async def _wait_s(self) -> float:
        """How long to sleep when idle: the poll interval, or less if a job falls due sooner."""
        due_in = await queue.next_due_in(self.pool, tags=self.tags)
        if due_in is None:
            return self.config.poll_s
        return min(self.config.poll_s, max(due_in, 0.001))

    async def _idle(self, stop: asyncio.Event, timeout_s: float) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()

    async def _serve_one(self) -> bool:
        """Lease a job and run it, then each job leased with the end of the one before."""
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
        leased: Leased | None = (job, token)
        while leased is not None:
            job, token = leased
            self._current = job.id
            self._canceled.clear()
            try:
                leased = await self._run(job, token)
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
                await self._export_cache_counts()
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
            "STATE_PATH": state_path(job),
        }
        env = {f"WM_{k}": v for k, v in values.items()}
        env |= {f"TIDEMILL_{k}": v for k, v in values.items()}
        return env

    async def _run(self, job: models.LeasedJob, token: str) -> Leased | None:
        """Run the job; the job leased with its end, if one was due (see `_record`)."""
        workdir = self.config.jobs_dir / str(job.id)
        sandbox.job_dir(workdir, self.user)
        try:
            return await self._run_in(workdir, job, token)
        finally:
            try:
                workdir.rmdir()  # a job that left no files (a warm one, often): one call
            except OSError:
                shutil.rmtree(workdir, ignore_errors=True)

    async def _resolve_args(self, job: models.LeasedJob) -> references.Resolved:
        """The job's arguments with `$var:`/`$res:` read as the user who started it."""
        if not references.has_references(job.args):
            return references.Resolved(args=job.args, secrets=[])
        return await references.resolve_args(
            self.pool,
            self._vault,
            workspace=job.workspace,
            username=job.created_by,
            job_id=job.id,
            args=job.args,
        )

    async def _flush(self, job: models.LeasedJob, masker: masking.Masker, text: str) -> None:
        """Store a chunk of logs, masking the secrets the job has read so far."""
        await self._learn_secrets(job, masker)
        if masked := masker.feed(text):
            await queue.append_log(self.pool, job.id, masked)

    async def _learn_secrets(self, job: models.LeasedJob, masker: masking.Masker) -> None:
        """Add the secret variables the script read with its token since the last look.

        The read was recorded before the API answered the script, so before the
        script could print the value: looking when a chunk is stored is enough.
        """
        try:
            paths = await auth.job_secret_reads(self.pool, job.id)
            new = [path for path in paths if path not in masker.paths]
            if new:
                values = await references.secret_values(
                    self.pool, self._vault, workspace=job.workspace, paths=new
                )
                masker.add(values)
                masker.paths.update(new)
        except UNMASKABLE as exc:
            # what cannot be masked is not stored: the job's output is withheld, not leaked
            log.warning("job %s: cannot learn the secrets it read (%s)", job.id, exc)
            masker.withhold(f"its secrets cannot be masked: {exc}")

    async def _run_in(self, workdir: Path, job: models.LeasedJob, token: str) -> Leased | None:
        """Start the job with its language's runner, supervise it, record how it ended."""
        if job.kind == "dependencies":
            return await self._record(job, await self._resolve_job(job), "")
        try:
            resolved = await self._resolve_args(job)
        except errors.TidemillError as exc:
            error = models.JobError(name="InvalidArgument", message=str(exc))
            return await self._record(job, execution.Outcome(status="failure", error=error), "")
        masker = masking.Masker(resolved.secrets)
        try:
            lock = await self._lock_of(job)
            # warm mode is Python's; a dedicated script in another language runs as usual
            dedicated = job.dedicated_worker and job.language == "python3"
            process = await (self._warm if dedicated else self._runners[job.language]).start(
                runner.Job(
                    script_path=job.script_path,
                    script_hash=job.script_hash,
                    workspace=job.workspace,
                    content=job.content,
                    args=resolved.args,
                    env=self._script_env(job, token),
                    workdir=workdir,
                    lock=lock.lock,
                    lock_error=lock.lock_error,
                )
            )
        except Canceled:
            error = models.JobError(name="Canceled", message="the job was canceled")
            return await self._record(job, execution.Outcome(status="canceled", error=error), "")
        except (runner.CannotStart, OSError) as exc:
            error = models.JobError(name="CannotStart", message=str(exc))
            return await self._record(job, execution.Outcome(status="failure", error=error), "")
        logs = execution.LogBuffer(self.config.max_log_bytes)
        try:
            outcome = await execution.supervise(
                process,
                logs=logs,
                flush=functools.partial(self._flush, job, masker),
                timeout_s=min(
                    job.timeout_s or self.config.default_timeout_s, self.config.max_timeout_s
                ),
                canceled=self._canceled,
                max_result_bytes=self.config.max_result_bytes,
            )
            last_log = logs.take()
            if last_log or outcome.error is not None:  # a silent success shows nothing
                await self._learn_secrets(job, masker)
            last_log = masker.feed(last_log, final=True)
            return await self._record(job, _masked(outcome, masker), last_log)
        finally:
            if dedicated:
                await self._warm.release(process)
            else:
                await execution.reap(process)

    # -- dependencies ----------------------------------------------------------

    async def _resolve_lock(self, job: models.LeasedJob) -> requirements.Lock:
        """Resolve the job's lock here and store it where it is waited for.

        On the versions with this content and on the previews with these requirements
        that are still pending (unless another resolver did first), and, resolved, in the
        workspace's lock cache that later previews of the same requirements reuse.
        """
        key: str | None = None
        try:
            key = requirements.requirements_hash(job.language, job.content)
            if job.language == "deno":
                locked = await self._deno.lock(job.content)
            else:
                reqs = requirements.of_python(job.content)
                async with self._uv.environ(job.workspace) as environ:
                    locked = await requirements.lock(reqs, env=environ)
        except (requirements.InvalidMetadata, requirements.UvFailed) as exc:
            locked = requirements.Lock(error=str(exc))
        except OSError as exc:  # the resolver itself is missing (no Deno, no uv): say so
            locked = requirements.Lock(error=f"the resolver could not start: {exc}")
        if key is not None:
            if locked.text is not None:
                await scripts.remember_lock(
                    self.pool, workspace=job.workspace, requirements_hash=key, lock=locked.text
                )
            await queue.store_preview_locks(
                self.pool, workspace=job.workspace, requirements_hash=key, locked=locked
            )
        await scripts.store_lock(
            self.pool, workspace=job.workspace, hash_=job.script_hash, locked=locked
        )
        return locked

    async def _resolve_job(self, job: models.LeasedJob) -> execution.Outcome:
        """A `dependencies` job: the lock as its result, or the resolver's message as its error."""
        if job.lock_status == "pending":
            locked = await self._resolve_lock(job)
        else:  # a run found nobody resolving it and did it itself
            locked = requirements.Lock(text=job.lock, error=job.lock_error)
        if locked.error is not None:
            return execution.Outcome(status="failure", error=dependencies.job_error(locked.error))
        return execution.Outcome(status="success", result={"lock": locked.text})

    async def _lock_of(self, job: models.LeasedJob) -> models.LockState:
        """The job's lock; while it is pending, wait for its resolver (bounded).

        Woken by `tidemill_locked`, with a poll as fallback. A lock whose resolving job
        is gone (given up after its worker died) is resolved here, so it never hangs. A
        preview's resolver is found by the hash of its requirements, a version's by its own.

        Raises:
            runner.CannotStart: Still pending after `lock_wait_s` (or the job's timeout).
            Canceled: The job was canceled while it waited.
        """
        state = models.LockState(
            lock=job.lock, lock_status=job.lock_status, lock_error=job.lock_error
        )
        if state.lock_status != "pending":
            return state
        preview = job.kind == "preview"
        resolved_by = (
            requirements.requirements_hash(job.language, job.content)
            if preview
            else job.script_hash
        )
        bound = min(job.timeout_s or self.config.default_timeout_s, self.lock_wait_s)
        deadline = asyncio.get_running_loop().time() + bound
        while state.lock_status == "pending":
            self._locked.clear()
            resolver = await queue.dependency_job_status(
                self.pool, workspace=job.workspace, script_hash=resolved_by
            )
            if preview:
                state = await queue.preview_lock(self.pool, workspace=job.workspace, job_id=job.id)
            else:
                state = await scripts.get_lock(
                    self.pool, workspace=job.workspace, path=job.script_path, hash_=job.script_hash
                )
            if state.lock_status != "pending":
                break
            if resolver is None:
                await self._resolve_lock(job)
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise runner.CannotStart(
                    f"the script's dependencies were still being resolved after {bound:g} s "
                    f"(its `dependencies` job is {resolver})"
                )
            waits = [
                asyncio.ensure_future(self._locked.wait()),
                asyncio.ensure_future(self._canceled.wait()),
            ]
            await asyncio.wait(
                waits,
                timeout=min(self.config.poll_s, remaining),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in waits:
                task.cancel()
            if self._canceled.is_set():
                raise Canceled
        return state

    async def _export_cache_counts(self) -> None:
        """Add the dependency cache hits and misses counted since the last export to /metrics.

        Called with the heartbeat (and once on stopping), so jobs pay no database write for
        it; nothing is written while nothing was counted.
        """
        counts = self._python.cache_counts
        hits, misses = counts.hits, counts.misses
        if hits or misses:
            await metrics.add_worker_counts(
                self.pool,
                worker=self.name,
                counts={metrics.DEPENDENCY_CACHE_HIT: hits, metrics.DEPENDENCY_CACHE_MISS: misses},
            )
            counts.exported(hits=hits, misses=misses)

    async def _record(
        self, job: models.LeasedJob, outcome: execution.Outcome, last_log: str
    ) -> Leased | None:
        """Store the outcome, retrying while the database is away: a result is never dropped.

        A failure with retries left in the job's policy queues the job again instead.
        Otherwise the next job is leased in the statement that ends this one (unless the
        worker is stopping, or the job is a flow's step): it is returned with its token.
        """
        retry_in = None
        if outcome.status == "failure" and job.retry is not None:
            retry_in = job.retry.delay_before(job.retries + 1)
        delay = 0.1
        while True:
            try:
                kept, leased = await self._end(job, outcome, last_log, retry_in)
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
            return leased

    async def _end(
        self,
        job: models.LeasedJob,
        outcome: execution.Outcome,
        last_log: str,
        retry_in: float | None,
    ) -> tuple[bool, Leased | None]:
        """One try at recording the end; whether the job was still ours, and the next job."""
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
            return kept, None
        if job.parent_job is not None:  # a flow's step: its flow advances as it ends
            kept = await queue.complete(
                self.pool,
                job_id=job.id,
                worker=self.name,
                status=outcome.status,
                result=outcome.result,
                error=outcome.error,
                last_log=last_log,
            )
            return kept, None
        token = auth.new_token()
        kept, next_job = await queue.end_and_lease(
            self.pool,
            ending=queue.Ending(
                job_id=job.id,
                status=outcome.status,
                result=outcome.result,
                error=outcome.error,
                last_log=last_log,
            ),
            worker=self.name,
            tags=[] if self._stop.is_set() else self.tags,
            job_token=token,
            default_timeout_s=self.config.default_timeout_s,
        )
        return kept, None if next_job is None else (next_job, token)


def state_path(job: models.LeasedJob) -> str:
    """`WM_STATE_PATH`: the resource `wmill.get_state`/`set_state` use, one per script and
    trigger (as Windmill's): `<script path>/user` for runs, `.../schedule_<name>` for a
    schedule's, so a schedule's state is not mixed with manual runs'."""
    if job.schedule_path:
        return f"{job.script_path}/schedule_{job.schedule_path.rsplit('/', 1)[-1]}"
    return f"{job.script_path}/user"


def _masked(outcome: execution.Outcome, masker: masking.Masker) -> execution.Outcome:
    """The outcome with secrets masked in its error, which quotes the job's last output."""
    if outcome.error is None:
        return outcome
    error = models.JobError(
        name=outcome.error.name,
        message=masker.redact(outcome.error.message),
        stack=masker.redact(outcome.error.stack),
    )
    return execution.Outcome(status=outcome.status, result=outcome.result, error=error)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
