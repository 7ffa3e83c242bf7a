"""The hub's catalogue: the ready-made scripts shipped in `hub/`, with their metadata.

Each entry is a code file and its `.script.yaml` (the sync layout), so adding
one to a workspace is the same as pushing a file of one's own.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import msgspec

from cli import layout

PEP723 = re.compile(r"(?m)^# /// script\s*$\n(?P<body>(?:^#(?:| .*)$\n)+?)^# ///\s*$")
DEPENDENCIES = re.compile(r"dependencies\s*=\s*\[(?P<items>[^\]]*)\]", re.DOTALL)


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One hub script."""

    name: str
    file: Path
    language: str
    meta: layout.Meta
    dependencies: list[str]

    def script(self, path: str) -> layout.Script:
        """The entry as a script saved at `path`."""
        return layout.Script(
            path=path, language=self.language, content=self.file.read_text(), meta=self.meta
        )


def hub_dir() -> Path:
    """Where the hub's files are: beside the `cli` package, in the source tree and the wheel."""
    return Path(__file__).resolve().parent.parent / "hub"


def dependencies(content: str) -> list[str]:
    """The requirements a PEP 723 `# /// script` block names (empty: standard library only)."""
    block = PEP723.search(content)
    if block is None:
        return []
    body = "\n".join(line[2:] for line in block.group("body").splitlines())
    found = DEPENDENCIES.search(body)
    if found is None:
        return []
    return [item.strip().strip("\"'") for item in found.group("items").split(",") if item.strip()]


def entries(root: Path | None = None) -> list[Entry]:
    """Every hub script, by name."""
    root = root or hub_dir()
    found = []
    for file in sorted(root.iterdir()):
        language = layout.language_of(file)
        if language is None or file.name.startswith("_"):
            continue
        meta_file = file.with_name(file.stem + layout.META_SUFFIX)
        meta = (
            layout.parse_meta(meta_file.read_text(), str(meta_file))
            if meta_file.exists()
            else layout.Meta()
        )
        found.append(
            Entry(
                name=file.stem,
                file=file,
                language=language,
                meta=meta,
                dependencies=dependencies(file.read_text()),
            )
        )
    return found


class UnknownEntry(LookupError):
    """No hub script has that name."""


def find(name: str, root: Path | None = None) -> Entry:
    """The hub script called `name` (suggesting near names when there is none)."""
    known = {entry.name: entry for entry in entries(root)}
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `tidemill hub list` shows them"
    raise UnknownEntry(f"no hub script named {name!r}{hint}")
