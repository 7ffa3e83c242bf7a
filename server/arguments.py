"""Checking a run's arguments against its script's input schema, before queueing.

A bad call is refused with every failing field named, so a mistake costs the
caller one round trip instead of a failed job; defaults fill what was left out.
`jsonschema` is loaded by the first validation: a worker rarely needs it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import msgspec

from server import errors

if TYPE_CHECKING:
    import jsonschema

_IGNORED_KEYS = frozenset({"order"})
REFERENCE_PREFIXES = ("$var:", "$res:")


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> jsonschema.Draft202012Validator:
    import jsonschema

    schema = msgspec.json.decode(schema_json)
    return jsonschema.Draft202012Validator(
        {k: v for k, v in schema.items() if k not in _IGNORED_KEYS}
    )


def validate(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """The arguments with defaults filled in, or Invalid listing each bad field."""
    if not schema:
        return args
    validator = _validator(msgspec.json.encode(schema))
    problems = sorted(
        (e for e in validator.iter_errors(args) if not _stands_for_a_value(e, args)),
        key=lambda e: list(e.absolute_path),
    )
    if problems:
        details = [
            {
                "path": ".".join(str(p) for p in e.absolute_path) or _missing_field(e),
                "message": e.message,
            }
            for e in problems
        ]
        names = ", ".join(d["path"] or "(arguments)" for d in details)
        raise errors.Invalid(f"invalid arguments: {names}", details)
    filled = dict(args)
    for name, prop in schema.get("properties", {}).items():
        if name in filled or not isinstance(prop, dict):
            continue
        if "default" in prop:
            filled[name] = prop["default"]
        elif _nullable(prop):
            # `x: int | None` with no default: the script still expects the parameter
            filled[name] = None
    return filled


def is_reference(value: Any) -> bool:
    """`"$var:path"` / `"$res:path"`: a value the worker reads when the job starts."""
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES)


def _stands_for_a_value(error: jsonschema.ValidationError, args: dict[str, Any]) -> bool:
    """The failing value is a reference (or inside one's argument): its type is unknown
    until the worker resolves it, as the user who started the job."""
    path = list(error.absolute_path)
    return is_reference(error.instance) or bool(path and is_reference(args.get(str(path[0]))))


def _nullable(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [])
    return any(isinstance(o, dict) and o.get("type") == "null" for o in options)


def _missing_field(error: jsonschema.ValidationError) -> str:
    """A missing required property is reported on the object; name the property instead."""
    required = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in required if isinstance(required, list) else []:
            if name not in error.instance:
                return str(name)
    return ""
