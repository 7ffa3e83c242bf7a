"""TypeScript jobs on Deno, sandboxed by Deno's permissions.

`deno_shim.ts` imports the script and calls `main` with the arguments in
positional order (read from the script by `server.introspection`, the same
reader that made the schema), turning "date-time" strings into `Date`s.

The sandbox: network and remote imports are allowed; reads only of the job's
directory and the script; writes only in the job's directory; environment
variables only the job's own `WM_*` / `TIDEMILL_*`; no subprocesses, FFI or
system information. Nothing of the worker is readable: not its files, not
Deno's cache (Deno reads that itself, unchecked).

All workers of a machine share one `DENO_DIR` (npm packages, remote
modules, compiled code). Deno caches compiled code by the module's path, so
a script is stored once per version as `scripts/<hash>.ts` rather than in the
job's directory: a version's second run reuses its compiled code, and the
cache grows per version, not per job.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec
from deno import find_deno_bin

from server import errors, introspection
from worker import execution, limits, runner

SHIM = Path(__file__).with_name("deno_shim.ts")
REPLY_FILE = ".tidemill-reply.json"

# where Dates sit in a value: itself, an array's items ({"items": shape}), or
# some of an object's fields ({"properties": {name: shape}})
DateShape: TypeAlias = Literal["date"] | dict[str, "DateShape"]


class ShimSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the shim reads from stdin."""

    script: str
    display: str
    reply: str
    order: tuple[str, ...]
    args: dict[str, Any]
    dates: dict[str, DateShape]


def deno_binary() -> str:
    """The binary the `deno` package (Deno from PyPI) installs."""
    return str(find_deno_bin())


def date_shape(schema: dict[str, Any]) -> DateShape | None:
    """Where `Date`s sit in a value of this schema; None if nowhere.

    Nullable wrappers are looked through; recursive (`$ref`) types are not followed.
    """
    if schema.get("format") == "date-time":
        return "date"
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        return date_shape(options[0])
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        inner = date_shape(items)
        return None if inner is None else {"items": inner}
    properties = schema.get("properties")
    if isinstance(properties, dict):
        found = {name: shape for name, value in properties.items() if (shape := date_shape(value))}
        return {"properties": found} if found else None
    return None


class DenoRunner:
    """Starts TypeScript jobs, one `deno run` per job (Deno starts in ~20 ms)."""

    def __init__(self, home: Path, confinement: limits.Confinement | None = None) -> None:
        self._confinement = confinement
        self._deno_dir = home / "deno" / "cache"
        self._scripts = home / "deno" / "scripts"

    @functools.cached_property
    def _deno(self) -> str:
        """Found on first use, so that a worker starts (and runs other languages) without it."""
        return deno_binary()

    def _script_file(self, job: runner.Job) -> Path:
        """The script stored under its hash, written once (atomically) per version."""
        path = self._scripts / f"{job.script_hash}.ts"
        if not path.exists():
            self._scripts.mkdir(parents=True, exist_ok=True)
            partial = self._scripts / f".{job.script_hash}.{uuid.uuid4().hex}"
            partial.write_text(job.content)
            os.replace(partial, path)
        return path

    async def start(self, job: runner.Job) -> execution.Process:
        try:
            signature = introspection.infer_signature("deno", job.content)
        except errors.InvalidScript as exc:
            raise runner.CannotStart(f"cannot read main's parameters: {exc}") from exc
        properties = signature.schema.get("properties", {})
        script = self._script_file(job)
        spec = ShimSpec(
            script=script.as_uri(),
            display=f"{job.script_path}.ts",
            reply=str(job.workdir / REPLY_FILE),
            order=signature.arg_order,
            args=job.args,
            dates={name: shape for name, prop in properties.items() if (shape := date_shape(prop))},
        )
        memory_mb = self._confinement.limits.memory_mb if self._confinement else 0
        heap = [f"--v8-flags=--max-old-space-size={memory_mb}"] if memory_mb else []
        argv = [
            self._deno,
            "run",
            *heap,
            "--no-prompt",
            "--no-check",
            "--no-config",
            "--allow-net",
            "--allow-import",
            f"--allow-read={job.workdir},{script}",
            f"--allow-write={job.workdir}",
            f"--allow-env={','.join(sorted(job.env))}",
            str(SHIM),
        ]
        env = job.base_env() | {
            "TMPDIR": str(job.workdir),  # Deno.makeTempFile stays inside the sandbox
            "DENO_DIR": str(self._deno_dir),
            "DENO_NO_UPDATE_CHECK": "1",
            "DENO_NO_PACKAGE_JSON": "1",
            "NO_COLOR": "1",
        }
        process = await execution.spawn(
            lambda _result_fd: argv,
            env=env,
            cwd=job.workdir,
            conclude=functools.partial(_conclude, job),
            confinement=self._confinement,
            extra_memory_mb=limits.DENO_RESERVE_MB,
        )
        stdin = process.proc.stdin
        assert stdin is not None
        # if Deno died at once, its output and exit code will say why
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(msgspec.json.encode(spec))
            await stdin.drain()
            stdin.close()
        return process


async def _conclude(job: runner.Job, ended: execution.Ended) -> execution.Outcome:
    """The reply the shim left in the job's directory (Deno holds the pipe, never writes it)."""
    return await execution.outcome_of_reply(
        execution.read_job_file(job.workdir / REPLY_FILE, ended.max_result_bytes), ended
    )
