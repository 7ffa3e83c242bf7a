"""`-a name=value` and `--json ARGS` turned into a script's arguments, typed by its schema.

A shell gives every value as text; the script's input schema says what each
one is, so `-a count=3` sends the integer 3, `-a dry_run=yes` the boolean true,
`-a tags=a,b` (or `-a 'tags=["a","b"]'`) an array, and a string stays a string
even when it looks like a number. Values the schema does not type are read as
JSON when they parse, else kept as text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TRUE = {"true", "t", "yes", "y", "1", "on"}
FALSE = {"false", "f", "no", "n", "0", "off"}


class BadArgument(ValueError):
    """A value that cannot be what the schema asks for, or an unknown name."""


def _nullable(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema inside `anyOf: [X, {type: null}]`, and whether null is allowed."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        rest = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(rest) == 1 and len(rest) < len(options) and isinstance(rest[0], dict):
            return rest[0], True
    return schema, schema.get("type") == "null"


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def convert(name: str, text: str, schema: dict[str, Any]) -> Any:
    """One value from its text, as `schema` types it.

    Raises:
        BadArgument: The text cannot be the schema's type.
    """
    inner, nullable = _nullable(schema)
    if nullable and text == "null":
        return None
    kind = inner.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in _CONVERTERS:
        try:
            return _CONVERTERS[kind](name, text, inner)
        except BadArgument:
            raise
        except ValueError:
            raise BadArgument(f"{name}: {text!r} is not a valid {kind}") from None
    if "enum" in inner and text in [str(v) for v in inner["enum"]]:
        return next(v for v in inner["enum"] if str(v) == text)
    return _json_or_text(text)


def _number(_: str, text: str, __: dict[str, Any]) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _boolean(_: str, text: str, __: dict[str, Any]) -> bool:
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ValueError(text)


def _object(_: str, text: str, __: dict[str, Any]) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


def _array(name: str, text: str, schema: dict[str, Any]) -> list[Any]:
    if text.lstrip().startswith("["):
        value = json.loads(text)
        if not isinstance(value, list):
            raise ValueError(text)
        return value
    items = schema.get("items")
    items = items if isinstance(items, dict) else {}
    if not text:
        return []
    return [convert(f"{name}[{i}]", part.strip(), items) for i, part in enumerate(text.split(","))]


_CONVERTERS: dict[str, Callable[[str, str, dict[str, Any]], Any]] = {
    "string": lambda _, text, __: text,
    "integer": lambda _, text, __: int(text),
    "number": _number,
    "boolean": _boolean,
    "array": _array,
    "object": _object,
}


def parse_pairs(pairs: Sequence[str], schema: dict[str, Any] | None) -> dict[str, Any]:
    """`name=value` pairs as arguments; names must be the script's parameters.

    Args:
        pairs: The `-a` values, in order (a later one wins).
        schema: The script's input schema, or None when it is not known.
    """
    props: dict[str, Any] = (schema or {}).get("properties") or {}
    args: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BadArgument(f"-a takes name=value, not {pair!r}")
        if schema is not None and name not in props:
            known = ", ".join(props) or "no arguments"
            raise BadArgument(f"unknown argument {name!r}; the script takes {known}")
        args[name] = convert(name, text, props.get(name) or {})
    return args


def parse_json(text: str) -> dict[str, Any]:
    """`--json` arguments: a JSON object, `@file` to read one, or `-` for stdin."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadArgument(f"--json is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadArgument("--json must be a JSON object of arguments")
    return value


def build(
    pairs: Sequence[str], json_args: str | None, schema: dict[str, Any] | None
) -> dict[str, Any]:
    """The run's arguments: `--json` first, then each `-a` on top."""
    args = parse_json(json_args) if json_args else {}
    return {**args, **parse_pairs(pairs, schema)}
