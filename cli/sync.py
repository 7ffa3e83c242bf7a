"""Push and pull: the difference between a folder and a workspace, then applying it.

A plan is computed first and shown (and confirmed) before anything changes.
Pushing saves new and changed scripts, then new and changed flows (`<name>.flow/`),
and makes the server's schedules of the folder's scripts match their `.script.yaml`
files (schedules of those scripts that a file no longer lists are deleted). Pulling
writes the workspace's scripts and flows as files and never deletes a script or a
flow that exists only locally; pushing never deletes one that exists only on the
server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import msgspec

from cli import client, flow_layout, layout
from server import script_settings

Action = Literal["add", "update", "delete"]
# how long a push waits for a server that locks dependencies after the save
LOCK_WAIT_S = 300.0


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a plan: what happens to which script, schedule or file, and why."""

    kind: Literal["script", "flow", "schedule", "file"]
    action: Action
    path: str
    what: tuple[str, ...] = ()


class Saved(msgspec.Struct, frozen=True, kw_only=True):
    """What pushing one script (or flow) gave: its new version, or the error the server gave."""

    path: str
    kind: Literal["script", "flow"] = "script"
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
    flows: dict[str, flow_layout.Flow] = msgspec.field(default_factory=dict)


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
    """The schedules that run these scripts (a flow's, at the same path, are not theirs)."""
    return {
        p: s
        for p, s in remote.items()
        if s.get("script_path") in script_paths and not s.get("is_flow")
    }


# -- push -----------------------------------------------------------------


def plan_push(
    api: client.Client,
    root: Path,
    only: set[str] | None = None,
    only_flows: set[str] | None = None,
) -> PushPlan:
    """What `push` would do to make the workspace match the folder.

    Args:
        api: The workspace.
        root: The folder.
        only: Limit the plan to these script paths (`dev` pushes what changed).
        only_flows: Limit the plan to these flow paths. Given either limit, the plan
            holds only what the two name.
    """
    local = layout.read_folder(root)
    folders = flow_layout.flow_folders(root, layout.load_config(root))
    if only is not None or only_flows is not None:
        local = {p: s for p, s in local.items() if p in (only or set())}
        folders = {p: f for p, f in folders.items() if p in (only_flows or set())}
    flows = {p: flow_layout.read_flow(root, p, f) for p, f in folders.items()}
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
    changes += _flow_changes(api, flows)
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
            continue
        same = (
            not current.get("is_flow")
            and current.get("script_path") == script_path
            and layout.schedule_from_remote(current, script_path)
            == _normalised(schedule, schedule_path, script_path)
        )
        if not same:
            changes.append(Change(kind="schedule", action="update", path=schedule_path))
    changes += [
        Change(kind="schedule", action="delete", path=p) for p in sorted(owned) if p not in wanted
    ]
    return PushPlan(
        root=root, changes=changes, local=local, remote_schedules=schedules, flows=flows
    )


def _flow_changes(api: client.Client, flows: dict[str, flow_layout.Flow]) -> list[Change]:
    if not flows:
        return []
    heads = {str(h["path"]) for h in api.list_flows()}
    changes = []
    for path, flow in flows.items():
        remote = api.get_flow(path) if path in heads else None
        what = flow_layout.diff(flow, remote)
        if what:
            action: Action = "add" if remote is None else "update"
            changes.append(
                Change(kind="flow", action=action, path=path, what=() if remote is None else what)
            )
    return changes


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


def _in_order(changes: list[Change], flows: dict[str, flow_layout.Flow]) -> list[Change]:
    """Flow changes with each sub-flow pushed before the flows that run it."""
    pending = {c.path: c for c in changes if c.kind == "flow"}
    ordered: list[Change] = []

    def visit(path: str, seen: frozenset[str]) -> None:
        change = pending.pop(path, None)
        if change is None:
            return
        for sub in sorted(flow_layout.sub_flows(flows[path].value) - seen - {path}):
            visit(sub, seen | {path})
        ordered.append(change)

    for change in [c for c in changes if c.kind == "flow"]:
        visit(change.path, frozenset())
    return ordered


def save_flow(api: client.Client, flow: flow_layout.Flow, *, create: bool) -> Saved:
    """Save one flow, its inline steps' code in it."""
    try:
        if create:
            api.create_flow(flow.body())
        else:
            api.update_flow(flow.path, flow.body())
    except client.ApiError as exc:  # the server's message names every problem
        return Saved(path=flow.path, kind="flow", error=f"{flow.file}: {exc.message}")
    return Saved(path=flow.path, kind="flow", schema=flow.schema)


def apply_push(api: client.Client, plan: PushPlan) -> tuple[list[Saved], list[str]]:
    """Carry out a push plan: scripts first, then flows (which run them), then schedules.

    Returns:
        Each saved script's and flow's outcome, and the schedule errors (empty when all
        went well).
    """
    saved = [save_script(api, plan.local[c.path]) for c in plan.changes if c.kind == "script"]
    for item in saved:
        write_lock(plan.root, item)
    saved += [
        save_flow(api, plan.flows[c.path], create=c.action == "add")
        for c in _in_order(plan.changes, plan.flows)
    ]
    failed = {s.path for s in saved if s.hash is None and s.kind == "script"}
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
        if not schedule.get("is_flow"):
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
        _file_changes(root, wanted, files, changes)
    pulled_flows = _pull_flows(api, root, config, files, changes)
    local_only = sorted(set(local_files) - set(pulled))
    local_flows = flow_layout.flow_folders(root, config)
    local_only += sorted(p + flow_layout.FLOW_SUFFIX for p in set(local_flows) - pulled_flows)
    return PullPlan(changes=changes, files=files, local_only=local_only)


def _pull_flows(
    api: client.Client,
    root: Path,
    config: layout.SyncConfig,
    files: dict[str, str | None],
    changes: list[Change],
) -> set[str]:
    """Add the file changes that make the folder's flows the workspace's; answer their paths.

    A flow whose folder already says what the server has is left as it is, whatever
    its formatting, so a pull after a push changes no byte.
    """
    heads = sorted(str(h["path"]) for h in api.list_flows())
    pulled = {p for p in heads if config.holds(p) and layout.PATH_RE.match(p)}
    for path in sorted(pulled):
        remote = api.get_flow(path)
        flow = flow_layout.from_remote(remote)
        folder = root / flow.folder
        if (folder / flow_layout.FLOW_FILE).is_file():
            try:
                if not flow_layout.diff(flow_layout.read_flow(root, path, folder), remote):
                    continue
            except layout.LayoutError:
                pass  # a folder that cannot be read is rewritten from the server's
        wanted: dict[str, str | None] = dict(flow_layout.files_of(flow))
        wanted |= dict.fromkeys(flow_layout.stale_files(root, flow, set(wanted)))
        _file_changes(root, wanted, files, changes)
    return pulled


def _file_changes(
    root: Path,
    wanted: dict[str, str | None],
    files: dict[str, str | None],
    changes: list[Change],
) -> None:
    """Add what differs between the wanted files (None: gone) and the folder's."""
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


def apply_pull(root: Path, plan: PullPlan) -> None:
    for name, text in plan.files.items():
        file = root / name
        if text is None:
            file.unlink(missing_ok=True)
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
