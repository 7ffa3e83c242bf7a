"""Windmill's sync layout: a workspace as a folder of files.

    tidemill.yaml                     which paths the folder holds (`tidemill init`)
    f/<folder>/<name>.py|.ts|.sh      the script's code (its path is the file's, minus the suffix)
    f/<folder>/<name>.script.yaml     summary, description, settings, schedules
    f/<folder>/<name>.script.lock     the lock, when the script has one

Rendering is deterministic (keys in a fixed order, defaults left out), so a
pull of what a push wrote gives the same bytes and git shows no change.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import msgspec

from server import script_settings  # the standard-library list the server saves by

EXTENSIONS = {".py": "python3", ".ts": "deno", ".sh": "bash"}
SUFFIX_OF = {language: suffix for suffix, language in EXTENSIONS.items()}
CONFIG_FILE = "tidemill.yaml"
META_SUFFIX = ".script.yaml"
LOCK_SUFFIX = ".script.lock"
# Windmill's fields, in the order files show them; the server's own list, so none is dropped
SETTINGS = script_settings.FIELDS
SCHEDULE_DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "args": {},
    "enabled": True,
    "summary": "",
    "on_failure": None,
    "on_failure_extra_args": {},
    "on_recovery": None,
    "on_recovery_extra_args": {},
    "retry": None,
}
PATH_RE = re.compile(r"^(u|f)/[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")
SKIPPED_DIRS = {"__pycache__", "node_modules", ".git", ".venv"}

CONFIG_TEMPLATE = """\
# A Tidemill workspace folder: `tidemill push`, `pull` and `dev` work on the
# scripts whose paths match `includes` and none of `excludes` (glob patterns).
includes:
- f/**
excludes: []
"""


class LayoutError(ValueError):
    """A file that cannot be read as part of the layout (bad YAML, clashing files)."""


class SyncConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`tidemill.yaml`: which script paths the folder holds."""

    includes: list[str] = msgspec.field(default_factory=lambda: ["f/**"])
    excludes: list[str] = msgspec.field(default_factory=list)

    def holds(self, path: str) -> bool:
        def match(patterns: list[str]) -> bool:
            return any(fnmatch.fnmatchcase(path, p) for p in patterns)

        return match(self.includes) and not match(self.excludes)


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule as a `.script.yaml` lists it (its script is the file's)."""

    path: str | None = None
    schedule: str
    timezone: str = "UTC"
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    enabled: bool = True
    summary: str = ""
    on_failure: str | None = None
    on_failure_extra_args: dict[str, Any] = msgspec.field(default_factory=dict)
    on_recovery: str | None = None
    on_recovery_extra_args: dict[str, Any] = msgspec.field(default_factory=dict)
    retry: dict[str, Any] | None = None  # the schedule's own policy (else the script's)


class Meta(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`<name>.script.yaml`. A missing summary is the docstring's, as a save without one."""

    summary: str | None = None
    description: str = ""
    timeout: int | None = None
    tag: str | None = None
    priority: int | None = None
    concurrent_limit: int | None = None
    concurrency_time_window_s: int | None = None
    dedicated_worker: bool | None = None
    retry: dict[str, Any] | None = None
    schedules: list[Schedule] = msgspec.field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        """The settings the file sets, as written (nulls and unset ones left out)."""
        return {
            f: script_settings.without_nulls(getattr(self, f))
            for f in SETTINGS
            if getattr(self, f) is not None
        }


class Script(msgspec.Struct, frozen=True, kw_only=True):
    """One script as the folder (or the server) has it."""

    path: str
    language: str
    content: str
    meta: Meta
    lock: str | None = None

    @property
    def code_file(self) -> str:
        return self.path + SUFFIX_OF[self.language]

    def schedules(self) -> dict[str, Schedule]:
        """Its schedules by path (a schedule without one takes the script's)."""
        return {s.path or self.path: s for s in self.meta.schedules}


def language_of(file: Path) -> str | None:
    """The language a file's extension names (None: not a script)."""
    return EXTENSIONS.get(file.suffix)


def script_path_in_folder(file: Path) -> str | None:
    """The script path a file has in the workspace folder around it (a `tidemill.yaml`
    in one of its parents); None when it is in none, or not where a script can be."""
    file = file.resolve()
    for root in file.parents:
        if (root / CONFIG_FILE).is_file():
            return script_path_of(root, file)
    return None


def load_config(root: Path) -> SyncConfig:
    file = root / CONFIG_FILE
    if not file.exists():
        return SyncConfig()
    try:
        return msgspec.yaml.decode(file.read_bytes() or b"{}", type=SyncConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LayoutError(f"{file}: {exc}") from None


def parse_meta(text: str, where: str) -> Meta:
    try:
        return msgspec.yaml.decode(text.encode() or b"{}", type=Meta)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LayoutError(f"{where}: {exc}") from None


def render_meta(meta: Meta) -> str:
    body: dict[str, Any] = {"summary": meta.summary or "", "description": meta.description}
    body |= meta.settings()
    if meta.schedules:
        body["schedules"] = [_schedule_fields(s) for s in meta.schedules]
    return msgspec.yaml.encode(body).decode()


def _schedule_fields(schedule: Schedule) -> dict[str, Any]:
    """A schedule's fields in a fixed order, defaults left out."""
    fields: dict[str, Any] = {"path": schedule.path} if schedule.path else {}
    fields["schedule"] = schedule.schedule
    for name, default in SCHEDULE_DEFAULTS.items():
        value = getattr(schedule, name)
        if value != default:
            fields[name] = value
    return fields


def script_path_of(root: Path, file: Path) -> str | None:
    """The script path a code file stands for (None: not a script file of the layout)."""
    if language_of(file) is None or file.name.endswith((META_SUFFIX, LOCK_SUFFIX)):
        return None
    relative = file.relative_to(root)
    if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts[:-1]):
        return None
    if any(part.endswith(".flow") for part in relative.parts[:-1]):
        return None  # a flow's inline scripts belong to the flow
    path = relative.with_suffix("").as_posix()
    return path if PATH_RE.match(path) else None


def read_script(root: Path, path: str, code: Path) -> Script:
    """One script from its files."""
    language = language_of(code)
    assert language is not None
    meta_file = root / (path + META_SUFFIX)
    meta = parse_meta(meta_file.read_text(), str(meta_file)) if meta_file.exists() else Meta()
    lock_file = root / (path + LOCK_SUFFIX)
    lock = lock_file.read_text() if lock_file.exists() else None
    return Script(path=path, language=language, content=code.read_text(), meta=meta, lock=lock)


def code_files(root: Path, config: SyncConfig) -> dict[str, Path]:
    """Every script file the folder holds, by script path."""
    found: dict[str, Path] = {}
    for top in ("f", "u"):
        if not (root / top).is_dir():
            continue
        for file in sorted((root / top).rglob("*")):
            path = script_path_of(root, file) if file.is_file() else None
            if path is None or not config.holds(path):
                continue
            if path in found:
                raise LayoutError(f"{path} has two code files: {found[path].name} and {file.name}")
            found[path] = file
    return found


def read_folder(root: Path) -> dict[str, Script]:
    """Every script the folder holds, by path."""
    config = load_config(root)
    return {path: read_script(root, path, code) for path, code in code_files(root, config).items()}


def files_of(script: Script) -> dict[str, str]:
    """The files (relative path -> text) that stand for `script`."""
    files = {script.code_file: script.content, script.path + META_SUFFIX: render_meta(script.meta)}
    if script.lock:
        files[script.path + LOCK_SUFFIX] = script.lock
    return files


def from_remote(remote: dict[str, Any], schedules: list[dict[str, Any]]) -> Script:
    """A script as the server answers `scripts/get`, with the schedules that run it."""
    settings = remote.get("settings") or {}
    path = str(remote["path"])
    meta = Meta(
        summary=remote.get("summary") or "",
        description=remote.get("description") or "",
        schedules=[schedule_from_remote(s, path) for s in sorted(schedules, key=_by_path)],
        **{
            f: script_settings.without_nulls(settings[f])
            for f in SETTINGS
            if settings.get(f) is not None
        },
    )
    return Script(
        path=path,
        language=str(remote["language"]),
        content=str(remote["content"]),
        meta=meta,
        lock=remote.get("lock") or None,
    )


def _by_path(schedule: dict[str, Any]) -> str:
    return str(schedule.get("path", ""))


def schedule_from_remote(remote: dict[str, Any], script_path: str) -> Schedule:
    fields = {name: remote.get(name, default) for name, default in SCHEDULE_DEFAULTS.items()}
    fields = {
        k: v if v is not None or SCHEDULE_DEFAULTS[k] is None else SCHEDULE_DEFAULTS[k]
        for k, v in fields.items()
    }
    if fields["retry"] is not None:
        fields["retry"] = script_settings.normal("retry", fields["retry"])
    path = remote.get("path")
    return Schedule(
        path=None if path == script_path else path, schedule=str(remote["schedule"]), **fields
    )


def schedule_body(schedule: Schedule, path: str, script_path: str) -> dict[str, Any]:
    """The body `schedules/create` takes for a schedule of the folder."""
    body = {f: getattr(schedule, f) for f in SCHEDULE_DEFAULTS}
    return {"path": path, "schedule": schedule.schedule, "script_path": script_path, **body}
