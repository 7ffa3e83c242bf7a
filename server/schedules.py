"""Schedules: cron triggers of scripts and flows, and the cron math behind them.

A schedule runs a script (or, with `is_flow`, a flow) with fixed arguments at the
times a cron expression names, read in an IANA time zone. All the time arithmetic
here is a pure function of an explicit `now`, so DST edges and missed fires are
tested with any clock; `server.scheduler` is the loop that acts on due schedules.

DST, for expressions that name fixed hours (the hour field is not `*` or
`*/n`): a fire in the hour skipped by spring-forward runs once, at the end of
the gap (croniter's rule); in the hour repeated by fall-back it runs only in
the first pass. Expressions with a wildcard hour follow real time through both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from croniter import CroniterError, croniter

from server import arguments, db, errors, flows, models, scripts

UPCOMING = 5
SCRIPT_PREFIX = "script/"  # Windmill names hooks `script/<path>` or `flow/<path>`
FLOW_PREFIX = "flow/"


class ScheduleSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The body of `schedules/update`, in Windmill's field names (`create` adds `path`).

    Other Windmill fields (`on_failure_times`, ...) are accepted and ignored. With
    `is_flow`, `script_path` names a flow. `retry` is the policy of the script runs it
    starts (without it, the script's own applies); a flow retries per step, so a
    schedule of a flow takes none. A hook is a script, `script/<path>` or `flow/<path>`.
    """

    schedule: str
    script_path: str
    timezone: str = "UTC"
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    # None: on for a new schedule, unchanged on update (as Windmill's update leaves it)
    enabled: bool | None = None
    summary: str | None = None
    is_flow: bool = False
    on_failure: str | None = None
    on_failure_extra_args: dict[str, Any] | None = None
    on_recovery: str | None = None
    on_recovery_extra_args: dict[str, Any] | None = None
    retry: models.RetryPolicy | None = None


class NewSchedule(ScheduleSpec, frozen=True, kw_only=True):
    """The body of `schedules/create`."""

    path: str


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A saved schedule, with the leader's state (`next_fire`, `last_fire`, `error`)."""

    workspace: str
    path: str
    schedule: str
    timezone: str
    script_path: str
    is_flow: bool = False
    args: dict[str, Any]
    enabled: bool
    summary: str
    on_failure: str | None
    on_failure_extra_args: dict[str, Any]
    on_recovery: str | None
    on_recovery_extra_args: dict[str, Any]
    retry: models.RetryPolicy | None = None
    edited_by: str
    edited_at: datetime
    next_fire: datetime | None
    last_fire: datetime | None
    error: str | None


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What the leader does with a due schedule: the fires to queue, then the next one."""

    fires: tuple[datetime, ...]
    next_fire: datetime


# -- cron math (pure) ----------------------------------------------------------


def _invalid(field: str, message: str) -> errors.Invalid:
    return errors.Invalid(f"invalid {field}: {message}", [{"path": field, "message": message}])


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or Invalid naming the `timezone` field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _invalid(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None


def check_cron(expression: str, now: datetime) -> str:
    """The expression, if croniter reads it and it ever fires; else Invalid on `schedule`.

    Five fields, or six with seconds first (Windmill's form); croniter's own six-field
    form (seconds last) and its seven-field form (years) are not accepted.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise _invalid(
            "schedule", f"{expression!r} has {len(fields)} fields; use 5, or 6 with seconds first"
        )
    try:
        croniter(expression, now, second_at_beginning=True).get_next(datetime)
    except CroniterError as exc:
        raise _invalid("schedule", f"{expression!r}: {exc}") from None
    return expression


def _fixed_hours(expression: str) -> bool:
    fields = expression.split()
    hour = fields[2] if len(fields) == 6 else fields[1]
    return not hour.startswith("*")


def _second_pass(moment: datetime) -> bool:
    """True for the later of two instants that share a wall-clock time (fall-back)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def fires_after(expression: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, as datetimes in `tz`, without end."""
    skip_repeats = _fixed_hours(expression)
    it = croniter(expression, after.astimezone(tz), second_at_beginning=True)
    while True:
        found: datetime = it.get_next(datetime)
        # through UTC, so `fold` says which pass of a repeated hour this is
        fire = found.astimezone(UTC).astimezone(tz)
        if not (skip_repeats and _second_pass(fire)):
            yield fire


def upcoming(schedule: Schedule, now: datetime, count: int = UPCOMING) -> list[datetime]:
    """The next `count` fires after `now` in the schedule's zone; none while disabled."""
    if not schedule.enabled:
        return []
    fires = fires_after(schedule.schedule, zone(schedule.timezone), now)
    return [next(fires) for _ in range(count)]


def plan(expression: str, tz: ZoneInfo, *, due: datetime, now: datetime, grace: timedelta) -> Plan:
    """The fires to queue for a schedule whose next fire `due` has come (`due <= now`).

    A fire at most `grace` late is only late (a slow tick, a change of leader): it and
    every later fire up to `now` are queued. An older one was missed while the
    scheduler was down: it is queued once, for all the missed fires together, and the
    schedule continues with its first fire after `now`.
    """
    if due < now - grace:
        return Plan(fires=(due,), next_fire=next(fires_after(expression, tz, now)))
    fires = [due]
    later = fires_after(expression, tz, due)
    while True:
        fire = next(later)
        if fire > now:
            return Plan(fires=tuple(fires), next_fire=fire)
        fires.append(fire)


def hook_args(
    extra: dict[str, Any], *, error: Any, job_id: str, schedule_path: str, path: str
) -> dict[str, Any]:
    """The arguments of an on_failure / on_recovery run: the extra ones, then the run's."""
    return {**extra, "error": error, "job_id": job_id, "schedule_path": schedule_path, "path": path}


# -- validation --------------------------------------------------------------


class _Problems:
    """Collects every failing field, so one 422 names them all."""

    def __init__(self) -> None:
        self.details: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except errors.Invalid as exc:
            self.details += exc.details


async def runnable(pool: db.Pool, workspace: str, *, path: str, is_flow: bool) -> flows.Runnable:
    """The newest version of the script (or flow) a schedule or hook runs; NotFound if none."""
    if is_flow:
        return await flows.get(pool, workspace=workspace, path=path)
    return await scripts.get_by_path(pool, workspace=workspace, path=path)


async def _check_call(
    pool: db.Pool,
    workspace: str,
    *,
    script_path: str,
    is_flow: bool,
    args: dict[str, Any],
    script_field: str,
    args_field: str,
) -> None:
    """Invalid unless `script_path` exists and takes `args`; bad ones are `args_field.x`."""
    try:
        target = await runnable(pool, workspace, path=script_path, is_flow=is_flow)
    except errors.NotFound:
        kind = "flow" if is_flow else "script"
        raise _invalid(script_field, f"no {kind} at {script_path!r}") from None
    try:
        arguments.validate(flows.input_schema(target), args)
    except errors.Invalid as exc:
        details = [
            {**d, "path": f"{args_field}.{d['path']}" if d["path"] else args_field}
            for d in exc.details
        ]
        raise errors.Invalid(exc.message, details) from None


def hook_target(stored: str) -> tuple[str, bool]:
    """A stored hook's path and whether it is a flow (stored `flow/<path>`)."""
    if stored.startswith(FLOW_PREFIX):
        return stored.removeprefix(FLOW_PREFIX), True
    return stored, False


def _hook_path(value: str, field: str) -> str:
    """A hook as stored: a script's plain path, or `flow/<path>` for a flow."""
    path, is_flow = hook_target(value.removeprefix(SCRIPT_PREFIX))
    if not scripts.PATH_RE.match(path):
        raise _invalid(
            field, f"{value!r} is not a hook: use a script path, script/<path> or flow/<path>"
        )
    return FLOW_PREFIX + path if is_flow else path


class _Checked(msgspec.Struct, frozen=True, kw_only=True):
    """What checking a spec found: its hooks' plain paths and its first fire."""

    on_failure: str | None
    on_recovery: str | None
    first_fire: datetime


async def _check(
    pool: db.Pool, *, workspace: str, path: str, spec: ScheduleSpec, now: datetime
) -> _Checked:
    """Every rule a schedule must meet, with all failing fields named in one Invalid."""
    problems = _Problems()
    with problems.check():
        scripts.check_path(path)
    if spec.is_flow and spec.retry is not None:
        problems.details.append(
            {"path": "retry", "message": "a flow retries per step (module `retry`), not per run"}
        )
    tz: ZoneInfo | None = None
    with problems.check():
        tz = zone(spec.timezone)
    expression: str | None = None
    with problems.check():
        expression = check_cron(spec.schedule, now)
    with problems.check():
        await _check_call(
            pool,
            workspace,
            script_path=spec.script_path,
            is_flow=spec.is_flow,
            args=spec.args,
            script_field="script_path",
            args_field="args",
        )
    hooks: dict[str, str | None] = {}
    for field, value, extra in (
        ("on_failure", spec.on_failure, spec.on_failure_extra_args),
        ("on_recovery", spec.on_recovery, spec.on_recovery_extra_args),
    ):
        hooks[field] = None
        if value is None:
            continue
        with problems.check():
            hooks[field] = hook = _hook_path(value, field)
            # what the hook will be given, so a hook that cannot take it is refused now
            sample = hook_args(
                extra or {},
                error={"name": "Error", "message": "", "stack": ""},
                job_id="00000000-0000-0000-0000-000000000000",
                schedule_path=path,
                path=spec.script_path,
            )
            hook_path, hook_is_flow = hook_target(hook)
            await _check_call(
                pool,
                workspace,
                script_path=hook_path,
                is_flow=hook_is_flow,
                args=sample,
                script_field=field,
                args_field=f"{field}_extra_args",
            )
    if problems.details or tz is None or expression is None:
        names = ", ".join(sorted({str(d.get("path")) for d in problems.details}))
        raise errors.Invalid(f"invalid schedule: {names}", problems.details)
    return _Checked(
        on_failure=hooks["on_failure"],
        on_recovery=hooks["on_recovery"],
        first_fire=next(fires_after(expression, tz, now)),
    )


# -- storage -----------------------------------------------------------------


def from_row(row: Any) -> Schedule:
    return msgspec.convert(dict(row.items()), Schedule)


def _values(spec: ScheduleSpec, checked: _Checked, enabled: bool | None) -> tuple[Any, ...]:
    """The definition columns, in the order insert_schedule and update_schedule take them."""
    return (
        spec.schedule,
        spec.timezone,
        spec.script_path,
        spec.args,
        enabled,
        spec.summary or "",
        checked.on_failure,
        spec.on_failure_extra_args or {},
        checked.on_recovery,
        spec.on_recovery_extra_args or {},
    )


async def create(
    pool: db.Pool, *, workspace: str, new: NewSchedule, edited_by: str, now: datetime
) -> Schedule:
    """Save a new schedule; its first fire is the first one after `now`.

    Args:
        pool: The database.
        workspace: Where the schedule and its script live.
        new: The body of `schedules/create`.
        edited_by: The user the schedule's jobs run as.
        now: The current time (injected, for tests).

    Raises:
        errors.Invalid: A field breaks a rule; `details` names each one.
        errors.Conflict: A schedule already has this path.
    """
    checked = await _check(pool, workspace=workspace, path=new.path, spec=new, now=now)
    enabled = new.enabled is not False
    row = await pool.fetchrow(
        db.query("insert_schedule"),
        workspace,
        new.path,
        *_values(new, checked, enabled),
        edited_by,
        checked.first_fire if enabled else None,
        None if new.retry is None else msgspec.to_builtins(new.retry),
        new.is_flow,
    )
    if row is None:
        raise errors.Conflict(f"a schedule already exists at {new.path!r}")
    return from_row(row)


async def update(
    pool: db.Pool,
    *,
    workspace: str,
    path: str,
    spec: ScheduleSpec,
    edited_by: str,
    now: datetime,
) -> Schedule:
    """Replace a schedule's definition; it continues with its first fire after `now`.

    Raises:
        errors.Invalid: A field breaks a rule; `details` names each one.
        errors.NotFound: No schedule has this path.
    """
    await get(pool, workspace=workspace, path=path)
    checked = await _check(pool, workspace=workspace, path=path, spec=spec, now=now)
    row = await pool.fetchrow(
        db.query("update_schedule"),
        workspace,
        path,
        *_values(spec, checked, spec.enabled),
        edited_by,
        checked.first_fire,
        None if spec.retry is None else msgspec.to_builtins(spec.retry),
        spec.is_flow,
    )
    if row is None:
        raise errors.NotFound(f"no schedule at {path!r}")
    return from_row(row)


async def set_enabled(
    pool: db.Pool, *, workspace: str, path: str, enabled: bool, edited_by: str, now: datetime
) -> Schedule:
    """Turn a schedule on (from its first fire after `now`: no catch-up) or off."""
    current = await get(pool, workspace=workspace, path=path)
    first_fire = next(fires_after(current.schedule, zone(current.timezone), now))
    row = await pool.fetchrow(
        db.query("set_schedule_enabled"), workspace, path, enabled, first_fire, edited_by
    )
    if row is None:
        raise errors.NotFound(f"no schedule at {path!r}")
    return from_row(row)


async def get(pool: db.Pool, *, workspace: str, path: str) -> Schedule:
    row = await pool.fetchrow(db.query("get_schedule"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no schedule at {path!r} in workspace {workspace!r}")
    return from_row(row)


async def list_all(pool: db.Pool, *, workspace: str) -> list[Schedule]:
    return [from_row(r) for r in await pool.fetch(db.query("list_schedules"), workspace)]


async def delete(pool: db.Pool, *, workspace: str, path: str) -> None:
    """Remove a schedule; runs already queued still run."""
    if await pool.fetchval(db.query("delete_schedule"), workspace, path) is None:
        raise errors.NotFound(f"no schedule at {path!r} in workspace {workspace!r}")
