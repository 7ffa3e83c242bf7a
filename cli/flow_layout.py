"""Flows in the sync layout, as Windmill's `wmill sync` writes them.

    f/<folder>/<name>.flow/flow.yaml                 summary, description, value, schema
    f/<folder>/<name>.flow/<id>.inline_script.py     each inline (rawscript) step's code
    f/<folder>/<name>.flow/<id>.inline_script.lock   its lock, when the flow has one

In `flow.yaml` an inline step's code is `content: '!inline a.inline_script.py'`, a
file beside it (the name comes from the step id; the extension from its language).
A flow's value is kept in the order it was written, so what a push sends is what a
pull writes back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import yaml

from cli import layout

FLOW_SUFFIX = ".flow"
FLOW_FILE = "flow.yaml"
INLINE = "!inline "
INLINE_MARK = ".inline_script."
LOCK_EXTENSION = "lock"
# Windmill's languages and the aliases the server accepts, to a file extension
EXTENSION_OF = {
    "python3": "py",
    "python": "py",
    "deno": "ts",
    "typescript": "ts",
    "bash": "sh",
}


class Flow(msgspec.Struct, frozen=True, kw_only=True):
    """One flow as the folder (inline files read in) or the server has it."""

    path: str
    summary: str = ""
    description: str = ""
    value: dict[str, Any]
    schema: dict[str, Any] | None = None

    @property
    def folder(self) -> str:
        return self.path + FLOW_SUFFIX

    @property
    def file(self) -> str:
        return f"{self.folder}/{FLOW_FILE}"

    def body(self) -> dict[str, Any]:
        """What `flows/create` and `flows/update` take."""
        return {
            "path": self.path,
            "summary": self.summary,
            "description": self.description,
            "value": self.value,
            "schema": self.schema,
        }


# -- YAML ----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Reads `content: !inline a.py` (an unquoted tag) as the string Windmill means by it."""


def _inline_tag(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, "!inline takes a file name", node.start_mark
        )
    return INLINE + str(loader.construct_scalar(node))


_Loader.add_constructor("!inline", _inline_tag)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so descriptions and expressions stay readable."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000_000)


# -- the modules of a flow -----------------------------------------------------------------


def inline_steps(value: Any) -> Iterator[dict[str, Any]]:
    """Every rawscript module of a flow value, however nested (loops, branches, failure)."""
    if isinstance(value, list):
        for item in value:
            yield from inline_steps(item)
    elif isinstance(value, dict):
        inner = value.get("value")
        if (
            isinstance(value.get("id"), str)
            and isinstance(inner, dict)
            and inner.get("type") == "rawscript"
        ):
            yield value
        for item in value.values():
            yield from inline_steps(item)


def sub_flows(value: Any) -> set[str]:
    """The paths of the flows a flow's `flow` steps run (pushed before it)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= sub_flows(item)
    elif isinstance(value, dict):
        if value.get("type") == "flow" and isinstance(value.get("path"), str):
            found.add(value["path"])
        for item in value.values():
            found |= sub_flows(item)
    return found


def inline_name(step_id: str, language: str) -> str:
    extension = EXTENSION_OF.get(str(language).lower())
    if extension is None:
        raise layout.LayoutError(f"step {step_id!r}: no file extension for language {language!r}")
    return f"{step_id}{INLINE_MARK}{extension}"


# -- the folder ----------------------------------------------------------------------------


def flow_path_of(root: Path, folder: Path) -> str | None:
    """The flow path a `<name>.flow` folder stands for (None: not a flow of the layout)."""
    if not folder.name.endswith(FLOW_SUFFIX):
        return None
    relative = folder.relative_to(root)
    if any(part in layout.SKIPPED_DIRS or part.startswith(".") for part in relative.parts):
        return None
    path = relative.as_posix().removesuffix(FLOW_SUFFIX)
    return path if layout.PATH_RE.match(path) else None


def flow_of(root: Path, file: Path) -> str | None:
    """The flow a changed file belongs to: its flow.yaml or a file beside it."""
    return flow_path_of(root, file.parent)


def flow_folders(root: Path, config: layout.SyncConfig) -> dict[str, Path]:
    """Every flow folder (one with a flow.yaml) the folder holds, by flow path."""
    found: dict[str, Path] = {}
    for top in ("f", "u"):
        if not (root / top).is_dir():
            continue
        for file in sorted((root / top).rglob(FLOW_FILE)):
            path = flow_path_of(root, file.parent)
            if path is not None and config.holds(path):
                found[path] = file.parent
    return found


def _read_inline(folder: Path, reference: str, where: str) -> str:
    name = reference.removeprefix(INLINE).strip()
    file = (folder / name).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise layout.LayoutError(f"{where}: {name!r} is outside the flow's folder")
    if not file.is_file():
        raise layout.LayoutError(f"{where}: no file {name!r} beside it")
    return file.read_text()


def read_flow(root: Path, path: str, folder: Path) -> Flow:
    """One flow from its folder, with its inline files read into its steps."""
    file = folder / FLOW_FILE
    where = file.relative_to(root).as_posix()
    try:
        document = yaml.load(file.read_text() or "{}", Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise layout.LayoutError(f"{where}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("value"), dict):
        raise layout.LayoutError(f"{where}: a flow is a mapping with a `value` mapping")
    value = document["value"]
    for step in inline_steps(value):
        script = step["value"]
        for field in ("content", "lock"):
            text = script.get(field)
            if isinstance(text, str) and text.startswith(INLINE):
                script[field] = _read_inline(folder, text, f"{where}: step {step['id']!r}")
    schema = document.get("schema")
    return Flow(
        path=path,
        summary=str(document.get("summary") or ""),
        description=str(document.get("description") or ""),
        value=value,
        schema=schema if isinstance(schema, dict) else None,
    )


def files_of(flow: Flow) -> dict[str, str]:
    """The files (relative path -> text) that stand for `flow`: flow.yaml and its inline code."""
    value = copy.deepcopy(flow.value)
    files: dict[str, str] = {}
    for step in inline_steps(value):
        script = step["value"]
        name = inline_name(step["id"], str(script.get("language")))
        if f"{flow.folder}/{name}" in files:
            raise layout.LayoutError(f"{flow.file}: two inline steps are named {step['id']!r}")
        files[f"{flow.folder}/{name}"] = str(script.get("content", ""))
        script["content"] = INLINE + name
        if script.get("lock"):
            lock = name.rsplit(".", 1)[0] + "." + LOCK_EXTENSION
            files[f"{flow.folder}/{lock}"] = str(script["lock"])
            script["lock"] = INLINE + lock
    document: dict[str, Any] = {
        "summary": flow.summary,
        "description": flow.description,
        "value": value,
    }
    if flow.schema is not None:
        document["schema"] = flow.schema
    return {flow.file: _dump(document), **files}


def stale_files(root: Path, flow: Flow, wanted: set[str]) -> list[str]:
    """Inline files in the flow's folder that no step of it names any more."""
    folder = root / flow.folder
    if not folder.is_dir():
        return []
    return sorted(
        name
        for file in folder.iterdir()
        if INLINE_MARK in file.name and (name := file.relative_to(root).as_posix()) not in wanted
    )


def from_remote(remote: dict[str, Any]) -> Flow:
    """A flow as the server answers `flows/get`."""
    schema = remote.get("schema")
    return Flow(
        path=str(remote["path"]),
        summary=str(remote.get("summary") or ""),
        description=str(remote.get("description") or ""),
        value=dict(remote.get("value") or {}),
        schema=schema if isinstance(schema, dict) else None,
    )


def diff(local: Flow, remote: dict[str, Any] | None) -> tuple[str, ...]:
    """What a push would change in a saved flow (empty: nothing)."""
    if remote is None:
        return ("new",)
    theirs = from_remote(remote)
    return tuple(
        field
        for field in ("summary", "description", "schema", "value")
        if getattr(local, field) != getattr(theirs, field)
    )
