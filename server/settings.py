"""Settings, read once from the environment (and `tidemill up` flags).

Every setting DESIGN.md names is here with its default, so there is one place
to look and one place the docs are checked against.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

DEFAULT_PORT = 8000


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Process-wide configuration; passed down explicitly, never a global."""

    database_url: str | None
    home: Path
    secret_key: str | None
    admin_password: str | None
    admin_token: str | None
    port: int
    host: str
    base_url: str
    heartbeat_s: float
    lost_after_s: float
    poll_s: float
    default_timeout_s: int
    max_timeout_s: int
    max_log_bytes: int
    # dependency environments past this size in all are evicted, least recently used first
    env_cache_max_mb: int
    # path of the secret variable holding a private package index's `user:password`
    uv_index_credentials_variable: str | None
    max_result_bytes: int
    job_memory_mb: int
    job_max_processes: int

    @property
    def admin_token_file(self) -> Path:
        return self.home / "admin-token"

    @property
    def envs_dir(self) -> Path:
        return self.home / "envs"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"


def default_home() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "tidemill"


def from_env(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Read the settings; `overrides` are the CLI flags, which win over the environment."""
    env = dict(os.environ if environ is None else environ)
    port = int(env.get("TIDEMILL_PORT", DEFAULT_PORT))
    host = env.get("TIDEMILL_HOST", "127.0.0.1")
    values: dict[str, object] = {
        "database_url": env.get("TIDEMILL_DATABASE_URL") or None,
        "home": Path(env.get("TIDEMILL_HOME") or default_home()).expanduser(),
        "secret_key": env.get("TIDEMILL_SECRET_KEY") or None,
        "admin_password": env.get("TIDEMILL_ADMIN_PASSWORD") or None,
        "admin_token": env.get("TIDEMILL_ADMIN_TOKEN") or None,
        "port": port,
        "host": host,
        "base_url": env.get("TIDEMILL_BASE_URL", ""),
        "heartbeat_s": float(env.get("TIDEMILL_HEARTBEAT_S", "2")),
        "lost_after_s": float(env.get("TIDEMILL_LOST_AFTER_S", "10")),
        "poll_s": float(env.get("TIDEMILL_POLL_S", "2")),
        "default_timeout_s": int(env.get("TIDEMILL_DEFAULT_TIMEOUT_S", "900")),
        "max_timeout_s": int(env.get("TIDEMILL_MAX_TIMEOUT_S", "86400")),
        "max_log_bytes": int(env.get("TIDEMILL_MAX_LOG_BYTES", str(2 * 1024 * 1024))),
        "env_cache_max_mb": int(env.get("TIDEMILL_ENV_CACHE_MAX_MB", "10240")),
        "uv_index_credentials_variable": env.get("TIDEMILL_UV_INDEX_CREDENTIALS_VARIABLE") or None,
        "max_result_bytes": int(env.get("TIDEMILL_MAX_RESULT_BYTES", str(16 * 1024 * 1024))),
        "job_memory_mb": int(env.get("TIDEMILL_JOB_MEMORY_MB", "2048")),
        "job_max_processes": int(env.get("TIDEMILL_JOB_MAX_PROCESSES", "256")),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not values["base_url"]:
        values["base_url"] = f"http://127.0.0.1:{values['port']}"
    return msgspec.convert(values, Settings, strict=False)
