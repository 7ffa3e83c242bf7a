"""Resolving a version's dependencies on a worker: the `dependencies` job, and uv's settings.

A save only marks a version's lock `pending` and queues a job of kind
`dependencies` (a preview does the same, unless its requirements already have
a lock); the worker that leases it resolves the lock (Python with
`uv pip compile`, TypeScript with `deno install`) and stores it, or the
resolver's own message, on the version or the waiting previews. Their runs
wait for it.

uv reads its index settings (`UV_INDEX_URL`, `UV_EXTRA_INDEX_URL`, `UV_INDEX`,
...) from the worker's environment. A private index's credentials come from a
Tidemill secret variable named by `TIDEMILL_UV_INDEX_CREDENTIALS_VARIABLE`
(value `user:password`, read in the job's workspace), handed to uv as a netrc
file (mode 0600, deleted afterwards) for the hosts of the configured indexes:
never on a command line, in a URL uv could echo, or in a log.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from server import db, errors, models, requirements, secrets, settings, variables

# the environment variables that name indexes, whose hosts get the credentials
INDEX_VARIABLES = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX")


def index_hosts(environ: dict[str, str]) -> list[str]:
    """The hosts of every index uv is configured with (`name=url` entries included)."""
    hosts: list[str] = []
    for name in INDEX_VARIABLES:
        for entry in environ.get(name, "").split():
            url = entry.split("=", 1)[1] if "=" in entry.split("://", 1)[0] else entry
            host = urlsplit(url).hostname
            if host and host not in hosts:
                hosts.append(host)
    return hosts


class UvSettings:
    """uv's environment for one workspace: this process's, plus a private index's login."""

    def __init__(self, config: settings.Settings, pool: db.Pool) -> None:
        self._variable = config.uv_index_credentials_variable
        self._pool = pool
        self._config = config

    @contextlib.asynccontextmanager
    async def environ(self, workspace: str) -> AsyncIterator[dict[str, str]]:
        """uv's environment while it runs; the credentials file is gone when this exits.

        Raises:
            requirements.UvFailed: The credentials variable is missing, not secret or unreadable.
        """
        environ = dict(os.environ)
        if not self._variable:
            yield environ
            return
        login = await self._credentials(workspace)
        user, _, password = login.partition(":")
        hosts = index_hosts(environ)
        with tempfile.TemporaryDirectory(prefix="tidemill-uv-") as folder:
            netrc = Path(folder) / "netrc"
            fd = os.open(netrc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                for host in hosts:
                    file.write(f"machine {host}\nlogin {user}\npassword {password}\n")
            yield environ | {"NETRC": str(netrc)}

    async def _credentials(self, workspace: str) -> str:
        path = self._variable or ""
        vault = secrets.Vault(secrets.master_key(self._config))
        try:
            value, is_secret = await variables.reveal(
                self._pool, vault, workspace=workspace, path=path
            )
        except errors.TidemillError as exc:
            raise requirements.UvFailed(
                f"the index credentials variable {path!r} "
                f"(TIDEMILL_UV_INDEX_CREDENTIALS_VARIABLE) cannot be read: {exc.message}"
            ) from None
        if not is_secret:
            raise requirements.UvFailed(
                f"the index credentials variable {path!r} must be a secret variable"
            )
        return value


def job_error(message: str) -> models.JobError:
    return models.JobError(name="DependencyError", message=message)
