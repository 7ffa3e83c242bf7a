"""The shapes every language's introspection agrees on.

Python, TypeScript and Bash each read their own syntax, but the schemas they
produce must look alike so that one form renderer and one validator serve all
three. This module owns those shared decisions:

- **Nullable** is always `{"anyOf": [<schema>, {"type": "null"}]}` (the shape
  pydantic emits for `Optional`), never a `"type"` list, because it works the
  same for enums, objects and `$ref`s. An unconstrained `{}` already admits null
  and stays `{}`.
- **Enums** carry a `"type"` when every value has the same JSON type, and null
  is never an enum value: a nullable enum is an enum wrapped as above.
- **Objects** built from declared fields always list `required` (possibly
  empty) and stay open to extra keys; only the top-level argument object is
  closed (see `arguments`).
- **Named types** (TypedDict, dataclass, interface, type alias) are inlined;
  only a type that refers to itself goes to `$defs` and is used by `$ref`.
- **Parse errors** name a 1-based line and character column, as editors do.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import msgspec
from tree_sitter import Node

from server import errors

DIALECT = "https://json-schema.org/draft/2020-12/schema"

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
Schema: TypeAlias = dict[str, Any]


class Signature(msgspec.Struct, frozen=True, kw_only=True):
    """What a script's entry point accepts and returns, as JSON Schema."""

    schema: dict[str, Any]
    result_schema: dict[str, Any] | None
    warnings: tuple[str, ...]
    summary: str | None
    arg_order: tuple[str, ...]


class Param(msgspec.Struct, frozen=True, kw_only=True):
    """One parameter (or object field) on its way into a `properties` map."""

    name: str
    schema: Schema
    required: bool


class _NoValue(enum.Enum):
    """Marks a default that is absent or not a JSON literal (None is a real value)."""

    NO_VALUE = enum.auto()


NO_VALUE = _NoValue.NO_VALUE
MaybeValue: TypeAlias = JsonValue | _NoValue


def null() -> Schema:
    """The schema of JSON null."""
    return {"type": "null"}


def nullable(schema: Schema) -> Schema:
    """`schema` widened to also accept null, in the one shape used everywhere."""
    if not schema or schema == null():
        return schema
    members = schema.get("anyOf")
    if members is not None and len(schema) == 1:
        return schema if null() in members else {"anyOf": [*members, null()]}
    return {"anyOf": [schema, null()]}


def union(members: Sequence[Schema]) -> Schema:
    """A schema accepting any of `members`; null members make it nullable."""
    flat = [inner for member in members for inner in _alternatives(member)]
    has_null = null() in flat
    alternatives: list[Schema] = []
    for member in flat:
        if member == null() or member in alternatives:
            continue
        if not member:
            return {}
        alternatives.append(member)
    if not alternatives:
        return null()
    combined = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    return nullable(combined) if has_null else combined


def _alternatives(schema: Schema) -> list[Schema]:
    """The members of a bare `anyOf`, so that nested unions flatten."""
    if len(schema) == 1 and "anyOf" in schema:
        return list(schema["anyOf"])
    return [schema]


def _json_type(value: JsonValue) -> str:
    """The JSON Schema type name of a JSON value."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    raise AssertionError(value)


def enum_of(values: Sequence[JsonValue]) -> Schema:
    """An enum of literal values, typed when they share a type, nullable if None is one."""
    pairs: list[tuple[str, JsonValue]] = []
    for value in values:
        if value is not None and (_json_type(value), value) not in pairs:
            pairs.append((_json_type(value), value))
    if not pairs:
        return null()
    types = {kind for kind, _ in pairs}
    result: Schema = {}
    if types == {"integer", "number"}:
        result["type"] = "number"
    elif len(types) == 1:
        result["type"] = types.pop()
    result["enum"] = [value for _, value in pairs]
    return nullable(result) if None in values else result


def value_schema(value: JsonValue) -> Schema:
    """The type of a default value, for a parameter whose type is not written."""
    return {} if value is None else {"type": _json_type(value)}


class _NotJson(Exception):
    """Raised inside `from_python` to abandon a value that has no JSON form."""


def from_python(value: Any) -> MaybeValue:
    """`value` as JSON if it is representable without loss, else NO_VALUE."""
    try:
        return _json(value)
    except _NotJson:
        return NO_VALUE


def _json(value: Any) -> JsonValue:
    """`value` as JSON, raising `_NotJson` for sets, bytes, NaN and the like."""
    match value:
        case None | bool() | int() | str():
            return value
        case float() if math.isfinite(value):
            return value
        case list() | tuple():
            return [_json(item) for item in value]
        case dict() if all(isinstance(key, str) for key in value):
            return {key: _json(item) for key, item in value.items()}
    raise _NotJson


def described(schema: Schema, description: str | None, default: MaybeValue) -> Schema:
    """`schema` with its description and default, which belong to the property."""
    result = dict(schema)
    if description:
        result["description"] = description
    if default is not NO_VALUE:
        result["default"] = default
    return result


def array_of(items: Schema, *, unique: bool = False) -> Schema:
    """An array schema, leaving out `items` when they are unconstrained."""
    found: Schema = {"type": "array"}
    if items:
        found["items"] = items
    if unique:
        found["uniqueItems"] = True
    return found


def tuple_of(items: Sequence[Schema]) -> Schema:
    """A fixed-length array whose positions have their own types."""
    return {
        "type": "array",
        "prefixItems": list(items),
        "minItems": len(items),
        "maxItems": len(items),
    }


def map_of(values: Schema) -> Schema:
    """An object with arbitrary keys whose values share one schema."""
    return {"type": "object", "additionalProperties": values} if values else {"type": "object"}


def object_of(params: Sequence[Param]) -> Schema:
    """An object schema whose properties keep declaration order."""
    return {
        "type": "object",
        "properties": {param.name: param.schema for param in params},
        "required": [param.name for param in params if param.required],
    }


def arguments(params: Sequence[Param], defs: dict[str, Schema], *, closed: bool) -> Schema:
    """The document for main's arguments.

    It is closed (`additionalProperties: false`) unless main takes `**kwargs`:
    an argument main does not declare is a typo that TypeScript and Bash would
    silently drop and Python would reject at call time, so the API rejects it
    up front with a 422 naming the field.
    """
    document: Schema = {"$schema": DIALECT, **object_of(params)}
    if closed:
        document["additionalProperties"] = False
    if defs:
        document["$defs"] = defs
    return document


def result(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """A standalone document for the return value, with its own `$defs`."""
    document: Schema = {"$schema": DIALECT, **schema}
    if defs:
        document["$defs"] = defs
    return document


def first_line(text: str | None) -> str | None:
    """The first non-blank line of a docstring or comment, stripped."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def syntax_error(line: int, column: int, message: str) -> errors.InvalidScript:
    """The error for unparseable source; line and column are 1-based, like editors."""
    return errors.InvalidScript(f"line {line}: {message}", {"line": line, "column": column})


def text(node: Node) -> str:
    """The source text of a tree-sitter node."""
    return (node.text or b"").decode()


def first_error(root: Node) -> Node:
    """Where a tree-sitter parse first went wrong: a MISSING node or a stray token."""
    return _first_error(root) or root


def _first_error(node: Node) -> Node | None:
    """The first MISSING node, or token inside an ERROR node, in document order."""
    for child in node.children:
        if child.is_missing or (node.is_error and not child.is_named):
            return child
        if child.has_error:
            found = _first_error(child)
            if found is not None:
                return found
    return node if node.is_error else None


def location(node: Node, source: bytes) -> tuple[int, int]:
    """A node's 1-based line and column, the column counted in characters, not bytes."""
    row, byte_column = node.start_point
    prefix = source[node.start_byte - byte_column : node.start_byte]
    return row + 1, len(prefix.decode(errors="replace")) + 1


class NamedTypes:
    """Expands named types inline, switching to `$defs` only for recursive ones.

    One instance serves one document, since `$ref`s resolve against the
    document root; it lives for a single `infer_signature` call.
    """

    def __init__(self) -> None:
        self.defs: dict[str, Schema] = {}
        self._expanding: list[str] = []
        self._recursive: set[str] = set()

    def expand(self, name: str, build: Callable[[], Schema]) -> Schema:
        """The schema of type `name`, built once per use unless it is recursive."""
        ref = {"$ref": f"#/$defs/{name}"}
        if name in self.defs:
            return ref
        if name in self._expanding:
            self._recursive.add(name)
            return ref
        self._expanding.append(name)
        try:
            built = build()
        finally:
            self._expanding.pop()
        if name not in self._recursive:
            return built
        self.defs[name] = built
        return ref
