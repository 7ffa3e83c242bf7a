"""The job queue: the only module that writes the job tables.

A job lives in the small `queue` table while it waits or runs and moves to
`completed` in the statement that ends it. Workers lease with one
`FOR UPDATE SKIP LOCKED` statement and are woken by NOTIFY on
`tidemill_queued`; sync callers are woken by NOTIFY on `tidemill_done`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from server import arguments, db, errors, flow_engine, flow_state, flows, models, requirements

QUEUED_CHANNEL = "tidemill_queued"
DONE_CHANNEL = "tidemill_done"
CANCEL_CHANNEL = "tidemill_cancel"


def new_job_id() -> models.JobId:
    return models.JobId(uuid.uuid4())


def parse_job_id(text: str) -> models.JobId:
    """A job id from a URL; anything that is not a uuid names no job."""
    try:
        return models.JobId(uuid.UUID(text))
    except ValueError:
        raise errors.NotFound(f"no job {text!r}") from None


async def enqueue(
    pool: db.Pool | db.AnyConnection,
    *,
    job_id: models.JobId,
    script: models.Script,
    args: dict[str, Any],
    created_by: str,
    tag: str | None = None,
    priority: int = 0,
    scheduled_for: datetime | None = None,
    timeout_s: int | None = None,
    max_attempts: int = 3,
    parent_job: uuid.UUID | None = None,
    schedule_path: str | None = None,
    kind: str = "script",
    retry: models.RetryPolicy | None = None,
) -> models.JobId:
    """Queue a run of `script`; `job_id` is chosen by the caller so it can wait first.

    The retry policy is the run's, else the script's setting. `pool` may be a connection
    inside a transaction, so the job is queued with whatever else that transaction writes.
    """
    settings = script.settings
    policy = msgspec.to_builtins(retry) if retry is not None else settings.get("retry")
    await pool.execute(
        db.query("enqueue_job"),
        job_id,
        script.workspace,
        script.path,
        script.hash,
        script.language,
        args,
        tag or settings.get("tag") or "default",
        priority or int(settings.get("priority") or 0),
        scheduled_for,
        timeout_s or settings.get("timeout"),
        max_attempts,
        created_by,
        parent_job,
        kind,
        schedule_path,
        policy,
        settings.get("concurrent_limit"),
        settings.get("concurrency_time_window_s"),
    )
    return job_id


async def enqueue_preview(
    pool: db.Pool,
    *,
    job_id: models.JobId,
    preview: models.Script,
    args: dict[str, Any],
    created_by: str,
    tag: str | None = None,
    requirements_hash: str | None = None,
) -> models.JobId:
    """Queue a run of code that is not saved (`preview` is never stored as a version).

    The code and its lock are kept with the job, in the transaction that queues it,
    so a worker that leases the job always finds them. A pending lock is resolved as a
    version's is, by a `dependencies` job (queued here, with a copy of the code, under the
    requirements' hash), unless one for the same requirements is already on its way: a
    resolver stores its lock on every preview waiting for those requirements.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            db.query("save_preview_code"),
            job_id,
            preview.workspace,
            preview.language,
            preview.content,
            preview.lock,
            preview.lock_status,
            preview.lock_error,
            requirements_hash,
        )
        if preview.lock_status == "pending" and requirements_hash is not None:
            busy = await conn.fetchval(
                db.query("dependency_job_status"), preview.workspace, requirements_hash
            )
            if busy is None:
                resolver = await enqueue_dependencies(
                    conn,
                    workspace=preview.workspace,
                    path=preview.path,
                    script_hash=requirements_hash,
                    language=preview.language,
                    tag=tag,
                    created_by=created_by,
                )
                await conn.execute(
                    db.query("save_preview_code"),
                    resolver,
                    preview.workspace,
                    preview.language,
                    preview.content,
                    None,
                    "pending",
                    None,
                    requirements_hash,
                )
        await enqueue(
            conn,
            job_id=job_id,
            script=preview,
            args=args,
            created_by=created_by,
            tag=tag,
            kind="preview",
        )
    return job_id


async def preview_lock(pool: db.Pool, *, workspace: str, job_id: models.JobId) -> models.LockState:
    """A preview job's lock as it stands (a resolver may have stored it since the lease)."""
    row = await pool.fetchrow(db.query("get_preview_lock"), workspace, job_id)
    if row is None:
        raise errors.NotFound(f"no preview job {job_id}")
    return msgspec.convert(dict(row.items()), models.LockState)


async def store_preview_locks(
    pool: db.Pool, *, workspace: str, requirements_hash: str, locked: requirements.Lock
) -> int:
    """Store a resolved lock (or the resolver's message) on the previews waiting for it.

    Answers how many were waiting; wakes their runs on `tidemill_locked`.
    """
    status: models.LockStatus = "failed" if locked.error is not None else "ready"
    stored = await pool.fetchval(
        db.query("store_preview_locks"),
        workspace,
        requirements_hash,
        locked.text,
        status,
        locked.error,
    )
    return int(stored)


async def preview_code(pool: db.Pool, *, workspace: str, job_id: models.JobId) -> str | None:
    """The code a preview job runs (None: not a preview)."""
    value = await pool.fetchval(db.query("get_preview_code"), workspace, job_id)
    return None if value is None else str(value)


# a dependencies job is leased before any run of its tag: runs of its version wait for it
DEPENDENCIES_PRIORITY = 1_000_000


async def enqueue_dependencies(
    conn: db.AnyConnection,
    *,
    workspace: str,
    path: str,
    script_hash: str,
    language: models.Language,
    tag: str | None,
    created_by: str,
) -> models.JobId:
    """Queue the job (kind `dependencies`) that resolves the lock of `script`'s version.

    Takes a connection so the save and its job commit together: a version whose lock
    is pending always has a job on its way. It runs under the script's tag, on the
    workers that will run the script.
    """
    job_id = new_job_id()
    await conn.execute(
        db.query("enqueue_dependencies"),
        job_id,
        workspace,
        path,
        script_hash,
        language,
        tag or "default",
        DEPENDENCIES_PRIORITY,
        created_by,
    )
    return job_id


async def dependency_job_status(
    pool: db.Pool, *, workspace: str, script_hash: str
) -> models.JobStatus | None:
    """`queued` or `running` while a job resolves this version's lock; None when none does."""
    status = await pool.fetchval(db.query("dependency_job_status"), workspace, script_hash)
    return None if status is None else msgspec.convert(status, models.JobStatus)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# lease_job's parameters for the job in hand when there is none
_NOTHING_ENDED = (None, None, None, None, None, False)


async def lease(
    pool: db.Pool, *, worker: str, tags: list[str], job_token: str, default_timeout_s: int
) -> models.LeasedJob | None:
    """Claim the next due job for `worker`, minting `job_token` for the script to use.

    Jobs without a concurrency limit are leased in one statement. A limited job is
    leased only after its script's count is checked under a per-script advisory lock,
    in a statement that starts after the lock is held, so it sees every lease that
    committed before: two workers can never both take the last slot.
    """
    lease_args = (worker, tags, token_hash(job_token), default_timeout_s)
    row = await pool.fetchrow(db.query("lease_job"), *lease_args, None, *_NOTHING_ENDED)
    return _leased(row) or await _lease_limited(pool, lease_args, tags)


class Ending(msgspec.Struct, frozen=True, kw_only=True):
    """How a job a worker held ended: what `complete` records, given to `end_and_lease`."""

    job_id: models.JobId
    status: models.FinalStatus
    result: Any = None
    error: models.JobError | None = None
    last_log: str = ""


async def end_and_lease(
    pool: db.Pool,
    *,
    ending: Ending,
    worker: str,
    tags: list[str],
    job_token: str,
    default_timeout_s: int,
) -> tuple[bool, models.LeasedJob | None]:
    """End a job as `complete` does and lease the next as `lease` does, in one statement.

    A busy worker thus pays one round trip and one commit per job, not two of each.
    Not for a flow's step (`parent_job`): its end advances its flow in the same
    transaction, which `complete` does. With no `tags`, nothing is leased.

    Returns:
        Whether the job was still this worker's (False: it was given up as lost and
        nothing was recorded), and the job leased next, if one was due.
    """
    lease_args = (worker, tags, token_hash(job_token), default_timeout_s)
    row = await pool.fetchrow(
        db.query("lease_job"), *lease_args, None, *_ending_args(ending, flow_step=False)
    )
    assert row is not None  # always one row
    job = _leased(row)
    if job is None and tags:
        job = await _lease_limited(pool, lease_args, tags)
    return bool(row["ended"]), job


def _ending_args(ending: Ending, *, flow_step: bool) -> tuple[Any, ...]:
    """lease_job's parameters for the job in hand ($6 to $11)."""
    error = None if ending.error is None else msgspec.to_builtins(ending.error)
    return (ending.job_id, ending.status, ending.result, error, ending.last_log, flow_step)


def _leased(row: Any) -> models.LeasedJob | None:
    """The job a lease_job row holds (its `id` is NULL when none was due)."""
    if row is None or row["id"] is None:
        return None
    fields = dict(row.items())
    del fields["ended"], fields["ended_parent_job"]
    return msgspec.convert(fields, models.LeasedJob)


async def _lease_limited(
    pool: db.Pool, lease_args: tuple[Any, ...], tags: list[str]
) -> models.LeasedJob | None:
    async with pool.acquire() as conn, conn.transaction():
        full: set[tuple[str, str]] = set()
        for job in await conn.fetch(db.query("limited_candidates"), tags):
            script = (job["workspace"], job["script_path"])
            if script in full:
                continue
            await conn.execute(db.query("lock_script_concurrency"), "/".join(script))
            used = await conn.fetchval(
                db.query("script_runs_in_window"), *script, job["concurrency_window_s"]
            )
            if used < job["concurrent_limit"]:
                return _leased(
                    await conn.fetchrow(
                        db.query("lease_job"), *lease_args, job["id"], *_NOTHING_ENDED
                    )
                )
            full.add(script)
    return None


async def next_due_in(pool: db.Pool, *, tags: list[str]) -> float | None:
    """Seconds until a waiting job of `tags` that is not due yet becomes due; None if none.

    A job queued for later sends no notification when its time comes: an idle worker
    sleeps until then (or its poll, if sooner) instead of finding it a poll late.
    """
    seconds = await pool.fetchval(db.query("next_due"), tags)
    return None if seconds is None else float(seconds)


async def heartbeat(pool: db.Pool, *, worker: str, job_id: models.JobId | None) -> bool:
    """Keep the lease alive; True when the job has been canceled meanwhile."""
    return bool(await pool.fetchval(db.query("heartbeat"), worker, job_id))


async def append_log(pool: db.Pool, job_id: models.JobId, text: str) -> None:
    await pool.execute(db.query("append_log"), job_id, text)


async def complete(
    pool: db.Pool,
    *,
    job_id: models.JobId,
    worker: str,
    status: models.FinalStatus,
    result: Any = None,
    error: models.JobError | None = None,
    last_log: str = "",
) -> bool:
    """End a job; False when this worker no longer held it (it was given up as lost).

    A step of a flow advances its flow in the same transaction.
    """
    work = _Work()
    ending = Ending(job_id=job_id, status=status, result=result, error=error, last_log=last_log)
    async with pool.acquire() as conn, conn.transaction():
        # lease_job with no tags and no token: it ends the job and leases nothing
        row = await conn.fetchrow(
            db.query("lease_job"),
            worker,
            [],
            None,
            None,
            None,
            *_ending_args(ending, flow_step=True),
        )
        assert row is not None  # always one row
        if row["ended_parent_job"] is not None:
            # the step's outcome is in hand: the flow advances without reading it back
            outcome = flow_state.ChildOutcome(
                status=status,
                result=result,
                error=None if error is None else msgspec.to_builtins(error),
            )
            work.pending.append(_Ended(row["ended_parent_job"], job_id, outcome))
            await _advance_flows(conn, work)
    await _cancel_after(pool, work)
    return bool(row["ended"])


async def retry_later(
    pool: db.Pool,
    *,
    job_id: models.JobId,
    worker: str,
    delay_s: float,
    error: models.JobError | None,
    last_log: str,
) -> bool:
    """Queue a failed job again after `delay_s`, keeping the failed attempt's record."""
    row = await pool.fetchrow(
        db.query("retry_job"),
        job_id,
        worker,
        delay_s,
        None if error is None else msgspec.to_builtins(error),
        last_log,
    )
    return row is not None


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """A failed attempt of a job that was retried."""

    attempt: int
    worker: str | None
    started_at: datetime | None
    ended_at: datetime
    error: models.JobError | None


async def attempts(pool: db.Pool, job_id: models.JobId) -> list[Attempt]:
    rows = await pool.fetch(db.query("job_attempts"), job_id)
    return [msgspec.convert(dict(r.items()), Attempt) for r in rows]


async def cancel(
    pool: db.Pool, *, workspace: str, job_id: models.JobId, by: str, reason: str
) -> bool:
    """Cancel a queued or running job; False when no such job is waiting or running.

    A flow ends at once, with its running steps canceled; a step canceled on its own
    fails its flow (unless the step continues on error).
    """
    return await _cancel_one(pool, workspace, job_id, by, reason, advance_parent=True)


async def _cancel_one(
    pool: db.Pool,
    workspace: str,
    job_id: models.JobId,
    by: str,
    reason: str,
    *,
    advance_parent: bool,
) -> bool:
    """Cancel one job; a flow ends canceled at once and its running children after it.

    Each job is canceled in a transaction of its own, never while holding its parent's
    lock, so a cancel cannot deadlock with a child completing (which locks child, then
    parent).
    """
    work = _Work()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(db.query("cancel_job"), workspace, job_id, by, reason)
        if not rows:
            return False
        lineage = await conn.fetchrow(db.query("job_lineage"), job_id)
        assert lineage is not None  # canceled in this transaction
        parent = None
        if lineage["kind"] == "flow":
            parent = await _cancel_flow(conn, workspace, job_id, by, reason, work)
        elif lineage["status"] == "canceled":
            parent = lineage["parent_job"]
        if advance_parent and parent is not None:
            work.pending.append(_Ended(parent, job_id))
            await _advance_flows(conn, work)
    await _cancel_after(pool, work, by=by, reason=reason)
    return True


async def recover_lost(pool: db.Pool, *, lost_after_s: float) -> list[tuple[models.JobId, str]]:
    """Re-queue or fail the jobs of dead workers; returns (job id, outcome) pairs.

    A failed step of a flow advances its flow in the same transaction.
    """
    work = _Work()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(db.query("recover_lost_jobs"), lost_after_s)
        work.pending.extend(
            _Ended(r["parent_job"], r["id"]) for r in rows if r["parent_job"] is not None
        )
        await _advance_flows(conn, work)
        await _expire_suspended(conn, work)
    await _cancel_after(pool, work)
    return [(models.JobId(r["id"]), r["outcome"]) for r in rows]


def _job(row: Any) -> models.Job:
    return msgspec.convert(dict(row.items()), models.Job)


async def get(pool: db.Pool, *, workspace: str, job_id: models.JobId) -> models.Job:
    row = await pool.fetchrow(db.query("get_job"), workspace, job_id)
    if row is None:
        raise errors.NotFound(f"no job {job_id}")
    return _job(row)


async def get_completed(
    pool: db.Pool, *, workspace: str, job_id: models.JobId
) -> models.Job | None:
    row = await pool.fetchrow(db.query("get_completed_job"), workspace, job_id)
    return None if row is None else _job(row)


async def list_jobs(
    pool: db.Pool,
    *,
    workspace: str,
    script_path: str | None = None,
    schedule_path: str | None = None,
    success: bool | None = None,
    running: bool | None = None,
    script_path_start: str | None = None,
    created_by: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    statuses: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    page: int = 1,
    per_page: int = 30,
) -> list[models.Job]:
    """Jobs newest first, filtered as Windmill's `jobs/list` filters them (None: no filter)."""
    rows = await pool.fetch(
        db.query("list_jobs"),
        workspace,
        script_path,
        schedule_path,
        success,
        running,
        per_page,
        (page - 1) * per_page,
        script_path_start,
        created_by,
        created_after,
        created_before,
        None if statuses is None else list(statuses),
        None if kinds is None else list(kinds),
    )
    return [_job(r) for r in rows]


async def logs(pool: db.Pool, job_id: models.JobId) -> str:
    return str(await pool.fetchval(db.query("get_logs"), job_id))


class LastRun(msgspec.Struct, frozen=True, kw_only=True):
    """A script's or a flow's newest job, for the lists' "last run" column."""

    script_path: str
    is_flow: bool  # the path is a flow's (a script and a flow may share a path)
    id: models.JobId
    status: models.JobStatus
    created_at: datetime


async def last_runs(pool: db.Pool, *, workspace: str) -> list[LastRun]:
    """Each script's and each flow's newest job (those never run are left out), by path."""
    rows = await pool.fetch(db.query("last_run_per_path"), workspace)
    return [msgspec.convert(dict(row.items()), LastRun) for row in rows]


class LogTail(msgspec.Struct, frozen=True, kw_only=True):
    """Log text a reader has not seen yet, and where it now is."""

    text: str
    offset: int  # characters of the whole log read so far
    chunk: int  # the id of the last chunk read (0: none); the next read starts after it


async def logs_from(pool: db.Pool, job_id: models.JobId, offset: int) -> LogTail:
    """The log after character `offset` (clamped to the log's length), with its last chunk id.

    A reader starts here once, then follows with `logs_after`, which reads only new rows.
    """
    rows = await pool.fetch(db.query("log_chunks_from_offset"), job_id, offset)
    if not rows:
        return LogTail(text="", offset=0, chunk=0)
    parts = []
    for row in rows:
        end, content = int(row["end_offset"]), str(row["content"])
        if end > offset:
            parts.append(content[max(0, len(content) - (end - offset)) :])
    # past the end (a stale Last-Event-ID), the reader is put back at the end
    return LogTail(
        text="".join(parts), offset=int(rows[-1]["end_offset"]), chunk=int(rows[-1]["id"])
    )


async def logs_after(pool: db.Pool, job_id: models.JobId, tail: LogTail) -> LogTail:
    """The chunks written after `tail`: only the new rows are read, never the whole log again."""
    rows = await pool.fetch(db.query("log_chunks_after"), job_id, tail.chunk)
    if not rows:
        return LogTail(text="", offset=tail.offset, chunk=tail.chunk)
    text = "".join(str(row["content"]) for row in rows)
    return LogTail(text=text, offset=tail.offset + len(text), chunk=int(rows[-1]["id"]))


async def register_worker(
    pool: db.Pool, *, name: str, hostname: str, pid: int, tags: list[str]
) -> None:
    await pool.execute(db.query("register_worker"), name, hostname, pid, tags)


async def unregister_worker(pool: db.Pool, name: str) -> None:
    await pool.execute(db.query("unregister_worker"), name)


async def list_workers(pool: db.Pool, *, alive_within_s: float) -> list[models.Worker]:
    rows = await pool.fetch(db.query("list_workers"), alive_within_s)
    return [msgspec.convert(dict(r.items()), models.Worker) for r in rows]


# --- flows: server.flow_engine decides, this module writes ---------------------------------


class _Started(msgspec.Struct, frozen=True):
    """A flow job just inserted, with its version when the inserter had it in hand."""

    job: flow_state.FlowJob
    flow: flow_engine.Definition | None = None


class _Ended(msgspec.Struct, frozen=True):
    """A child of `flow_id` ended; `outcome` when the ender knows it (else read back)."""

    flow_id: uuid.UUID
    child_id: uuid.UUID
    outcome: flow_state.ChildOutcome | None = None


class _Work:
    """Flow events to work through in one transaction, and the cancels to send after it.

    Cancels wait for the commit: cancelling a sibling while holding the flow's lock
    could deadlock with that sibling's own completion (child lock, then flow lock).
    """

    def __init__(self, *events: _Started | _Ended) -> None:
        self.pending: deque[_Started | _Ended] = deque(events)
        self.cancels: list[tuple[str, models.JobId]] = []


async def _cancel_after(
    pool: db.Pool, work: _Work, *, by: str = "flow", reason: str = "a sibling step failed"
) -> None:
    for workspace, job_id in work.cancels:
        await _cancel_one(pool, workspace, job_id, by, reason, advance_parent=False)


async def enqueue_flow(
    pool: db.Pool,
    *,
    job_id: models.JobId,
    flow: flows.Flow,
    args: dict[str, Any],
    created_by: str,
    tag: str | None = None,
    schedule_path: str | None = None,
    scheduled_for: datetime | None = None,
    parent_job: uuid.UUID | None = None,
) -> models.JobId:
    """Start a run of a flow version: its first steps are queued before this returns.

    A flow starts at once; `scheduled_for` is the time a schedule's fire is recorded at
    (the key that makes each fire run once).
    """
    state = flow_state.new_state(flow.version_id, flow.definition.modules, args)
    job = flow_state.FlowJob(
        id=job_id,
        workspace=flow.workspace,
        script_path=flow.path,
        created_by=created_by,
        tag=tag or "default",
        parent_job=parent_job,
        flow_status=state,
    )
    work = _Work(_Started(job, flow_engine.Definition(flow.path, flow.definition)))
    async with pool.acquire() as conn, conn.transaction():
        await _insert_flow(
            conn, job, step_id=None, schedule_path=schedule_path, scheduled_for=scheduled_for
        )
        await _advance_flows(conn, work)
    await _cancel_after(pool, work)
    return job_id


async def restart_flow(
    pool: db.Pool,
    *,
    workspace: str,
    job_id: models.JobId,
    step_id: str,
    created_by: str,
) -> models.JobId:
    """Run a finished flow again from `step_id`, reusing the results of the steps before it."""
    row = await pool.fetchrow(db.query("get_completed_flow"), workspace, job_id)
    if row is None or row["parent_job"] is not None:
        raise errors.NotFound(f"no finished flow run {job_id}")
    old = msgspec.convert(dict(row.items()), flow_state.FlowJob)
    async with pool.acquire() as conn:
        flow = await flow_engine.definition(conn, old)
    job = flow_state.FlowJob(
        id=new_job_id(),
        workspace=old.workspace,
        script_path=old.script_path,
        created_by=created_by,
        tag=old.tag,
        parent_job=None,
        flow_status=flow_engine.restart_state(flow, old.flow_status, step_id),
    )
    work = _Work(_Started(job, flow))
    async with pool.acquire() as conn, conn.transaction():
        await _insert_flow(conn, job, step_id=None)
        await _advance_flows(conn, work)
    await _cancel_after(pool, work)
    return job.id


async def _insert_flow(
    conn: db.AnyConnection,
    job: flow_state.FlowJob,
    *,
    step_id: str | None,
    schedule_path: str | None = None,
    scheduled_for: datetime | None = None,
) -> None:
    await conn.execute(
        db.query("insert_flow_job"),
        job.id,
        job.workspace,
        job.script_path,
        str(job.flow_status.version),
        job.flow_status.flow_input,
        job.tag,
        job.created_by,
        job.parent_job,
        step_id,
        job.flow_status,
        schedule_path,
        scheduled_for,
    )


async def _advance_flows(conn: db.AnyConnection, work: _Work) -> None:
    """Work through flow events in one transaction: new flows to start, children that ended.

    A worklist rather than recursion: a loop of instant iterations advances its flow
    once per iteration without growing the stack.
    """
    while work.pending:
        event = work.pending.popleft()
        if isinstance(event, _Started):
            job, flow = event.job, await flow_engine.definition(conn, event.job, event.flow)
            advance = await flow_engine.start(conn, job, flow)
        else:
            row = await conn.fetchrow(db.query("lock_flow_job"), event.flow_id)
            if row is None:
                continue  # the flow ended already (canceled, or failed on another step)
            job = msgspec.convert(dict(row.items()), flow_state.FlowJob)
            flow = flow_engine.locked_definition(job, row)
            outcome = event.outcome
            if outcome is None:
                child = await conn.fetchrow(db.query("completed_child"), event.child_id)
                if child is None:
                    continue  # a child flow canceled with its parent
                outcome = msgspec.convert(dict(child.items()), flow_state.ChildOutcome)
            found = await flow_engine.child_done(
                conn, job, models.JobId(event.child_id), outcome, flow
            )
            if found is None:
                continue
            advance = found
        await _apply(conn, job, advance, work, flow)


async def _apply(
    conn: db.AnyConnection,
    job: flow_state.FlowJob,
    advance: flow_state.Advance,
    work: _Work,
    flow: flow_engine.Definition | None = None,
) -> None:
    """Write what the engine decided: the state (or the end), cancels, new children."""
    finish = advance.finish
    if finish is not None:
        row = await conn.fetchrow(
            db.query("complete_flow_job"),
            job.id,
            finish.status,
            finish.result,
            None if finish.error is None else msgspec.to_builtins(finish.error),
            advance.state,
        )
        if row is not None and row["parent_job"] is not None:
            outcome = flow_state.ChildOutcome(
                status=finish.status,
                result=finish.result,
                error=None if finish.error is None else msgspec.to_builtins(finish.error),
                stopped_early=finish.stopped_early,
            )
            work.pending.append(_Ended(row["parent_job"], job.id, outcome))
    steps = [c for c in advance.children if isinstance(c, flow_state.ChildScript)]
    # the common case, one step queued, stores the state in the same statement
    save_with_step = finish is None and len(steps) == 1
    if finish is None and not save_with_step:
        await conn.execute(db.query("save_flow_status"), job.id, advance.state)
    work.cancels.extend((job.workspace, child_id) for child_id in advance.cancel)
    for child in advance.children:
        if isinstance(child, flow_state.ChildScript):
            await _enqueue_step(conn, job, child, advance.state if save_with_step else None)
        else:
            sub = flow_state.FlowJob(
                id=child.job_id,
                workspace=job.workspace,
                script_path=child.script_path,
                created_by=job.created_by,
                tag=job.tag,
                parent_job=job.id,
                flow_status=child.state,
            )
            await _insert_flow(conn, sub, step_id=child.step_id)
            # a loop iteration or a branch runs the same version; a sub-flow its own
            same = flow is not None and child.version == job.flow_status.version
            work.pending.append(_Started(sub, flow if same else None))


async def _enqueue_step(
    conn: db.AnyConnection,
    job: flow_state.FlowJob,
    child: flow_state.ChildScript,
    state: flow_state.FlowState | None,
) -> None:
    """Queue a script step; with `state`, also store the flow's state, in one round trip."""
    script = child.script
    settings = script.settings
    policy = msgspec.to_builtins(child.retry) if child.retry is not None else settings.get("retry")
    start_at = datetime.now(UTC) + timedelta(seconds=child.delay_s) if child.delay_s else None
    await conn.execute(
        db.query("enqueue_flow_step"),
        child.job_id,
        script.workspace,
        script.path,
        script.hash,
        script.language,
        child.args,
        child.tag or settings.get("tag") or "default",
        int(settings.get("priority") or 0),
        start_at,
        child.timeout_s or settings.get("timeout"),
        3,
        job.created_by,
        job.id,
        "script",
        None,
        policy,
        settings.get("concurrent_limit"),
        settings.get("concurrency_time_window_s"),
        child.step_id,
        state,
    )


async def _cancel_flow(
    conn: db.AnyConnection,
    workspace: str,
    job_id: models.JobId,
    by: str,
    reason: str,
    work: _Work,
) -> uuid.UUID | None:
    """End a flow as canceled (its running children are canceled after the commit).

    Answers its parent flow, if any.
    """
    row = await conn.fetchrow(db.query("lock_flow_job"), job_id)
    if row is None:
        return None
    job = msgspec.convert(dict(row.items()), flow_state.FlowJob)
    work.cancels.extend((workspace, c) for c in flow_state.running_children(job.flow_status))
    done = await conn.fetchrow(
        db.query("complete_flow_job"),
        job_id,
        "canceled",
        None,
        {"name": "Canceled", "message": f"canceled by {by}: {reason}"},
        job.flow_status,
    )
    return None if done is None else done["parent_job"]


async def flow_status(
    pool: db.Pool, *, workspace: str, job_id: models.JobId
) -> tuple[str | None, dict[str, Any] | None]:
    """A job's flow step id and, for a flow, its state in Windmill's `flow_status` shape."""
    row = await pool.fetchrow(db.query("get_flow_status"), workspace, job_id)
    if row is None:
        return None, None
    state = row["flow_status"]
    if state is None:
        return row["flow_step_id"], None
    return row["flow_step_id"], flow_state.render_status(
        msgspec.convert(state, flow_state.FlowState)
    )


async def _expire_suspended(conn: db.AnyConnection, work: _Work) -> None:
    """End the approval waits that ran out (done by every worker's maintenance pass)."""
    for row in await conn.fetch(db.query("expired_suspended_flows")):
        job = msgspec.convert(dict(row.items()), flow_state.FlowJob)
        advance = await flow_engine.suspend_expired(conn, job)
        if advance is not None:
            await _apply(conn, job, advance, work)
    await _advance_flows(conn, work)


async def resume(
    pool: db.Pool,
    *,
    workspace: str,
    job_id: models.JobId,
    resume_id: int,
    approver: str | None,
    approved: bool,
    payload: dict[str, Any],
) -> bool:
    """Record an approval (or a cancel) of a suspended step and advance its flow.

    False when this URL was used already: a repeat changes nothing.
    """
    work = _Work()
    async with pool.acquire() as conn, conn.transaction():
        step = await conn.fetchrow(db.query("flow_step_of"), workspace, job_id)
        if step is None or step["parent_job"] is None:
            raise errors.NotFound(f"job {job_id} is not a step of a flow")
        row = await conn.fetchrow(db.query("lock_flow_job"), step["parent_job"])
        if row is None:
            if await conn.fetchval(db.query("resume_event_exists"), job_id, resume_id):
                return False  # a repeat after the flow went on and ended
            raise errors.Conflict("the flow of this step has already ended")
        job = msgspec.convert(dict(row.items()), flow_state.FlowJob)
        flow = flow_engine.locked_definition(job, row)
        suspend = flow_engine.resume_form(flow, step["flow_step_id"])
        if approved and suspend.resume_form is not None and suspend.resume_form.schema:
            payload = arguments.validate(suspend.resume_form.schema, payload)
        inserted = await conn.fetchval(
            db.query("insert_resume_event"), job_id, resume_id, approved, approver, payload
        )
        if not inserted:
            return False
        advance = await flow_engine.events_arrived(conn, job, job_id, flow)
        if advance is not None:
            await _apply(conn, job, advance, work, flow)
            await _advance_flows(conn, work)
    await _cancel_after(pool, work)
    return True
