"""What every language runner is given and what it hands back.

The lease loop knows one shape for all languages: it gives a runner a `Job`
and gets back an `execution.Process`, which `execution.supervise` watches the
same way whatever started it. How a language turns the job into a process
(a pre-started interpreter, a Deno sandbox, a shell) stays inside its runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import msgspec

from worker import execution

# what a script's process sees besides its job's variables: nothing of the worker's
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A leased job as a runner needs it."""

    script_path: str
    script_hash: str
    # warm processes are kept per workspace: no module state crosses tenants
    workspace: str = ""
    content: str
    args: dict[str, Any]
    env: dict[str, str]
    workdir: Path
    # the version's lock (Python: its environment; Deno: deno.lock) or why it failed
    lock: str | None = None
    lock_error: str | None = None

    @property
    def name(self) -> str:
        """The script's file name without extension: the last part of its path."""
        return self.script_path.rsplit("/", 1)[-1]

    def base_env(self) -> dict[str, str]:
        """The environment every language starts from: a clean PATH, HOME in the job's dir."""
        return BASE_ENV | {"HOME": str(self.workdir)} | self.env


class CannotStart(Exception):
    """The job's process could not be started: the job fails, the worker carries on."""


class Runner(Protocol):
    """Starts one language's jobs; the process is then supervised by `execution`."""

    async def start(self, job: Job) -> execution.Process:
        """Start `job` in its own process group, with its working files in `job.workdir`.

        Raises:
            CannotStart: The runtime is missing or the script cannot be prepared.
        """
        ...
