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

Dependencies: `npm:`, `jsr:` and `https:` imports, and bare package names
(mapped to `npm:` by an import map, `scripts/<hash>.imports.json`). A
`dependencies` job locks them with `deno install --entrypoint` into Deno's own
lock format, stored with the version. The first run of a version on a machine
fetches what its lock names into the shared cache (`--frozen`: the lock cannot
drift); every run after that is `--cached-only --frozen`, so it downloads
nothing and a lock that does not match fails instead of resolving again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec
from deno import find_deno_bin

from server import errors, introspection, requirements
from worker import execution, limits, runner, sandbox

SHIM = Path(__file__).with_name("deno_shim.ts")
REPLY_FILE = ".tidemill-reply.json"
# fetching is bounded like Python's resolving: a hung registry fails the job, not the worker
FETCH_TIMEOUT_S = requirements.LOCK_TIMEOUT_S
# where Deno fetches packages from (npm's and JSR's registries, jsr.io by default): runs
# need it too, since Deno's cache is keyed by the registry's URL
REGISTRIES = ("NPM_CONFIG_REGISTRY", "JSR_URL")
# what Deno keeps of the worker's environment when it fetches: registries, proxy, CA settings
PASSED_THROUGH = (
    *REGISTRIES,
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
)

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

    def __init__(
        self,
        home: Path,
        user: sandbox.JobUser | None = None,
        confinement: limits.Confinement | None = None,
    ) -> None:
        self._confinement = confinement
        self._deno_dir = home / "deno" / "cache"
        self._scripts = home / "deno" / "scripts"
        self._user = user

    @functools.cached_property
    def _deno(self) -> str:
        """Found on first use, so that a worker starts (and runs other languages) without it.

        Under a job user, also where the job user can reach it, its shim, and its cache.
        """
        binary = deno_binary()
        if self._user is not None:
            sandbox.expose(Path(binary))
            sandbox.expose(SHIM)
            self._scripts.mkdir(parents=True, exist_ok=True)
            sandbox.expose(self._scripts)  # Deno reads the stored scripts as the job user
            sandbox.share_with_jobs(self._deno_dir, self._user)
        return binary

    def _deno_env(self) -> dict[str, str]:
        """The variables every Deno process of the worker gets: the shared cache, quiet output,
        the registries (read by Deno itself: a script's `--allow-env` does not cover them)."""
        registries = {k: v for k in REGISTRIES if (v := os.environ.get(k))}
        return registries | {
            "DENO_DIR": str(self._deno_dir),
            "DENO_NO_UPDATE_CHECK": "1",
            "DENO_NO_PACKAGE_JSON": "1",
            "NO_COLOR": "1",
            "RUST_BACKTRACE": "0",
        }

    def _write_once(self, name: str, text: str) -> Path:
        """A per-version file under `scripts/`, written atomically the first time."""
        path = self._scripts / name
        if not path.exists():
            self._scripts.mkdir(parents=True, exist_ok=True)
            partial = self._scripts / f".{name}.{uuid.uuid4().hex}"
            partial.write_text(text)
            os.replace(partial, path)
        return path

    def _script_file(self, job: runner.Job) -> Path:
        """The script stored under its hash, written once (atomically) per version."""
        return self._write_once(f"{job.script_hash}.ts", job.content)

    def _dependency_flags(self, job: runner.Job) -> list[str]:
        """`--import-map` for bare imports and `--lock` for a locked version, as files."""
        flags: list[str] = []
        map_file = self._scripts / f"{job.script_hash}.imports.json"
        if not map_file.exists():
            import_map = requirements.of_typescript(job.content).import_map
            if import_map:
                self._write_once(map_file.name, _import_map_text(import_map))
        if map_file.exists():
            flags.append(f"--import-map={map_file}")
        if job.lock is not None:
            lock_file = self._write_once(f"{job.script_hash}.lock.json", job.lock)
            flags.append(f"--lock={lock_file}")
        return flags

    async def _fetch(self, argv: list[str], cwd: Path) -> str | None:
        """Run a `deno install`, bounded; None when it worked, else Deno's message."""
        environ = {k: v for k in PASSED_THROUGH if (v := os.environ.get(k))}
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=runner.BASE_ENV | {"HOME": str(cwd)} | environ | self._deno_env(),
            cwd=cwd,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), FETCH_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return f"deno install took longer than {FETCH_TIMEOUT_S:g} s"
        return None if proc.returncode == 0 else deno_message(err.decode(errors="replace"))

    async def lock(self, content: str) -> requirements.Lock:
        """Resolve a script's imports with Deno into Deno's lock (the version's lock text).

        Fetching them fills the shared cache as well, so this machine's first run is warm.
        """
        imports = requirements.of_typescript(content)
        self._deno_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tidemill-deno-lock-") as folder:
            where = Path(folder)
            script = where / "script.ts"
            script.write_text(content)
            argv = [self._deno, "install", "--entrypoint", "--no-config", "--lock=deno.lock"]
            if imports.import_map:
                (where / "imports.json").write_text(_import_map_text(imports.import_map))
                argv.append("--import-map=imports.json")
            error = await self._fetch([*argv, str(script)], where)
            if error is not None:
                return requirements.Lock(error=error)
            lock_file = where / "deno.lock"
            return requirements.Lock(text=lock_file.read_text() if lock_file.exists() else "{}")

    async def _ensure_cached(self, job: runner.Job, script: Path, flags: list[str]) -> None:
        """Fetch a locked version's dependencies into the cache once per machine.

        Raises:
            runner.CannotStart: Deno could not fetch them (its message).
        """
        marker = self._scripts / f"{job.script_hash}.cached"
        if job.lock is None or marker.exists():
            return
        argv = [self._deno, "install", "--entrypoint", "--no-config", "--frozen", *flags]
        error = await self._fetch([*argv, str(script)], job.workdir)
        if error is not None:
            raise runner.CannotStart(f"the script's dependencies could not be fetched:\n{error}")
        marker.touch()

    async def start(self, job: runner.Job) -> execution.Process:
        try:
            signature = introspection.infer_signature("deno", job.content)
        except errors.InvalidScript as exc:
            raise runner.CannotStart(f"cannot read main's parameters: {exc}") from exc
        if job.lock_error is not None:
            raise runner.CannotStart(
                f"the script's dependencies could not be resolved:\n{job.lock_error}"
            )
        properties = signature.schema.get("properties", {})
        script = self._script_file(job)
        flags = self._dependency_flags(job)
        await self._ensure_cached(job, script, flags)
        if job.lock is not None:
            flags += ["--frozen", "--cached-only"]
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
            *flags,
            str(SHIM),
        ]
        env = job.base_env() | self._deno_env()
        env["TMPDIR"] = str(job.workdir)  # Deno.makeTempFile stays inside the sandbox
        process = await execution.spawn(
            lambda _result_fd: argv,
            env=env,
            cwd=job.workdir,
            conclude=functools.partial(_conclude, job),
            run_as=None if self._user is None else self._user.spawn_options(shared=True),
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


def _import_map_text(import_map: dict[str, str]) -> str:
    return msgspec.json.encode({"imports": import_map}).decode()


def deno_message(stderr: str) -> str:
    """Deno's error, from its first `error:` line, without download progress."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("Download ")]
    for i, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[i:]).strip()
    return "\n".join(lines).strip()
