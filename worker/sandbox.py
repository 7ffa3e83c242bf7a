"""Who a job's processes run as: never root, and never the same user as another worker's job.

A worker running as root (as in containers and CI) runs every job process as
an unprivileged user of its own: uid `UID_BASE + 64 * <worker pid> + n`, group
`tidemill-run`, no supplementary groups, umask 077. The uid has no passwd
entry and needs none; being unique per worker (pids are unique among live
processes, n counts workers within one), two jobs running at once never share a uid, so one cannot
read the other's directory (each job's directory is 0700, owned by its uid),
nor the worker's own files: the key file and the admin token are 0600 root,
and `/proc/<worker>/environ` is readable by root only. Jobs of one worker run
one after another, and the worker kills a job's process group before the next.

The job user must reach what it runs: the jobs directory, the interpreters
and the shims. Folders above them get the execute bit for others where they
lack it (traverse, not list), as the embedded PostgreSQL's do: the least that
lets that user reach them. Deno's shared cache is group-writable (setgid
`tidemill-run`), since Deno itself writes it while it runs a job.

A worker that is not root runs jobs as itself: it has no other user to give.
"""

from __future__ import annotations

import grp
import itertools
import logging
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)

GROUP = "tidemill-run"
NOGROUP_GID = 65534
# far above the uids of real and system users; pids stay below 2**22 (pid_max)
UID_BASE = 1_800_000_000  # + 64 * 2**22 stays below 2**31
# workers sharing one process (tests, embedding) still get a uid each: pid * 64 + n
WORKERS_PER_PROCESS = 64
_instances = itertools.count()  # the only state here: which n the next worker takes
JOB_UMASK = 0o077
SHARED_UMASK = 0o007  # files Deno writes into its shared cache stay usable by other jobs


class JobUser(msgspec.Struct, frozen=True, kw_only=True):
    """The uid and gid a worker's job processes run as."""

    uid: int
    gid: int

    def spawn_options(self, *, shared: bool = False) -> dict[str, Any]:
        """`subprocess` options that drop root before the job's program starts."""
        return {
            "user": self.uid,
            "group": self.gid,
            "extra_groups": [],
            "umask": SHARED_UMASK if shared else JOB_UMASK,
        }


def _ensure_group() -> int:
    """The gid of `tidemill-run`, created if missing (`nogroup` if it cannot be)."""
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        pass
    try:
        subprocess.run(["groupadd", "--system", GROUP], check=True, capture_output=True)
        return grp.getgrnam(GROUP).gr_gid
    except (OSError, subprocess.CalledProcessError, KeyError) as exc:
        log.warning("cannot create group %s (%s); jobs run with gid %d", GROUP, exc, NOGROUP_GID)
        return NOGROUP_GID


def job_user() -> JobUser | None:
    """This worker's job user when it runs as root; None (run jobs as itself) otherwise."""
    if os.geteuid() != 0:
        return None
    n = next(_instances) % WORKERS_PER_PROCESS
    return JobUser(uid=UID_BASE + os.getpid() * WORKERS_PER_PROCESS + n, gid=_ensure_group())


def allow_traverse(path: Path) -> None:
    """Give others the execute bit (only) on each folder above `path`, where it lacks it."""
    for folder in path.parents:
        try:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)
        except FileNotFoundError:  # a missing program fails when it is run, naming itself
            continue


def expose(path: Path) -> None:
    """Let the job user reach `path` (a program or a file it reads), through any symlinks."""
    allow_traverse(path.absolute())
    real = path.resolve()
    allow_traverse(real)


def prepare_jobs_dir(jobs_dir: Path) -> None:
    """The jobs directory: traversable by job users, not listable (job ids are not secrets,
    but there is no need to show them)."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    jobs_dir.chmod(0o711)
    allow_traverse(jobs_dir)


def job_dir(path: Path, user: JobUser | None) -> None:
    """A job's private working directory, owned by the job user, mode 0700."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(path, user.uid, user.gid)
        path.chmod(0o700)


def share_with_jobs(folder: Path, user: JobUser) -> None:
    """A cache every job user writes: group `tidemill-run`, group-writable, setgid.

    Existing entries (made before, perhaps by root) are handed to the group too.
    """
    folder.mkdir(parents=True, exist_ok=True)
    allow_traverse(folder)
    for root, _dirs, files in os.walk(folder):
        here = Path(root)
        os.chown(here, -1, user.gid)
        here.chmod(stat.S_IMODE(here.stat().st_mode) | 0o2770)
        for name in files:
            file = here / name
            if file.is_symlink():
                continue
            os.chown(file, -1, user.gid)
            file.chmod(stat.S_IMODE(file.stat().st_mode) | 0o060)
