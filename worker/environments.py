"""The interpreters scripts run in, kept apart from Tidemill's own environment.

A script must not import Tidemill's dependencies by accident, so even a script
with no dependencies runs in an empty virtual environment of its own, made
once per worker machine with uv and shared by every job. A script with
dependencies runs in the environment of its lock, `envs/<lock hash>`, built
once and shared by every script and worker with the same lock: a warm run
only checks that the interpreter exists, with no uv call at all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from uv import find_uv_bin

from server import requirements

# installing is bounded like resolving: a hung index fails the job, not the worker
BUILD_TIMEOUT_S = 600.0


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


def is_built(envs_dir: Path, lock: str) -> bool:
    """Whether `lock`'s environment is already there (a dependency cache hit)."""
    return (envs_dir / requirements.lock_hash(lock) / "bin" / "python").exists()


async def locked_python(envs_dir: Path, lock: str, *, timeout_s: float = BUILD_TIMEOUT_S) -> Path:
    """The interpreter of `lock`'s environment, building it on first use.

    The environment is built under a temporary name (`uv venv` then `uv pip
    sync`, bytecode compiled so imports need not compile on every run) and
    renamed into place: a concurrent builder of the same lock loses the
    rename, drops its copy and uses the winner's. A failed build leaves nothing.

    Raises:
        requirements.UvFailed: uv could not build it (its message) or took too long.
    """
    env = envs_dir / requirements.lock_hash(lock)
    python = env / "bin" / "python"
    if python.exists():
        return python
    first = lock.split("\n", 1)[0]
    interpreter = first.removeprefix(requirements.PYTHON_HEADER)
    envs_dir.mkdir(parents=True, exist_ok=True)
    building = envs_dir / f".{env.name}-{uuid.uuid4().hex}"
    try:
        await requirements.run_uv(
            ["venv", "--quiet", "--relocatable", "--python", interpreter, str(building)],
            timeout_s=timeout_s,
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
        )
        building.rename(env)
    except OSError:
        if not python.exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return python
