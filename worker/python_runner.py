"""Python jobs: a fresh interpreter per job, started before the job arrives.

Starting CPython costs ~20 ms, more than everything else a job does. The
runner keeps one spare interpreter waiting on stdin with the shim loaded;
a job hands it the script and arguments and a new spare starts in the
background. Every job still gets a process of its own, so no state leaks
from one job to the next.

Spares are kept per interpreter: always one for the empty base environment,
and one for the dependency environment used last, so a script run again and
again with its own dependencies starts as fast as one without. A dependency
environment's spare also imports, while it waits, the standard-library modules
its packages need (found once, in the background after its first job here), so
a job pays only for its packages' own code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import msgspec

from server import requirements
from worker import environments, execution, limits, runner, sandbox, shim

SPARE_ENV = runner.BASE_ENV | {"PYTHONUNBUFFERED": "1"}
# uv's environment for a workspace (index settings, a private index's login), while uv runs
UvEnviron = Callable[[str], contextlib.AbstractAsyncContextManager[dict[str, str]]]


SCRIPT_FILE = "tidemill-script.py"  # a hyphen: no `import` statement can name it


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the shim reads from stdin."""

    file: str
    display_name: str
    args: dict[str, object]
    env: dict[str, str]
    cwd: str


async def _conclude(ended: execution.Ended) -> execution.Outcome:
    return await execution.outcome_of_reply(ended.reply, ended)


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
    """Starts Python jobs from pre-started interpreters, one spare per interpreter."""

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
        self._spares: dict[Path, asyncio.Task[execution.Process]] = {}
        self._preloads: dict[Path, str] = {}
        # environments used here whose preload list is still to be found, and the finders
        self._to_probe: set[Path] = set()
        self._probes: set[asyncio.Task[None]] = set()
        # the recent environment is held (its spare and its job use it): not evictable
        self._held: environments.InUse | None = None
        self._user = user
        self._exposed: set[Path] = set()
        self.cache_counts = environments.CacheCounts()
        if user is not None:
            sandbox.expose(Path(shim.__file__))

    async def _spawn(self, python: Path) -> execution.Process:
        if self._user is not None and python not in self._exposed:
            sandbox.expose(python)  # the job user runs it: it must reach the interpreter
            self._exposed.add(python)
        preload = self._preloads.get(python)
        if preload is None:
            preload = environments.preload_of(python)
            if preload or python == self._base:  # not recorded yet: look again next time
                self._preloads[python] = preload
        extra = [preload] if preload else []
        return await execution.spawn(
            lambda result_fd: [str(python), "-u", shim.__file__, str(result_fd), *extra],
            env=SPARE_ENV,
            cwd=self._workdir,
            conclude=_conclude,
            run_as=None if self._user is None else self._user.spawn_options(),
            confinement=self._confinement,
        )

    def warm(self) -> None:
        """Start a spare for the base and the last used environment, where none is waiting.

        Also find, in the background, what a new environment's spares should preload.
        """
        self._workdir.mkdir(parents=True, exist_ok=True)
        for python in (self._base, self._recent):
            if python not in self._spares:
                self._spares[python] = asyncio.ensure_future(self._spawn(python))
        for env in self._to_probe:
            probe = asyncio.ensure_future(environments.write_preload(env))
            self._probes.add(probe)
            probe.add_done_callback(self._probes.discard)
        self._to_probe.clear()

    async def _take_spare(self, python: Path) -> execution.Process:
        spare = self._spares.pop(python, None)
        if spare is None:
            return await self._spawn(python)
        return await spare

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
        """Stop the spare of an environment no longer the most recent."""
        spare = self._spares.pop(python, None)
        if spare is None:
            return
        with contextlib.suppress(OSError):
            process = await spare
            execution.discard(process)
            await execution.reap(process)  # also removes its cgroup once it has exited

    async def start(self, job: runner.Job) -> execution.Process:
        """Hand a job to the waiting interpreter (a new one if the spare has died).

        The next spare is not started here: forking and booting it would compete
        with this job for the CPU. The worker calls `warm()` once the job is recorded.
        """
        line = job_spec(job)
        python = await self.interpreter_for(job)
        for _ in range(2):
            process = await self._take_spare(python)
            stdin = process.proc.stdin
            assert stdin is not None
            try:
                stdin.write(line)
                await stdin.drain()
                stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                execution.discard(process)
                continue
            return process
        raise runner.CannotStart("could not start a Python interpreter for the job")

    async def close(self) -> None:
        for probe in list(self._probes):
            probe.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
        for python in list(self._spares):
            await self._retire(python)
        if self._held is not None:
            self._held.release()
            self._held = None
