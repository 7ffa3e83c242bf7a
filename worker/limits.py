"""Per-job resource limits: memory and processes, applied to the job's process at its start.

Memory is `RLIMIT_DATA` (since Linux 4.7 it counts every private writable
mapping, so `malloc` through `mmap` too), not `RLIMIT_AS`: V8 and Go reserve
gigabytes of address space they never touch, and `RLIMIT_AS` stops Deno from
starting at all. A Python job over the limit gets a `MemoryError`, a Bash
command gets "cannot allocate memory". Deno's engine also reserves ~550 MB of
writable pages at start, so a Deno job gets the limit plus `DENO_RESERVE_MB`
and its JS heap is capped at the limit with V8's `--max-old-space-size`
(V8 then stops with "Reached heap limit").

Processes are limited two ways, whichever this machine allows:

- a **pids cgroup** per job process (cgroup v1 `pids` hierarchy, writable
  when the worker runs as root on a host or a privileged container):
  `pids.max` is exact and per job, binds root too, and lets the worker kill
  every process the job left, even ones that left its process group;
- **`RLIMIT_NPROC`** when the job runs as a user other than the worker's
  (a root worker runs scripts as an unprivileged user): the kernel counts
  that user's processes across all its jobs, and ignores the limit for root.
  It is not set when the job runs as the worker's own user, where it would
  count the user's desktop, server and workers too.

Without either (a non-root worker on a cgroup v2 host), a fork bomb is only
stopped by the job's timeout, which kills its process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

DENO_RESERVE_MB = 1024
PIDS_MOUNT = Path("/sys/fs/cgroup/pids")
CGROUP_DIR = "tidemill-jobs"
_MB = 1024 * 1024


class JobLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What one job's process may use; 0 means unlimited."""

    memory_mb: int = 0
    max_processes: int = 0

    def preexec(
        self, *, extra_memory_mb: int = 0, cgroup: Path | None = None
    ) -> Callable[[], None]:
        """What the child runs between fork and exec: join `cgroup`, set its rlimits.

        Runs after a switch to the job's user (subprocess's `user=`), so
        `os.getuid()` there is the job's. Only system calls, no allocation-heavy
        work: it runs in a forked copy of a threaded process.
        """
        worker_uid = os.getuid()
        memory = (self.memory_mb + extra_memory_mb) * _MB if self.memory_mb else 0
        processes = self.max_processes

        def apply() -> None:
            if cgroup is not None:
                with contextlib.suppress(OSError):
                    (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if memory:
                resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
            uid = os.getuid()
            if processes and uid not in (0, worker_uid):
                resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

        return apply


def _own_pids_cgroup() -> Path | None:
    """This process's directory in the cgroup v1 `pids` hierarchy, if mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return PIDS_MOUNT / path.lstrip("/")
    return None


class Cgroups:
    """Creates and removes one pids cgroup per job process, when the machine allows it."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def find(cls, max_processes: int) -> Cgroups:
        """A usable parent for job cgroups, or one that creates none (then rlimits only)."""
        own = _own_pids_cgroup()
        if not max_processes or own is None or not (own / "cgroup.procs").exists():
            return cls(None)
        root = own / CGROUP_DIR
        try:
            root.mkdir(exist_ok=True)
            probe = root / f"probe-{uuid.uuid4().hex}"
            probe.mkdir()
            probe.rmdir()
        except OSError as exc:
            log.info("no pids cgroup for jobs (%s); process limits use RLIMIT_NPROC only", exc)
            return cls(None)
        found = cls(root)
        found.sweep()
        return found

    def sweep(self) -> None:
        """Remove the empty cgroups a killed worker left; live jobs' ones are busy and stay."""
        if self.root is None:
            return
        for child in self.root.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()

    def create(self, max_processes: int) -> Path | None:
        """A new cgroup allowing `max_processes` tasks, joinable by the job's user."""
        if self.root is None:
            return None
        path = self.root / f"job-{uuid.uuid4().hex}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_processes))
            # the job joins it itself, after dropping to its own user; joining a
            # cgroup can only tighten a process's limits
            os.chmod(path / "cgroup.procs", 0o666)  # noqa: S103
        except OSError as exc:
            log.warning("cannot create a job cgroup (%s)", exc)
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return path


def kill_and_remove(cgroup: Path, *, keep: int | None = None) -> bool:
    """Kill whatever still runs in a job's cgroup and try to remove it; True once gone.

    A process that left the job's process group (`setsid`) is still in its
    cgroup, so it dies here too. Killed processes take a moment to leave the
    cgroup: callers try again a few times, and an empty cgroup left behind is
    swept at the next worker start. With `keep` (a fork server's pid), that
    process is spared and the cgroup stays: True once nothing else is left.
    """
    try:
        pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return True
    for pid in pids:
        if pid != keep:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if keep is not None:
        return not [pid for pid in pids if pid != keep]
    try:
        cgroup.rmdir()
    except OSError:
        return False
    return True


class Confinement:
    """A worker's job limits and where it puts job cgroups: what `execution.spawn` applies."""

    def __init__(self, limits: JobLimits, cgroups: Cgroups) -> None:
        self.limits = limits
        self.cgroups = cgroups

    @classmethod
    def none(cls) -> Confinement:
        return cls(JobLimits(), Cgroups(None))

    def prepare(self, *, extra_memory_mb: int = 0) -> tuple[Callable[[], None], Path | None]:
        """The child's pre-exec hook and the cgroup it joins (None: rlimits only)."""
        cgroup = None
        if self.limits.max_processes:
            cgroup = self.cgroups.create(self.limits.max_processes)
        return self.limits.preexec(extra_memory_mb=extra_memory_mb, cgroup=cgroup), cgroup

    def prepare_server(self) -> tuple[Callable[[], None], Path | None]:
        """The same for a fork server (`worker.forkserver`), whose cgroup its jobs share.

        Joining a cgroup costs a job ~15 ms of waiting in the kernel (an RCU grace
        period) unless another join happened just before; a forked job is born in
        its server's instead. Its jobs run one at a time and what each leaves is
        killed before the next (`kill_and_remove` with `keep`), so the cgroup's
        limit is the job's, plus one for the server.
        """
        cgroup = None
        if self.limits.max_processes:
            cgroup = self.cgroups.create(self.limits.max_processes + 1)
        return self.limits.preexec(cgroup=cgroup), cgroup
