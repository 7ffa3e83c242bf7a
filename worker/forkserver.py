"""Python job processes forked from a kept interpreter of their environment.

Starting CPython and loading the shim costs ~20 ms of CPU; forking a process
that has already done so costs about one. So a worker keeps, per environment it
serves, one *fork server*: the environment's interpreter running the shim in its
forking mode (`shim._serve_forks`), as the job user and under the job limits,
with the standard-library modules the environment's packages use already
imported. For each job it forks a child that becomes the job's process: a
session and process group of its own, its log and result pipes. The server
never runs a script, so every job starts from the same clean state, and
nothing passes from one job to the next.

The server and its jobs share a pids cgroup (`Confinement.prepare_server`):
its jobs run one at a time, and after each, everything in it but the server
is killed (`execution.reap`), as a job's own cgroup would be removed.

The server answers each request with the child's pid and later reports the
child's exit code, so the worker supervises the child like any job process
(`execution.Child`). A server that dies is replaced; one that stops
answering (a job may signal it: it runs as the same user) is given
`FORK_TIMEOUT_S` and then replaced, and a job's exit code it does not report
within `EXIT_REPORT_S` of being asked is taken as unknown, so a worker never
hangs on it. A child forked for a request given up on is killed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from worker import execution, limits, runner, shim

# how long a server may take to answer its first request (it boots first), and later ones
BOOT_TIMEOUT_S = 30.0
FORK_TIMEOUT_S = 5.0
EXIT_REPORT_S = 2.0
STOP_GRACE_S = 1.0
SAID_BYTES = 4096


class ServerGone(OSError):
    """The fork server exited or stopped answering before it forked the job's process."""


class Forked:
    """A job's process a fork server started: its pid and, once reported, its exit code."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = asyncio.Event()

    def ended(self, code: int | None) -> None:
        self.returncode = code
        self._ended.set()

    async def wait(self) -> int | None:
        """The exit code once the server reports it; None if it does not in time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), EXIT_REPORT_S)
        return self.returncode


class ForkServer:
    """One kept interpreter forking job processes, and the worker's end of its socket."""

    def __init__(
        self,
        python: Path,
        proc: asyncio.subprocess.Process,
        control: socket.socket,
        cgroup: Path | None,
    ) -> None:
        self.python = python
        self._proc = proc
        self._control = control
        self._cgroup = cgroup
        self._booted = False
        # requests not answered yet, in the order they were sent: the server answers in order
        self._pending: collections.deque[asyncio.Future[Forked]] = collections.deque()
        self._children: dict[int, Forked] = {}
        # what it says on stderr (only a server that cannot start says anything): the
        # last of it goes into the error of the job it failed
        self._said = execution.Tail(SAID_BYTES)
        assert proc.stderr is not None
        self._listener = asyncio.ensure_future(_keep(proc.stderr, self._said))
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(
        cls,
        python: Path,
        *,
        preload: str,
        env: dict[str, str],
        cwd: Path,
        run_as: dict[str, Any] | None,
        confinement: limits.Confinement | None,
    ) -> ForkServer:
        """Start `python` running the shim's fork server (booting goes on in the background)."""
        preexec, cgroup = (confinement or limits.Confinement.none()).prepare_server()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await asyncio.create_subprocess_exec(
                str(python),
                "-u",
                shim.__file__,
                str(theirs.fileno()),
                *([preload] if preload else []),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=preexec,
                **(run_as or {}),
            )
        except BaseException:
            ours.close()
            if cgroup is not None:
                limits.kill_and_remove(cgroup)
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        return cls(python, proc, ours, cgroup)

    def alive(self) -> bool:
        return self._proc.returncode is None and not self._reader.done()

    async def fork(self, spec: Path) -> execution.Process:
        """A new process running the job whose spec is at `spec`.

        Raises:
            ServerGone: The server is gone or did not answer in time (a child it
                forked all the same is killed with it, in `stop`).
            runner.CannotStart: The server could not fork (it goes on serving).
        """
        log_read, log_write = os.pipe()
        result_read, result_write = os.pipe()
        answer: asyncio.Future[Forked] = asyncio.get_running_loop().create_future()
        try:
            try:
                socket.send_fds(self._control, [str(spec).encode()], [log_write, result_write])
            except OSError as exc:
                raise await self._gone(f"the fork server is gone ({exc})") from None
            finally:
                os.close(log_write)
                os.close(result_write)
            self._pending.append(answer)
            timeout_s = FORK_TIMEOUT_S if self._booted else BOOT_TIMEOUT_S
            try:
                child = await asyncio.wait_for(asyncio.shield(answer), timeout_s)
            except TimeoutError:
                answer.cancel()  # a late answer's child is killed (`_answer`)
                raise ServerGone(f"the fork server did not answer in {timeout_s:g} s") from None
            self._booted = True
            output, transport = await _reader_of(log_read)
        except BaseException:
            # nobody will supervise what this request forks: kill it now, or when it is answered
            if not answer.done():
                answer.cancel()
            elif not answer.cancelled() and answer.exception() is None:
                execution.kill_group(answer.result())
            os.close(result_read)
            with contextlib.suppress(OSError):
                os.close(log_read)
            raise
        return execution.Process(
            proc=child,
            result_fd=result_read,
            conclude=_conclude,
            cgroup=self._cgroup,
            cgroup_keeper=self._proc.pid,
            output=output,
            log_pipe=transport,
        )

    async def _read(self) -> None:
        """Match the server's answers to requests; record its children's exits."""
        loop = asyncio.get_running_loop()
        try:
            while message := await loop.sock_recv(self._control, 256):
                kind, _, rest = message.decode().partition(" ")
                if kind == "exited":
                    pid, code = rest.split()
                    if (child := self._children.pop(int(pid), None)) is not None:
                        child.ended(int(code))
                else:
                    self._answer(self._pending.popleft(), kind, rest)
        except (OSError, ValueError, IndexError):
            pass  # a server that garbles its answers is as good as gone
        finally:
            waiting = [answer for answer in self._pending if not answer.done()]
            if waiting:
                gone = await self._gone("the fork server exited")
                for answer in waiting:
                    if not answer.done():
                        answer.set_exception(gone)
            self._pending.clear()
            for child in self._children.values():
                child.ended(None)
            self._children.clear()

    def _answer(self, answer: asyncio.Future[Forked], kind: str, rest: str) -> None:
        """`started <pid>`, or `failed <reason>` (it could not fork: a process limit)."""
        if kind == "failed":
            if not answer.done():
                answer.set_exception(runner.CannotStart(f"cannot fork the job's process: {rest}"))
            return
        child = Forked(int(rest))
        self._children[child.pid] = child
        if answer.done():  # given up on: nobody would supervise this one
            execution.kill_group(child)
        else:
            answer.set_result(child)

    async def _gone(self, reason: str) -> ServerGone:
        """The error for a server that is gone, with the last of what it said as it went."""
        await asyncio.wait([self._listener], timeout=STOP_GRACE_S)  # its stderr ends with it
        said = self._said.value().decode(errors="replace").strip()
        return ServerGone(f"{reason}; it said:\n{said}" if said else reason)

    async def stop(self) -> None:
        """End the server, and kill what is left in its cgroup.

        Called between jobs; a child still running then is killed, its exit unknown.
        Its answers are read to the end: a child forked for a request given up on
        is killed even without a cgroup.
        """
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_WR)  # the server reads the end and exits
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), STOP_GRACE_S)
        execution.kill_group(self._proc)  # one that is stopped, or hung
        await self._proc.wait()
        with contextlib.suppress(TimeoutError):  # its end is closed now: the reader ends
            await asyncio.wait_for(asyncio.shield(self._reader), STOP_GRACE_S)
        self._reader.cancel()
        self._listener.cancel()
        await asyncio.gather(self._reader, self._listener, return_exceptions=True)
        self._control.close()
        if self._cgroup is not None:
            for _ in range(50):
                if limits.kill_and_remove(self._cgroup):
                    break
                await asyncio.sleep(0.01)


async def _keep(stream: asyncio.StreamReader, tail: execution.Tail) -> None:
    while chunk := await stream.read(execution.READ_CHUNK):
        tail.write(chunk)


async def _reader_of(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return reader, transport


async def _conclude(ended: execution.Ended) -> execution.Outcome:
    return await execution.outcome_of_reply(ended.reply, ended)
