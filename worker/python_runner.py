"""Python jobs: a fresh process per job, forked from an interpreter started before it.

Starting CPython costs ~20 ms of CPU, more than everything else a job does.
The runner keeps, per environment, a fork server (`worker.forkserver`): an
interpreter with the shim loaded that forks a new process for each job, so a
job costs a fork. Every job still gets a process of its own, forked from a
state no job has touched, so no state leaks from one job to the next.

Servers are kept for the empty base environment and for the dependency
environment used last, so a script run again and again with its own
dependencies starts as fast as one without. A dependency environment's
server also imports the standard-library modules its packages need (found
once, in the background after its first job here; the server is then
restarted with them), so a job pays only for its packages' own code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from pathlib import Path

import msgspec

from server import requirements
from worker import environments, execution, forkserver, limits, runner, sandbox, shim

# what a kept interpreter starts with: nothing of the worker's environment
SPARE_ENV = runner.BASE_ENV | {"PYTHONUNBUFFERED": "1"}
# uv's environment for a workspace (index settings, a private index's login), while uv runs
UvEnviron = Callable[[str], contextlib.AbstractAsyncContextManager[dict[str, str]]]


SCRIPT_FILE = "tidemill-script.py"  # a hyphen: no `import` statement can name it
SPEC_FILE = "tidemill-job.json"


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the shim reads for a job."""

    file: str
    display_name: str
    args: dict[str, object]
    env: dict[str, str]
    cwd: str


def job_spec(job: runner.Job, *, write_script: bool = True) -> bytes:
    """Write the job's script into its directory; the spec line the shim reads.

    A warm process that has loaded the script's module needs no file (`write_script`).
    """
    # not `<name>.py`: the job's directory is on the import path, and a script named
    # like a package it imports (`f/x/six` doing `import six`) would import itself
    script = job.workdir / SCRIPT_FILE
    if write_script:
        script.write_text(job.content)
    spec = JobSpec(
        file=str(script),
        display_name=f"{job.script_path}.py",
        args=job.args,
        env=job.base_env(),
        cwd=str(job.workdir),
    )
    return msgspec.json.encode(spec) + b"\n"


class PythonRunner:
    """Starts Python jobs in processes forked from kept interpreters, one per environment."""

    def __init__(
        self,
        base: Path,
        workdir: Path,
        *,
        envs_dir: Path,
        uv_environ: UvEnviron | None = None,
        max_env_bytes: int | None = None,
        user: sandbox.JobUser | None = None,
        confinement: limits.Confinement | None = None,
    ) -> None:
        self._base = base
        self._confinement = confinement
        self._recent = base
        self._workdir = workdir
        self._envs_dir = envs_dir
        self._uv_environ = uv_environ
        self._max_env_bytes = max_env_bytes
        self._servers: dict[Path, asyncio.Task[forkserver.ForkServer]] = {}
        # environments used here whose preload list is still to be found, and the finders
        self._to_probe: set[Path] = set()
        self._probes: set[asyncio.Task[None]] = set()
        # servers started before their environment's preload list was found
        self._outdated: set[Path] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        # the recent environment is held (its server and its job use it): not evictable
        self._held: environments.InUse | None = None
        self._user = user
        self._exposed: set[Path] = set()
        self.cache_counts = environments.CacheCounts()
        if user is not None:
            sandbox.expose(Path(shim.__file__))

    async def _start_server(self, python: Path) -> forkserver.ForkServer:
        if self._user is not None and python not in self._exposed:
            sandbox.expose(python)  # the job user runs it: it must reach the interpreter
            self._exposed.add(python)
        return await forkserver.ForkServer.start(
            python,
            preload=environments.preload_of(python),
            env=SPARE_ENV,
            cwd=self._workdir,
            run_as=None if self._user is None else self._user.spawn_options(),
            confinement=self._confinement,
        )

    def warm(self) -> None:
        """Have a server running for the base and the last used environment.

        Called between jobs: a server is restarted only then, with no job of its
        own running. Also find, in the background, what a new environment's server
        should preload.
        """
        self._workdir.mkdir(parents=True, exist_ok=True)
        for python in self._outdated:
            self._stop_later(self._servers.pop(python, None))
        self._outdated.clear()
        for python in (self._base, self._recent):
            server = self._servers.get(python)
            if server is not None and server.done() and not _running(server):
                self._stop_later(self._servers.pop(python))
            if python not in self._servers:
                self._servers[python] = asyncio.ensure_future(self._start_server(python))
        for env in self._to_probe:
            probe = asyncio.ensure_future(environments.write_preload(env))
            self._probes.add(probe)
            probe.add_done_callback(functools.partial(self._probed, env / "bin" / "python"))
        self._to_probe.clear()

    def _probed(self, python: Path, probe: asyncio.Task[None]) -> None:
        """Its server restarts, between jobs, with what the probe found to preload."""
        self._probes.discard(probe)
        self._outdated.add(python)

    def _stop_later(self, server: asyncio.Task[forkserver.ForkServer] | None) -> None:
        if server is None:
            return
        stopping = asyncio.ensure_future(_stop(server))
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    async def interpreter_for(self, job: runner.Job) -> Path:
        """The job's interpreter: its lock's environment (built if missing), else the base."""
        if job.lock_error is not None:
            raise runner.CannotStart(
                f"the script's dependencies could not be resolved:\n{job.lock_error}"
            )
        if job.lock is None:
            return self._base
        env = self._envs_dir / requirements.lock_hash(job.lock)
        python = env / "bin" / "python"
        if python == self._recent and python.exists():
            self.cache_counts.hits += 1
            environments.mark_used(env)
            return python
        held = environments.InUse(env)
        if not python.exists():  # first use here, or evicted: build it, then hold it
            self.cache_counts.misses += 1
            held.release()
            python = await self._build(job)
            held = environments.InUse(env)
        else:
            self.cache_counts.hits += 1
        if not (env / environments.PRELOAD_FILE).exists():  # new, or its probe was cut short
            self._to_probe.add(env)
        environments.mark_used(env)
        if self._recent != self._base:
            await self._retire(self._recent)
        if self._held is not None:
            self._held.release()
        self._held, self._recent = held, python
        return python

    async def _build(self, job: runner.Job) -> Path:
        assert job.lock is not None
        try:
            if self._uv_environ is None:
                return await environments.locked_python(
                    self._envs_dir, job.lock, max_bytes=self._max_env_bytes
                )
            async with self._uv_environ(job.workspace) as environ:
                return await environments.locked_python(
                    self._envs_dir, job.lock, uv_env=environ, max_bytes=self._max_env_bytes
                )
        except requirements.UvFailed as exc:
            raise runner.CannotStart(
                f"the script's dependencies could not be installed:\n{exc}"
            ) from None

    async def _retire(self, python: Path) -> None:
        """Stop the server of an environment no longer the most recent."""
        server = self._servers.pop(python, None)
        if server is not None:
            await _stop(server)

    async def start(self, job: runner.Job) -> execution.Process:
        """Fork the job's process from its environment's server (a new server if it died).

        Raises:
            runner.CannotStart: No server could fork it, or its environment cannot be made.
        """
        spec = job.workdir / SPEC_FILE
        spec.write_bytes(job_spec(job))
        python = await self.interpreter_for(job)
        failure: OSError | None = None
        for _ in range(2):
            server = self._servers.get(python)
            if server is None:
                server = self._servers[python] = asyncio.ensure_future(self._start_server(python))
            try:
                return await (await server).fork(spec)
            except OSError as exc:
                failure = exc
                await self._retire(python)
        raise runner.CannotStart(f"could not start a Python process for the job: {failure}")

    async def close(self) -> None:
        for probe in list(self._probes):
            probe.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
        for python in list(self._servers):
            await self._retire(python)
        await asyncio.gather(*self._stopping, return_exceptions=True)
        if self._held is not None:
            self._held.release()
            self._held = None


def _started(server: asyncio.Task[forkserver.ForkServer]) -> bool:
    """Whether a finished server task started its server (which may have died since)."""
    return not server.cancelled() and server.exception() is None


def _running(server: asyncio.Task[forkserver.ForkServer]) -> bool:
    """Whether a finished server task started a server that still serves."""
    return _started(server) and server.result().alive()


async def _stop(server: asyncio.Task[forkserver.ForkServer]) -> None:
    await asyncio.wait([server])
    if _started(server):
        await server.result().stop()
