"""The interpreters scripts run in, kept apart from Tidemill's own environment.

A script must not import Tidemill's dependencies by accident, so even a script
with no dependencies runs in an empty virtual environment of its own, made
once per worker machine with uv and shared by every job. A script with
dependencies runs in the environment of its lock, `envs/<lock hash>`, built
once and shared by every script and worker with the same lock: a warm run
only checks that the interpreter exists, with no uv call at all.

Environments are evicted least-recently-used once together they pass a size
limit (`TIDEMILL_ENV_CACHE_MAX_MB`). Each keeps its size (measured once, when
built) in `.size` and its last use in the modification time of `.last-used`,
touched at most once a minute, so a warm run pays one `stat`. A process using
an environment holds a shared `flock` on its `.in-use` file; the evictor takes
it exclusively without waiting and skips the environment when it cannot, then
renames it away before deleting it, so a run never sees half an environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgspec
from uv import find_uv_bin

from server import requirements

# installing is bounded like resolving: a hung index fails the job, not the worker
BUILD_TIMEOUT_S = 600.0
SIZE_FILE = ".size"
# the standard-library modules the environment's packages import, for its fork server to preload
PRELOAD_FILE = ".preload"
LAST_USED_FILE = ".last-used"
IN_USE_FILE = ".in-use"
# how stale `.last-used` may get: LRU needs minutes, not every run's timestamp
TOUCH_EVERY_S = 60.0


def base_python(envs_dir: Path) -> Path:
    """The interpreter of the shared empty environment, creating it on first use.

    It is built under a temporary name and renamed into place, so workers that
    start together end with one good copy.
    """
    env = envs_dir / "base"
    python = env / "bin" / "python"
    if python.exists():
        return python
    envs_dir.mkdir(parents=True, exist_ok=True)
    building = envs_dir / f".base-{uuid.uuid4().hex}"
    subprocess.run(
        [find_uv_bin(), "venv", "--quiet", "--python", sys.executable, str(building)],
        check=True,
        capture_output=True,
    )
    try:
        building.rename(env)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return python


class CacheCounts:
    """A worker's dependency cache hits and misses not yet exported to /metrics.

    Kept in memory as jobs start (a hit costs no database write) and exported by the
    worker with its heartbeat; a miss is a job that had to wait for a build.
    """

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    def exported(self, *, hits: int, misses: int) -> None:
        """Forget what was exported, keeping what was counted while the export ran."""
        self.hits -= hits
        self.misses -= misses


async def locked_python(
    envs_dir: Path,
    lock: str,
    *,
    timeout_s: float = BUILD_TIMEOUT_S,
    uv_env: dict[str, str] | None = None,
    max_bytes: int | None = None,
) -> Path:
    """The interpreter of `lock`'s environment, building it on first use.

    The environment is built under a temporary name (`uv venv` then `uv pip
    sync`, bytecode compiled so imports need not compile on every run) and
    renamed into place: a concurrent builder of the same lock loses the
    rename, drops its copy and uses the winner's. A failed build leaves nothing.
    After a build, environments past `max_bytes` in all are evicted, oldest use first.

    Raises:
        requirements.UvFailed: uv could not build it (its message) or took too long.
    """
    env = envs_dir / requirements.lock_hash(lock)
    python = env / "bin" / "python"
    if python.exists():
        return python
    interpreter = requirements.lock_interpreter(lock)
    envs_dir.mkdir(parents=True, exist_ok=True)
    building = envs_dir / f".{env.name}-{uuid.uuid4().hex}"
    try:
        await requirements.run_uv(
            [
                "venv",
                "--quiet",
                "--relocatable",
                "--no-python-downloads",
                "--python",
                interpreter,
                str(building),
            ],
            timeout_s=timeout_s,
            env=uv_env,
        )
        lock_file = building / "requirements.lock"
        lock_file.write_text(lock)
        await requirements.run_uv(
            [
                "pip",
                "sync",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(building / "bin" / "python"),
                str(lock_file),
            ],
            timeout_s=timeout_s,
            env=uv_env,
        )
        (building / IN_USE_FILE).touch()
        (building / LAST_USED_FILE).touch()
        (building / SIZE_FILE).write_text(str(tree_size(building)))
        building.rename(env)
    except OSError:
        if not python.exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    if max_bytes is not None:
        evict(envs_dir, max_bytes, keep=env.name)
    return python


# run in a new environment: import every top-level module installed, list the stdlib it pulled
_PROBE = """
import importlib, os, sys
before = set(sys.modules)
for root in [p for p in sys.path if p.endswith("site-packages")]:
    for entry in sorted(os.listdir(root)):
        name = entry[:-3] if entry.endswith(".py") else entry
        if entry.startswith(("_", ".")) or not name.isidentifier():
            continue
        if entry.endswith(".py") or os.path.isfile(os.path.join(root, entry, "__init__.py")):
            try:
                importlib.import_module(name)
            except BaseException:
                pass
new = set(sys.modules) - before
print(",".join(sorted(m for m in new if m.split(".")[0] in sys.stdlib_module_names)))
"""


async def write_preload(env: Path, *, timeout_s: float = 120.0) -> None:
    """Record (once) the stdlib modules importing the environment's packages loads.

    The environment's fork server (`worker.forkserver`) imports them once, so a job
    pays only for its packages' own code: `import six` alone pulls in `functools`,
    `collections`, `importlib.util`, ... (several ms). Found by importing every
    top-level module installed, in a throwaway process, after the environment's
    first job (off that job's path); nothing is recorded if that fails or hangs.
    """
    target = env / PRELOAD_FILE
    with contextlib.suppress(OSError, TimeoutError):  # best effort: servers start without it
        if not target.exists():
            await _probe_into(env, target, timeout_s)


async def _probe_into(env: Path, target: Path, timeout_s: float) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(env / "bin" / "python"),
        "-c",
        _PROBE,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=env,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(env)},
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:  # timed out, or the worker is stopping
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    lines = out.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        return
    partial = env / f".preload-{uuid.uuid4().hex}"
    partial.write_text(lines[-1])
    os.replace(partial, target)


def preload_of(python: Path) -> str:
    """What the fork server of this interpreter's environment preloads ("" for none)."""
    try:
        return (python.parent.parent / PRELOAD_FILE).read_text().strip()
    except OSError:
        return ""


def tree_size(root: Path) -> int:
    """Bytes on disk under `root` (hard links to uv's cache counted once per tree)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(folder, name))
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    return total


def mark_used(env: Path, *, now: float | None = None) -> None:
    """Record a use of `env` for LRU, writing at most once a minute (one `stat` otherwise)."""
    marker = env / LAST_USED_FILE
    now = time.time() if now is None else now
    try:
        if now - marker.stat().st_mtime < TOUCH_EVERY_S:
            return
        os.utime(marker, (now, now))
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            marker.touch()


class InUse:
    """A shared hold on an environment: the evictor leaves it alone while it is held."""

    def __init__(self, env: Path) -> None:
        self.env = env
        self._fd: int | None = None
        with contextlib.suppress(OSError):
            fd = os.open(env / IN_USE_FILE, os.O_RDONLY | os.O_CLOEXEC)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Cached(msgspec.Struct, frozen=True, kw_only=True):
    """An environment as the evictor sees it."""

    path: Path
    size: int
    last_used: float


def cached(envs_dir: Path) -> list[Cached]:
    """Every dependency environment (not `base`, not ones being built), oldest use first."""
    found: list[Cached] = []
    for env in envs_dir.iterdir() if envs_dir.exists() else ():
        if env.name == "base" or env.name.startswith("."):
            continue
        try:
            size = int((env / SIZE_FILE).read_text())
            last_used = (env / LAST_USED_FILE).stat().st_mtime
        except (OSError, ValueError):
            continue
        found.append(Cached(path=env, size=size, last_used=last_used))
    return sorted(found, key=lambda c: c.last_used)


def evict(envs_dir: Path, max_bytes: int, *, keep: str = "") -> list[Path]:
    """Delete least-recently-used environments until all fit in `max_bytes`.

    An environment someone holds (`InUse`) is skipped, as is `keep`; each evicted one
    is renamed away under its exclusive lock, then deleted. Returns what was evicted.
    """
    envs = cached(envs_dir)
    total = sum(c.size for c in envs)
    evicted: list[Path] = []
    for env in envs:
        if total <= max_bytes:
            break
        if env.path.name == keep:
            continue
        try:
            fd = os.open(env.path / IN_USE_FILE, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            doomed = envs_dir / f".evicted-{env.path.name}-{uuid.uuid4().hex}"
            env.path.rename(doomed)
        except OSError:
            continue
        finally:
            os.close(fd)
        shutil.rmtree(doomed, ignore_errors=True)
        total -= env.size
        evicted.append(env.path)
    return evicted
