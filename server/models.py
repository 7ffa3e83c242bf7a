"""The records Tidemill passes between its parts: frozen, typed, cheap to encode."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NewType
from uuid import UUID

import msgspec

JobId = NewType("JobId", UUID)
WorkspaceId = NewType("WorkspaceId", str)
ScriptHash = NewType("ScriptHash", str)

Language = Literal["python3", "deno", "bash"]
# a flow job runs no code of its own: its steps are child jobs
JobLanguage = Language | Literal["flow"]
JobStatus = Literal["queued", "running", "success", "failure", "canceled"]
FinalStatus = Literal["success", "failure", "canceled"]
Role = Literal["admin", "developer", "operator"]
# `none`: nothing to install; `failed`: lock_error holds the resolver's message
LockStatus = Literal["none", "pending", "ready", "failed"]

LANGUAGE_ALIASES: dict[str, Language] = {
    "python3": "python3",
    "python": "python3",
    "deno": "deno",
    "typescript": "deno",
    "bash": "bash",
}


class Script(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable version of a script."""

    workspace: WorkspaceId
    path: str
    hash: ScriptHash
    language: Language
    content: str
    summary: str
    description: str
    schema: dict[str, Any]
    result_schema: dict[str, Any] | None
    warnings: list[str]
    settings: dict[str, Any]
    created_by: str
    created_at: datetime
    lock: str | None = None
    lock_status: LockStatus = "none"
    lock_error: str | None = None


class LockState(msgspec.Struct, frozen=True, kw_only=True):
    """A lock as it stands: resolved, failed with the resolver's message, or pending."""

    lock: str | None
    lock_status: LockStatus
    lock_error: str | None


class ScriptHead(msgspec.Struct, frozen=True, kw_only=True):
    """A path with its newest version, as listed."""

    path: str
    hash: ScriptHash
    language: Language
    summary: str
    created_by: str
    created_at: datetime


class JobError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a job failed, in the script's own words where it has them."""

    name: str
    message: str
    stack: str = ""


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job wherever it is: waiting, running, or completed."""

    id: JobId
    workspace: WorkspaceId
    kind: str
    script_path: str
    script_hash: ScriptHash
    language: JobLanguage
    args: dict[str, Any]
    status: JobStatus
    tag: str
    priority: int
    scheduled_for: datetime
    timeout_s: int | None
    attempts: int
    max_attempts: int
    created_by: str
    parent_job: UUID | None
    schedule_path: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    worker: str | None
    result: Any = None
    error: JobError | None = None
    canceled_by: str | None = None
    cancel_reason: str | None = None
    retries: int = 0

    @property
    def completed(self) -> bool:
        return self.status in ("success", "failure", "canceled")


class ConstantRetry(msgspec.Struct, frozen=True, kw_only=True):
    attempts: int
    seconds: float = 0


class ExponentialRetry(msgspec.Struct, frozen=True, kw_only=True):
    attempts: int
    seconds: float = 1
    multiplier: float = 1


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Windmill's shape: `{"constant": {...}}` or `{"exponential": {...}}`."""

    constant: ConstantRetry | None = None
    exponential: ExponentialRetry | None = None

    def delay_before(self, retry_number: int) -> float | None:
        """Seconds to wait before retry number `retry_number` (1-based); None: no retry left."""
        if self.constant is not None and retry_number <= self.constant.attempts:
            return self.constant.seconds
        if self.exponential is not None and retry_number <= self.exponential.attempts:
            policy = self.exponential
            return float(policy.multiplier * policy.seconds**retry_number)
        return None


class LeasedJob(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker needs to run a job it has just leased."""

    id: JobId
    workspace: WorkspaceId
    script_path: str
    script_hash: ScriptHash
    language: Language
    content: str
    args: dict[str, Any]
    timeout_s: int | None
    attempts: int
    # `script`, or `dependencies`: resolve the version's lock instead of running it
    kind: str = "script"
    retry: RetryPolicy | None = None
    retries: int = 0
    lock: str | None = None
    lock_status: LockStatus = "none"
    lock_error: str | None = None
    # warm mode: run in a process kept for this script version (worker/warm.py)
    dedicated_worker: bool = False
    # whose rights the job's `$var:`/`$res:` arguments are read with
    created_by: str = ""
    schedule_path: str | None = None
    # a flow's step: its end advances the flow, in one transaction (`queue.complete`)
    parent_job: UUID | None = None


FolderAccess = Literal["write", "read", "none"]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: the user behind a token, narrowed by the token's scopes.

    `grantees` (`u/<name>`, `g/<group>`...) and `folders` (each restricted folder of
    the request's workspace with the user's access) are loaded with the token, so
    path checks need no further query.
    """

    username: str
    role: Role
    scopes: tuple[str, ...] | None = None
    workspace: WorkspaceId | None = None
    job_id: JobId | None = None
    grantees: tuple[str, ...] = ()
    folders: dict[str, FolderAccess] = msgspec.field(default_factory=dict)


class Worker(msgspec.Struct, frozen=True, kw_only=True):
    """A live worker as `GET /api/workers/list` shows it."""

    worker: str
    hostname: str
    pid: int
    tags: list[str]
    started_at: datetime
    last_ping: datetime
    current_job_id: UUID | None
