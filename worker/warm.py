"""Warm mode: a script's process kept between jobs (its `dedicated_worker` setting).

Windmill's "dedicated workers", per script version rather than per worker.
A job of a script marked `dedicated_worker` runs in a process the worker keeps
for that script (workspace and path) and version: the interpreter is started
and the module imported once, by the first job, and every later job costs one
message on a socket and a call of `main`.

Each job still gets what a job of its own process gets: its arguments, its
variables (the process's environment is reset per job), its own log pipe (the
shim makes it stdout and stderr for the job's duration, so logs never mix),
its own result pipe, its timeout and its cancel. The socket is a Unix
`SOCK_SEQPACKET` pair; the two pipes travel with each message as passed
descriptors, so the supervision in `execution` is the same as for any job.
The message is the job's spec itself (a file's path only when the arguments
are too large for one message), and the script's file is written only until
the process has loaded its module: a job costs no file but its directory.

A process that did not hand back a reply (it crashed, exited, was killed on
timeout or cancel) is discarded after its job is recorded: only that job
failed, and the next job starts a fresh process. A new version of the script
replaces the process. At most `MAX_WARM` processes are kept per worker, the
least recently used stopped first.

What persists between jobs is the module's state, as in Windmill: globals,
caches, open connections, imported packages, threads the script started.
That is the point (a client built at import is reused), and the reason a
script that keeps per-job data in globals must not be marked dedicated.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from worker import execution, limits, python_runner, runner, sandbox, shim

MAX_WARM = 4
SPEC_FILE = "tidemill-job.json"
# how long a retired process may take to leave after its socket is closed
STOP_GRACE_S = 1.0

Interpreter = Callable[[runner.Job], Awaitable[Path]]


class WarmProcess:
    """One kept process: the script version it serves and its control socket."""

    def __init__(
        self, script_hash: str, proc: asyncio.subprocess.Process, control: socket.socket
    ) -> None:
        self.script_hash = script_hash
        self.proc = proc
        self.control = control
        self.replied = False
        # the module is loaded once a job succeeded: later jobs need no script file
        self.loaded = False
        self._log: asyncio.BaseTransport | None = None

    def usable(self) -> bool:
        return self.proc.returncode is None and self.control.fileno() >= 0

    async def send(self, job: runner.Job) -> execution.Process:
        """Hand it a job: its spec (or the spec file's path) with its log and result pipes.

        Raises:
            OSError: The process is gone (its socket is closed).
        """
        spec = python_runner.job_spec(job, write_script=not self.loaded)
        if len(spec) > shim.WARM_MESSAGE_BYTES:
            spec_file = job.workdir / SPEC_FILE
            spec_file.write_bytes(spec)
            spec = str(spec_file).encode()
        log_read, log_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            socket.send_fds(self.control, [spec], [log_write, result_write])
        except OSError:
            os.close(log_read)
            os.close(result_read)
            raise
        finally:
            os.close(log_write)
            os.close(result_write)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        self._log, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(log_read, "rb", buffering=0)
        )
        self.replied = False
        return execution.Process(
            proc=self.proc, result_fd=result_read, conclude=self._conclude, output=reader
        )

    async def _conclude(self, ended: execution.Ended) -> execution.Outcome:
        # a reply means the shim is back in its loop; none means the process died
        self.replied = bool(ended.reply)
        outcome = await execution.outcome_of_reply(ended.reply, ended)
        self.loaded = self.loaded or outcome.status == "success"
        return outcome

    def end_job(self) -> None:
        """Release the job's log pipe (a child the script left may still hold it open)."""
        if self._log is not None:
            self._log.close()
            self._log = None

    async def stop(self) -> None:
        """Close its socket (the shim exits) and kill what is left of its group."""
        self.end_job()
        self.control.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), STOP_GRACE_S)
        execution.kill_group(self.proc)
        await self.proc.wait()


class WarmRunner:
    """Runs Python jobs of dedicated scripts in kept processes, one per script."""

    def __init__(
        self,
        interpreter: Interpreter,
        workdir: Path,
        *,
        limit: int = MAX_WARM,
        user: sandbox.JobUser | None = None,
        confinement: limits.Confinement | None = None,
    ) -> None:
        self._interpreter = interpreter
        self._user = user
        self._confinement = confinement
        self._workdir = workdir
        self._limit = limit
        # (workspace, script path) -> its process, least recently used first
        self._kept: collections.OrderedDict[tuple[str, str], WarmProcess] = (
            collections.OrderedDict()
        )
        self._running: dict[int, tuple[tuple[str, str], WarmProcess]] = {}

    async def _spawn(self, job: runner.Job) -> WarmProcess:
        python = await self._interpreter(job)
        if self._user is not None:
            sandbox.expose(python)  # the job user runs it: it must reach the interpreter
        # a kept process outlives any one job: rlimits bind it, a per-job cgroup cannot
        preexec = None if self._confinement is None else self._confinement.limits.preexec()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await asyncio.create_subprocess_exec(
                str(python),
                "-u",
                shim.__file__,
                "--warm",
                str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=python_runner.SPARE_ENV,
                cwd=self._workdir,
                start_new_session=True,
                preexec_fn=preexec,
                **({} if self._user is None else self._user.spawn_options()),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return WarmProcess(job.script_hash, proc, ours)

    async def start(self, job: runner.Job) -> execution.Process:
        """Hand the job to its script's kept process, starting one if there is none.

        Raises:
            runner.CannotStart: No interpreter could take the job.
        """
        key = (job.workspace, job.script_path)
        kept = self._kept.pop(key, None)
        if kept is not None and (kept.script_hash != job.script_hash or not kept.usable()):
            await kept.stop()
            kept = None
        for _ in range(2):
            if kept is None:
                kept = await self._spawn(job)
            try:
                process = await kept.send(job)
            except OSError:
                await kept.stop()
                kept = None
                continue
            self._running[process.proc.pid] = (key, kept)
            return process
        raise runner.CannotStart("could not start a warm Python process for the job")

    async def release(self, process: execution.Process) -> None:
        """After the job is recorded: keep its process if it replied, else discard it."""
        key, kept = self._running.pop(process.proc.pid)
        kept.end_job()
        if not (kept.replied and kept.usable()):
            await kept.stop()
            return
        self._kept[key] = kept
        while len(self._kept) > self._limit:
            _, oldest = self._kept.popitem(last=False)
            await oldest.stop()

    async def close(self) -> None:
        while self._kept:
            _, kept = self._kept.popitem()
            await kept.stop()
