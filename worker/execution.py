"""Supervising one job's process: its logs, its result, its timeout and cancel.

Language runners start the process (with `spawn`; Python's are forked by a
fork server, `worker.forkserver`); this module watches it the same way for
every language, so logs, limits and kills behave alike everywhere.

Every job process gets a *result pipe*. Only the job's main process holds its
write end (the shims and the Bash wrapper do not pass it on to children), so
the pipe's end of file says the script is done even while a child it left
behind still holds the output pipes (on Python 3.11 `Process.wait()` would
wait for those too). What came
through the pipe, plus the end of the output, is the runner's to interpret:
`Process.conclude` turns it into an `Outcome`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import stat
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec

from server import models
from worker import limits

FLUSH_EVERY_S = 0.5
READ_CHUNK = 64 * 1024
DRAIN_GRACE_S = 1.0
OUTPUT_TAIL_BYTES = 8 * 1024
# Bash's result may be its last line of stdout, so that much of it is kept
STDOUT_TAIL_BYTES = 1024 * 1024
ERROR_TAIL_LINES = 20


class ResultTooLarge(Exception):
    """The job's result is over the worker's cap (`TIDEMILL_MAX_RESULT_BYTES`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the job's result is larger than the limit of {limit} bytes")


def too_large(exc: ResultTooLarge) -> Outcome:
    return Outcome(status="failure", error=models.JobError(name="ResultTooLarge", message=str(exc)))


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a job's process ended, ready to be recorded."""

    status: models.FinalStatus
    result: Any = None
    error: models.JobError | None = None


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """What the Python and Deno shims hand back."""

    ok: bool
    result: Any = None
    error: models.JobError | None = None


class Child(Protocol):
    """A job's main process as supervision sees it: one this process started, or a
    process a fork server forked for it (`worker.forkserver`)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int | None:
        """Its exit code (negative: the signal), once it has ended; None if unknown."""
        ...


class Ended(msgspec.Struct, frozen=True, kw_only=True):
    """What is known once the job's main process is done, for its runner to judge."""

    reply: bytes
    stdout: bytes
    output: bytes
    proc: Child
    # the cap on a result the runner reads from a file (0: none)
    max_result_bytes: int = 0

    def output_lines(self) -> str:
        """The last lines of stdout and stderr together, for an error message."""
        text = self.output.decode(errors="replace")
        return "\n".join(text.strip().splitlines()[-ERROR_TAIL_LINES:])

    async def exit_code(self) -> int | None:
        """The exit code; the process has closed its result pipe, so it is exiting.

        Bounded: a child still holding the output pipes delays `wait()` on
        Python 3.11, but the code is known as soon as the process is reaped.
        """
        if self.proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), DRAIN_GRACE_S)
        return self.proc.returncode


Conclude = Callable[[Ended], Awaitable[Outcome]]


class Process(msgspec.Struct, kw_only=True):
    """A started job process: its pipes and how its runner reads its end."""

    proc: Child
    result_fd: int
    conclude: Conclude
    # the job's own pids cgroup, removed (and anything left in it killed) by `reap`
    cgroup: Path | None = None
    # a process `reap` leaves alive in `cgroup`, and the cgroup with it: the fork
    # server a job was forked from (worker.forkserver), whose cgroup its jobs share
    cgroup_keeper: int | None = None
    # the job's logs: its stdout (and stderr, unless apart in `errors`), or the log
    # pipe a warm process (worker/warm.py) or a forked one gets per job
    output: asyncio.StreamReader | None = None
    errors: asyncio.StreamReader | None = None
    # where a runner writes what its process reads at start (`spawn` gives a pipe)
    stdin: asyncio.StreamWriter | None = None
    # the log pipe a runner made, closed by `reap`: a child the script left may hold it open
    log_pipe: asyncio.BaseTransport | None = None


class LogBuffer:
    """A job's output waiting to be stored, capped at `limit` bytes with a note when cut."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._size = 0
        self._truncated = False

    def write(self, data: bytes) -> None:
        if self._truncated:
            return
        room = self._limit - self._size
        if len(data) > room:
            data = data[:room]
            self._truncated = True
        self._size += len(data)
        # PostgreSQL's text cannot hold NUL: it is shown as a replacement character
        text = self._decoder.decode(data, final=self._truncated).replace("\x00", "\ufffd")
        if self._truncated:
            text += f"\n[logs truncated: output past {self._limit} bytes was dropped]\n"
        if text:
            self._pending.append(text)

    def take(self) -> str:
        text = "".join(self._pending)
        self._pending.clear()
        return text


class Tail:
    """The last `size` bytes of a stream, kept whatever the log limit dropped."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data = bytearray()

    def write(self, data: bytes) -> None:
        self._data += data
        if len(self._data) > 2 * self._size:  # trimmed in batches: cheap for chatty jobs
            del self._data[: -self._size]

    def value(self) -> bytes:
        return bytes(self._data[-self._size :])


async def spawn(
    argv: Callable[[int], Sequence[str]],
    *,
    env: dict[str, str],
    cwd: Path,
    conclude: Conclude,
    stdin: int = asyncio.subprocess.PIPE,
    separate_stderr: bool = False,
    run_as: dict[str, Any] | None = None,
    confinement: limits.Confinement | None = None,
    extra_memory_mb: int = 0,
) -> Process:
    """Start a job process in a group of its own (so it can be killed whole).

    Its stdout (and stderr, merged unless `separate_stderr`) become the job's
    logs. `argv` gets the number of the result pipe's write end, which the
    process inherits under that number. `run_as` holds the `subprocess`
    options that drop root (`sandbox.JobUser.spawn_options`); `confinement` sets its
    memory and process limits (see `worker.limits`), applied after root is dropped.
    """
    preexec, cgroup = (confinement or limits.Confinement.none()).prepare(
        extra_memory_mb=extra_memory_mb
    )
    read_fd, write_fd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv(write_fd),
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if separate_stderr else asyncio.subprocess.STDOUT,
            pass_fds=(write_fd,),
            env=env,
            cwd=cwd,
            start_new_session=True,
            **(run_as or {}),
            preexec_fn=preexec,
        )
    except BaseException:
        os.close(read_fd)
        if cgroup is not None:
            limits.kill_and_remove(cgroup)
        raise
    finally:
        os.close(write_fd)
    return Process(
        proc=proc,
        result_fd=read_fd,
        conclude=conclude,
        cgroup=cgroup,
        output=proc.stdout,
        errors=proc.stderr,
        stdin=proc.stdin,
    )


async def _read_result(fd: int, limit: int = 0) -> bytes:
    """All the result pipe carries, never more than `limit` bytes in memory (0: no cap)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        if not limit:
            return await reader.read()
        data = bytearray()
        while chunk := await reader.read(READ_CHUNK):
            data += chunk
            if len(data) > limit:
                raise ResultTooLarge(limit)
        return bytes(data)
    finally:
        transport.close()


async def _pump(
    stream: asyncio.StreamReader, logs: LogBuffer, output_seen: Callable[[], None], *tails: Tail
) -> None:
    while chunk := await stream.read(READ_CHUNK):
        output_seen()
        logs.write(chunk)
        for tail in tails:
            tail.write(chunk)


async def _flush_periodically(logs: LogBuffer, flush: Callable[[str], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(FLUSH_EVERY_S)
        if text := logs.take():
            await flush(text)


def kill_group(proc: Child) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        # a forked job's process may not have made its group yet; while it is not
        # reaped its pid is still its own
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
    except PermissionError:
        pass


def exited_early(code: int | None, output: str) -> models.JobError:
    """The error of a process that ended without handing back a reply."""
    how = f"signal {-code}" if code is not None and code < 0 else f"code {code}"
    message = f"the script's process exited ({how}) before returning"
    return models.JobError(
        name="ProcessExited", message=f"{message}; last output:\n{output}" if output else message
    )


async def outcome_of_reply(reply: bytes | None, ended: Ended) -> Outcome:
    """The outcome a shim's reply describes; without one, the process died first."""
    if not reply:
        code = await ended.exit_code()
        return Outcome(status="failure", error=exited_early(code, ended.output_lines()))
    try:
        decoded = msgspec.json.decode(reply, type=Reply)
    except msgspec.DecodeError as exc:
        return Outcome(
            status="failure",
            error=models.JobError(name="BadReply", message=f"the job's reply is unreadable: {exc}"),
        )
    if decoded.ok:
        return Outcome(status="success", result=decoded.result)
    return Outcome(status="failure", error=decoded.error)


def read_job_file(path: Path, limit: int = 0) -> bytes | None:
    """A regular file the job wrote, or None; never follows a link the job planted.

    The job may have replaced the file with a symlink to the worker's files or
    with a FIFO that would block the worker.

    Raises:
        ResultTooLarge: The file is over `limit` bytes (0: no cap).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if limit and info.st_size > limit:
            raise ResultTooLarge(limit)
        return file.read()


async def supervise(
    process: Process,
    *,
    logs: LogBuffer,
    flush: Callable[[str], Awaitable[None]],
    timeout_s: float,
    canceled: asyncio.Event,
    max_result_bytes: int = 0,
) -> Outcome:
    """Wait for the job's result, its cancel, or its timeout (then its group is killed).

    A result over `max_result_bytes` fails the job (its group is killed too).
    The process may still be exiting when this returns; `reap` it afterwards.
    """
    proc = process.proc
    stream = process.output
    assert stream is not None
    output, stdout = Tail(OUTPUT_TAIL_BYTES), Tail(STDOUT_TAIL_BYTES)
    # logs are stored every FLUSH_EVERY_S from the first output on: a silent job, as most
    # short ones are, costs no flushing task
    flusher: list[asyncio.Future[None]] = []

    def output_seen() -> None:
        if not flusher:
            flusher.append(asyncio.ensure_future(_flush_periodically(logs, flush)))

    pumps = [asyncio.ensure_future(_pump(stream, logs, output_seen, output, stdout))]
    if process.errors is not None:
        pumps.append(asyncio.ensure_future(_pump(process.errors, logs, output_seen, output)))
    result = asyncio.ensure_future(_read_result(process.result_fd, max_result_bytes))
    cancel_wait = asyncio.ensure_future(canceled.wait())
    tasks: list[asyncio.Future[Any]] = [*pumps, result, cancel_wait]
    try:
        done, _ = await asyncio.wait(
            {result, cancel_wait}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if result not in done or result.exception() is not None:
            kill_group(proc)
        # output still in the pipes belongs to the job; a lingering child must not hold us
        if not all(pump.done() for pump in pumps):
            await asyncio.wait(pumps, timeout=DRAIN_GRACE_S)
        if result in done:
            try:
                ended = Ended(
                    reply=result.result(),
                    stdout=stdout.value(),
                    output=output.value(),
                    proc=proc,
                    max_result_bytes=max_result_bytes,
                )
                return await process.conclude(ended)
            except ResultTooLarge as exc:
                kill_group(proc)
                return too_large(exc)
        if cancel_wait in done:
            return Outcome(
                status="canceled",
                error=models.JobError(name="Canceled", message="the job was canceled"),
            )
        return Outcome(
            status="failure",
            error=models.JobError(
                name="TimeoutError", message=f"the job exceeded its timeout of {timeout_s:g} s"
            ),
        )
    finally:
        tasks += flusher
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def reap(process: Process) -> None:
    """Kill what is left of a finished job's process group and collect its exit.

    Called after the job is recorded: a process takes milliseconds to exit, and
    the caller of a sync run need not wait for that.
    """
    kill_group(process.proc)
    await process.proc.wait()
    if process.log_pipe is not None:
        process.log_pipe.close()
    if process.cgroup is not None:
        # no thread for this: job processes are forked from this one, and a fork
        # while another thread holds a lock could deadlock the child before exec
        for _ in range(50):
            if limits.kill_and_remove(process.cgroup, keep=process.cgroup_keeper):
                break
            await asyncio.sleep(0.01)
