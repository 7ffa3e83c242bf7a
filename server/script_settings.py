"""The settings a script version is saved with, by Windmill's field names.

The server saves them (`scripts/create`) and the CLI writes them to and reads
them from `.script.yaml` files; both read the list here, so a setting added to
the server cannot be silently dropped by `tidemill pull` and `push`. Standard
library only: the CLI imports it without the server's database layer.
"""

from __future__ import annotations

from typing import Any

# name -> the JSON type a value has, in the order `.script.yaml` files show them
TYPES: dict[str, type[Any]] = {
    "timeout": int,
    "tag": str,
    "priority": int,
    "concurrent_limit": int,
    "concurrency_time_window_s": int,
    "dedicated_worker": bool,
    "retry": dict,
}
FIELDS: tuple[str, ...] = tuple(TYPES)


# what the server fills in for a retry strategy's fields left out (models.RetryPolicy's)
RETRY_DEFAULTS: dict[str, dict[str, float]] = {
    "constant": {"seconds": 0},
    "exponential": {"seconds": 1, "multiplier": 1},
}


def without_nulls(value: Any) -> Any:
    """A value with null members dropped, at every depth."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def normal(name: str, value: Any) -> Any:
    """A setting's value as the server keeps it, so a file and a version compare equal.

    `{"constant": {"attempts": 3}}` in a file and `{"constant": {"attempts": 3,
    "seconds": 0}, "exponential": null}` on the server are the same retry policy.
    """
    value = without_nulls(value)
    if name == "retry" and isinstance(value, dict):
        return {
            strategy: {**RETRY_DEFAULTS.get(strategy, {}), **fields}
            if isinstance(fields, dict)
            else fields
            for strategy, fields in value.items()
        }
    return value
