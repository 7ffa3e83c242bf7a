"""A script's input schema for people: `name: string = "world", count: integer`."""

from __future__ import annotations

import json
from typing import Any


def type_name(prop: dict[str, Any]) -> str:
    """A property's type the way a signature reads (`string[]`, `"a" | "b"`, ...)."""
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(type_name(p) for p in prop["anyOf"] if isinstance(p, dict))
    kind = str(prop.get("type", "any"))
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"{type_name(prop['items'])}[]"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    return kind


def parameters(schema: dict[str, Any] | None) -> list[tuple[str, str, dict[str, Any]]]:
    """Each parameter in declared order: its name, `name: type[ = default]`, its schema."""
    schema = schema or {}
    props: dict[str, Any] = schema.get("properties") or {}
    order = [p for p in schema.get("order") or props if p in props]
    order += [p for p in props if p not in order]
    required = set(schema.get("required") or ())
    out = []
    for name in order:
        prop = props[name]
        text = f"{name}: {type_name(prop)}"
        if "default" in prop:
            text += f" = {json.dumps(prop['default'])}"
        elif name not in required:
            text += " (optional)"
        out.append((name, text, prop))
    return out


def signature(schema: dict[str, Any] | None) -> str:
    """All parameters on one line, in parentheses."""
    return "(" + ", ".join(text for _, text, _ in parameters(schema)) + ")"
