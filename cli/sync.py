"""Push and pull: the difference between a folder and a workspace, then applying it.

A plan is computed first and shown (and confirmed) before anything changes.
Pushing saves new and changed scripts and makes the server's schedules of the
folder's scripts match their `.script.yaml` files (schedules of those scripts
that a file no longer lists are deleted). Pulling writes the workspace's
scripts as files and never deletes a script that exists only locally.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import msgspec

from cli import client, layout
from server import script_settings

Action = Literal["add", "update", "delete"]
# how long a push waits for a server that locks dependencies after the save
LOCK_WAIT_S = 300.0


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a plan: what happens to which script, schedule or file, and why."""

    kind: Literal["script", "schedule", "file"]
    action: Action
    path: str
    what: tuple[str, ...] = ()


class Saved(msgspec.Struct, frozen=True, kw_only=True):
    """What pushing one script gave: its new version, or the error the server gave."""

    path: str
    hash: str | None = None
    schema: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    lock: str | None = None
    locks: bool = False  # whether the server keeps locks at all


class PushPlan(msgspec.Struct, frozen=True, kw_only=True):
    root: Path
    changes: list[Change]
    local: dict[str, layout.Script]
    remote_schedules: dict[str, dict[str, Any]]


class PullPlan(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[Change]
    files: dict[str, str | None]  # relative path -> new text (None: delete)
    local_only: list[str]


# -- reading the server ---------------------------------------------------


def remote_schedules(api: client.Client) -> dict[str, dict[str, Any]]:
    """Every schedule by path ({} when the server has no schedules yet)."""
    try:
        return {str(s["path"]): s for s in api.list_schedules()}
    except client.ApiError as exc:
        if exc.status in (404, 405):
            return {}
        raise


def _normal_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the server keeps them (retry defaults filled in, nulls dropped)."""
    return {
        f: script_settings.normal(f, settings[f])
        for f in layout.SETTINGS
        if settings.get(f) is not None
    }


def script_diff(local: layout.Script, remote: dict[str, Any] | None) -> tuple[str, ...]:
    """What a push would change in a saved script (empty: nothing).

    The lock is not compared: the server computes it from the content, and a push
    writes the server's lock back to the folder.
    """
    if remote is None:
        return ("new",)
    what = []
    if local.language != remote.get("language") or local.content != remote.get("content"):
        what.append("content")
    if local.meta.summary is not None and local.meta.summary != (remote.get("summary") or ""):
        what.append("summary")
    if local.meta.description != (remote.get("description") or ""):
        what.append("description")
    mine = _normal_settings(local.meta.settings())
    theirs = _normal_settings(remote.get("settings") or {})
    changed = [f for f in layout.SETTINGS if mine.get(f) != theirs.get(f)]
    if changed:
        what.append(f"settings: {' '.join(changed)}")
    return tuple(what)


def _schedules_of(script_paths: set[str], remote: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {p: s for p, s in remote.items() if s.get("script_path") in script_paths}


# -- push -----------------------------------------------------------------


def plan_push(api: client.Client, root: Path, only: set[str] | None = None) -> PushPlan:
    """What `push` would do to make the workspace match the folder.

    Args:
        api: The workspace.
        root: The folder.
        only: Limit the plan to these script paths (`dev` pushes one file at a time).
    """
    local = layout.read_folder(root)
    if only is not None:
        local = {p: s for p, s in local.items() if p in only}
    heads = {str(h["path"]) for h in api.list_scripts()}
    changes: list[Change] = []
    for path, script in local.items():
        remote = api.get_script(path) if path in heads else None
        what = script_diff(script, remote)
        if what:
            changes.append(
                Change(
                    kind="script",
                    action="add" if remote is None else "update",
                    path=path,
                    what=() if remote is None else what,
                )
            )
    schedules = remote_schedules(api)
    owned = _schedules_of(set(local), schedules)
    wanted: dict[str, tuple[str, layout.Schedule]] = {}
    for path, script in local.items():
        for schedule_path, schedule in script.schedules().items():
            if schedule_path in wanted:
                raise layout.LayoutError(
                    f"schedule {schedule_path} is listed twice (give each its own `path`)"
                )
            wanted[schedule_path] = (path, schedule)
    for schedule_path, (script_path, schedule) in wanted.items():
        current = schedules.get(schedule_path)
        if current is None:
            changes.append(Change(kind="schedule", action="add", path=schedule_path))
        elif current.get("script_path") != script_path or layout.schedule_from_remote(
            current, script_path
        ) != _normalised(schedule, schedule_path, script_path):
            changes.append(Change(kind="schedule", action="update", path=schedule_path))
    changes += [
        Change(kind="schedule", action="delete", path=p) for p in sorted(owned) if p not in wanted
    ]
    return PushPlan(root=root, changes=changes, local=local, remote_schedules=schedules)


def _normalised(schedule: layout.Schedule, path: str, script_path: str) -> layout.Schedule:
    """A schedule of the folder as the server would give it back, to compare the two."""
    retry = None if schedule.retry is None else script_settings.normal("retry", schedule.retry)
    return msgspec.structs.replace(
        schedule, path=None if path == script_path else path, retry=retry
    )


def wait_locked(api: client.Client, hash_: str, timeout_s: float) -> dict[str, Any]:
    """A saved version, once the server has finished locking its dependencies.

    A server may lock after the save (`lock_status: pending`); a push must still report
    a lock that fails, so it waits, up to `timeout_s`, for the outcome.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    saved = api.get_script_by_hash(hash_)
    while saved.get("lock_status") == "pending" and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
        saved = api.get_script_by_hash(hash_)
    return saved


def save_script(
    api: client.Client, script: layout.Script, *, lock_wait_s: float = LOCK_WAIT_S
) -> Saved:
    """Save one script and read back its schema, warnings and lock (waiting for it)."""
    body: dict[str, Any] = {
        "path": script.path,
        "content": script.content,
        "language": script.language,
        "description": script.meta.description,
        **script.meta.settings(),
    }
    if script.meta.summary is not None:
        body["summary"] = script.meta.summary
    try:
        hash_ = api.create_script(body)
        saved = wait_locked(api, hash_, lock_wait_s)
    except client.ApiError as exc:
        return Saved(path=script.path, error=_describe(script, exc))
    error = None
    if saved.get("lock_status") == "failed":
        error = (
            f"{script.code_file}: its dependencies could not be locked: {saved.get('lock_error')}"
        )
    elif saved.get("lock_status") == "pending":
        error = (
            f"{script.code_file}: its dependencies were still being locked after {lock_wait_s:g} s"
        )
    return Saved(
        path=script.path,
        hash=hash_,
        schema=saved.get("schema"),
        warnings=tuple(saved.get("warnings") or ()),
        error=error,
        lock=saved.get("lock") or None,
        locks="lock" in saved and saved.get("lock_status") != "pending",
    )


def write_lock(root: Path, saved: Saved) -> None:
    """Keep `<name>.script.lock` what the server locked the saved version with."""
    if not saved.locks or saved.hash is None:
        return
    file = root / (saved.path + layout.LOCK_SUFFIX)
    if saved.lock is None:
        file.unlink(missing_ok=True)
    elif not file.exists() or file.read_text() != saved.lock:
        file.write_text(saved.lock)


def _describe(script: layout.Script, exc: client.ApiError) -> str:
    """The server's complaint, located in the file as editors and compilers do."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if "line" in details:
        return f"{script.code_file}:{details['line']}:{details.get('column', 1)}: {exc.message}"
    return f"{script.code_file}: {exc.message}"


def apply_push(api: client.Client, plan: PushPlan) -> tuple[list[Saved], list[str]]:
    """Carry out a push plan: scripts first, then schedules (which name them).

    Returns:
        Each saved script's outcome, and the schedule errors (empty when all went well).
    """
    saved = [save_script(api, plan.local[c.path]) for c in plan.changes if c.kind == "script"]
    for item in saved:
        write_lock(plan.root, item)
    failed = {s.path for s in saved if s.hash is None}
    wanted = {
        schedule_path: (script.path, schedule)
        for script in plan.local.values()
        for schedule_path, schedule in script.schedules().items()
    }
    errors: list[str] = []
    for change in (c for c in plan.changes if c.kind == "schedule"):
        try:
            if change.action == "delete":
                api.delete_schedule(change.path)
                continue
            script_path, schedule = wanted[change.path]
            if script_path in failed:
                errors.append(f"schedule {change.path}: not saved, its script failed")
                continue
            body = layout.schedule_body(schedule, change.path, script_path)
            if change.action == "add":
                api.create_schedule(body)
            else:
                api.update_schedule(change.path, {k: v for k, v in body.items() if k != "path"})
        except client.ApiError as exc:
            errors.append(f"schedule {change.path}: {exc.message}")
    return saved, errors


# -- pull -----------------------------------------------------------------


def plan_pull(api: client.Client, root: Path) -> PullPlan:
    """What `pull` would write to make the folder match the workspace."""
    config = layout.load_config(root)
    heads = sorted(str(h["path"]) for h in api.list_scripts())
    schedules = remote_schedules(api)
    by_script: dict[str, list[dict[str, Any]]] = {}
    for schedule in schedules.values():
        by_script.setdefault(str(schedule.get("script_path")), []).append(schedule)
    local_files = layout.code_files(root, config)
    files: dict[str, str | None] = {}
    changes: list[Change] = []
    pulled = [p for p in heads if config.holds(p) and layout.PATH_RE.match(p)]
    for path in pulled:
        remote = api.get_script(path)
        script = layout.from_remote(remote, by_script.get(path, []))
        wanted: dict[str, str | None] = dict(layout.files_of(script))
        stale = local_files.get(path)
        if stale is not None and stale.relative_to(root).as_posix() != script.code_file:
            wanted[stale.relative_to(root).as_posix()] = None  # the language changed
        lock = root / (path + layout.LOCK_SUFFIX)
        if "lock" in remote and not script.lock and lock.exists():
            wanted[path + layout.LOCK_SUFFIX] = None
        for name, text in wanted.items():
            file = root / name
            if text is None:
                files[name] = None
                changes.append(Change(kind="file", action="delete", path=name))
            elif not file.exists():
                files[name] = text
                changes.append(Change(kind="file", action="add", path=name))
            elif file.read_text() != text:
                files[name] = text
                changes.append(Change(kind="file", action="update", path=name))
    local_only = sorted(set(local_files) - set(pulled))
    return PullPlan(changes=changes, files=files, local_only=local_only)


def apply_pull(root: Path, plan: PullPlan) -> None:
    for name, text in plan.files.items():
        file = root / name
        if text is None:
            file.unlink(missing_ok=True)
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
