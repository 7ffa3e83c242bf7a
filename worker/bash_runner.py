"""Bash jobs: `bash script.sh arg1 arg2 ...`, the result read from what it leaves behind.

Arguments are positional, in the order the script names them (`name="$1"`,
read by `server.introspection`), each as a string: a JSON value that is not
a string is passed as its JSON text; null or a missing one as "", the
shell's "no value", so later positions stay in place. The result is
`./result.json` if the script wrote one, else the last non-empty line of
stdout, as JSON when it parses, else as a string. A non-zero exit fails the
job with the last lines of the output.

The script runs under a small outer bash that keeps the result pipe for
itself: it reports the script's exit status there once the script ends, so
the job is over when the script is, even if something it started in the
background still holds the output.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import msgspec

from server import errors, introspection, models
from worker import execution, limits, runner, sandbox

# $1 is the result pipe's fd, the rest is `script.sh args...`; the script does not get the fd
_WRAPPER = 'fd=$1; shift; bash -- "$@" {fd}>&-; printf %s "$?" >&"$fd"'
RESULT_FILE = "result.json"


def as_argument(value: Any) -> str:
    """A JSON value as one shell argument: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return msgspec.json.encode(value).decode()


def positional(content: str, args: dict[str, Any]) -> list[str]:
    """The arguments in the order the script reads them as `$1`, `$2`, ..."""
    try:
        order = introspection.infer_signature("bash", content).arg_order
    except errors.InvalidScript as exc:
        raise runner.CannotStart(f"cannot read the script's parameters: {exc}") from exc
    return [as_argument(args.get(name)) for name in order]


def last_line(stdout: bytes) -> Any:
    """The last non-empty line of stdout: its JSON value, or the text itself."""
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if text := line.strip():
            try:
                return msgspec.json.decode(text)
            except msgspec.DecodeError:
                return text
    return None


class BashRunner:
    """Starts Bash jobs; nothing to pre-start, bash itself starts in a millisecond."""

    def __init__(
        self,
        user: sandbox.JobUser | None = None,
        confinement: limits.Confinement | None = None,
    ) -> None:
        self._user = user
        self._confinement = confinement

    async def start(self, job: runner.Job) -> execution.Process:
        script = job.workdir / f"{job.name}.sh"
        script.write_text(job.content)
        argv = positional(job.content, job.args)
        return await execution.spawn(
            lambda result_fd: ["bash", "-c", _WRAPPER, "bash", str(result_fd), str(script), *argv],
            env=job.base_env(),
            cwd=job.workdir,
            conclude=functools.partial(_conclude, job),
            stdin=asyncio.subprocess.DEVNULL,
            separate_stderr=True,
            run_as=None if self._user is None else self._user.spawn_options(),
            confinement=self._confinement,
        )


async def _conclude(job: runner.Job, ended: execution.Ended) -> execution.Outcome:
    """The job's outcome from the script's exit status, its result file and its stdout."""
    status = ended.reply.decode(errors="replace")
    if not status.isdigit():  # the outer shell died too: the process group was killed
        code = await ended.exit_code()
        return execution.Outcome(
            status="failure", error=execution.exited_early(code, ended.output_lines())
        )
    if status != "0":
        output = ended.output_lines()
        message = f"the script exited with code {status}"
        return execution.Outcome(
            status="failure",
            error=models.JobError(
                name="ExitCode", message=f"{message}; last output:\n{output}" if output else message
            ),
        )
    written = execution.read_job_file(job.workdir / RESULT_FILE, ended.max_result_bytes)
    if written is None:
        return execution.Outcome(status="success", result=last_line(ended.stdout))
    try:
        return execution.Outcome(status="success", result=msgspec.json.decode(written))
    except msgspec.DecodeError as exc:
        return execution.Outcome(
            status="failure",
            error=models.JobError(
                name="ResultNotJSON", message=f"{RESULT_FILE} is not JSON: {exc}"
            ),
        )
