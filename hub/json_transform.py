"""Reshape JSON with jq-like expressions: paths, iteration, pipes, select and map.

Supported: `.`, `.a.b`, `."odd key"`, `.[0]`, `.[-1]`, `.[2:5]`, `.[]`, `|`, `,`,
`[ ... ]` to collect, literals, comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`,
`and`, `or`), `select(f)`, `map(f)`, `sort_by(f)`, and `length`, `keys`,
`values`, `first`, `last`, `sort`, `unique`, `reverse`, `flatten`, `add`, `min`,
`max`, `not`, `type`, `tostring`, `tonumber`, `to_entries`, `from_entries`,
`ascii_downcase`, `ascii_upcase`. A missing key is null, as in jq.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterator
from typing import Any

Filter = Callable[[Any], Iterator[Any]]

TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|<|>)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[.\[\]:|(),])
    )""",
    re.VERBOSE,
)
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _flatten(value: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in value:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _add(value: list[Any]) -> Any:
    if not value:
        return None
    total = value[0]
    for item in value[1:]:
        total = total | item if isinstance(total, dict) else total + item
    return total


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _unique(value: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for item in value:
        seen.setdefault(json.dumps(item, sort_keys=True), item)
    return [seen[key] for key in sorted(seen, key=lambda k: _sort_key(seen[k]))]


def _sort_key(value: Any) -> tuple[int, Any]:
    """jq's order: null < false < true < numbers < strings < arrays < objects."""
    rank = {"null": 0, "boolean": 1, "number": 2, "string": 3, "array": 4, "object": 5}
    kind = _type(value)
    if kind in ("array", "object"):
        return rank[kind], json.dumps(value, sort_keys=True)
    return rank[kind], value if value is not None else 0


BUILTINS: dict[str, Callable[[Any], Any]] = {
    "length": lambda v: len(v) if v is not None else 0,
    "keys": lambda v: sorted(v) if isinstance(v, dict) else list(range(len(v))),
    "values": lambda v: list(v.values()) if isinstance(v, dict) else list(v),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "sort": lambda v: sorted(v, key=_sort_key),
    "unique": _unique,
    "reverse": lambda v: list(reversed(v)),
    "flatten": _flatten,
    "add": _add,
    "min": lambda v: min(v, key=_sort_key) if v else None,
    "max": lambda v: max(v, key=_sort_key) if v else None,
    "not": lambda v: v is None or v is False,
    "type": _type,
    "tostring": lambda v: v if isinstance(v, str) else json.dumps(v),
    "tonumber": lambda v: v if isinstance(v, (int, float)) else json.loads(v),
    "to_entries": lambda v: [{"key": k, "value": x} for k, x in v.items()],
    "from_entries": lambda v: {str(e.get("key", e.get("name"))): e.get("value") for e in v},
    "ascii_downcase": lambda v: v.lower(),
    "ascii_upcase": lambda v: v.upper(),
}


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


class Parser:
    """A recursive-descent parser that compiles an expression into a filter."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text.rstrip()):
            match = TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise ValueError(f"cannot read the expression at {text[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ValueError(f"the expression ends early (expected {expected or 'more'})")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Filter:
        if not self.tokens:
            return _identity
        result = self.pipe()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return result

    def pipe(self) -> Filter:
        left = self.comma()
        while self.peek() == "|":
            self.take("|")
            left = _then(left, self.comma())
        return left

    def comma(self) -> Filter:
        parts = [self.logic()]
        while self.peek() == ",":
            self.take(",")
            parts.append(self.logic())
        return parts[0] if len(parts) == 1 else _concat(parts)

    def logic(self) -> Filter:
        left = self.comparison()
        while self.peek() in ("and", "or"):
            word = self.take()[1]
            left = _logic(word, left, self.comparison())
        return left

    def comparison(self) -> Filter:
        left = self.postfix()
        if self.peek() in COMPARE:
            op = COMPARE[self.take()[1]]
            return _binary(op, left, self.postfix())
        return left

    def postfix(self) -> Filter:
        result = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                result = _then(result, self.key())
            else:
                result = _then(result, self.bracket())
        return result

    def key(self) -> Filter:
        kind, value = self.take()
        if kind not in ("ident", "string"):
            raise ValueError(f"expected a key after '.', found {value!r}")
        name = json.loads(value) if kind == "string" else value
        return _field(name)

    def bracket(self) -> Filter:
        """After '[': `]` (iterate), `n]`, `"key"]`, or a slice `a:b]`."""
        if self.peek() == "]":
            self.take("]")
            return _iterate
        start = self._number_or_none()
        if self.peek() == ":":
            self.take(":")
            end = self._number_or_none()
            self.take("]")
            return _slice(start, end)
        if start is not None:
            self.take("]")
            return _index(start)
        kind, value = self.take()
        if kind != "string":
            raise ValueError(f"expected an index, a slice or a key in [ ], found {value!r}")
        self.take("]")
        return _field(json.loads(value))

    def _number_or_none(self) -> int | None:
        if self.at < len(self.tokens) and self.tokens[self.at][0] == "number":
            return int(self.take()[1])
        return None

    def primary(self) -> Filter:
        kind, value = self.take()
        if value == ".":
            if self.at < len(self.tokens) and self.tokens[self.at][0] in ("ident", "string"):
                return self.key()
            if self.peek() == "[":
                self.take("[")
                return self.bracket()
            return _identity
        if value == "[":
            if self.peek() == "]":
                self.take("]")
                return _const([])
            inner = self.pipe()
            self.take("]")
            return _collect(inner)
        if value == "(":
            inner = self.pipe()
            self.take(")")
            return inner
        if kind in ("string", "number"):
            return _const(json.loads(value))
        if kind == "ident":
            return self.word(value)
        raise ValueError(f"unexpected {value!r}")

    def word(self, name: str) -> Filter:
        if name in ("true", "false", "null"):
            return _const(json.loads(name))
        if name in ("select", "map", "sort_by"):
            self.take("(")
            inner = self.pipe()
            self.take(")")
            return {"select": _select, "map": _map, "sort_by": _sort_by}[name](inner)
        if name in BUILTINS:
            function = BUILTINS[name]
            return lambda value: iter([function(value)])
        raise ValueError(f"unknown function {name!r}")


def _identity(value: Any) -> Iterator[Any]:
    yield value


def _const(constant: Any) -> Filter:
    return lambda _: iter([constant])


def _then(first: Filter, second: Filter) -> Filter:
    return lambda value: (out for middle in first(value) for out in second(middle))


def _concat(parts: list[Filter]) -> Filter:
    return lambda value: (out for part in parts for out in part(value))


def _field(name: str) -> Filter:
    def get(value: Any) -> Iterator[Any]:
        if value is None:
            yield None
        elif isinstance(value, dict):
            yield value.get(name)
        else:
            raise ValueError(f"cannot read key {name!r} of a {_type(value)}")

    return get


def _index(number: int) -> Filter:
    def get(value: Any) -> Iterator[Any]:
        if value is None:
            yield None
        elif isinstance(value, list):
            yield value[number] if -len(value) <= number < len(value) else None
        else:
            raise ValueError(f"cannot index a {_type(value)} with a number")

    return get


def _slice(start: int | None, end: int | None) -> Filter:
    return lambda value: iter([None if value is None else value[start:end]])


def _iterate(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, list):
        yield from value
    else:
        raise ValueError(f"cannot iterate over a {_type(value)}")


def _collect(inner: Filter) -> Filter:
    return lambda value: iter([list(inner(value))])


def _binary(op: Callable[[Any, Any], Any], left: Filter, right: Filter) -> Filter:
    return lambda value: (op(a, b) for b in right(value) for a in left(value))


def _logic(word: str, left: Filter, right: Filter) -> Filter:
    def run(value: Any) -> Iterator[Any]:
        for a in left(value):
            if word == "and" and not _truthy(a):
                yield False
            elif word == "or" and _truthy(a):
                yield True
            else:
                yield from (_truthy(b) for b in right(value))

    return run


def _select(condition: Filter) -> Filter:
    return lambda value: (value for ok in condition(value) if _truthy(ok))


def _map(inner: Filter) -> Filter:
    return lambda value: iter([[out for item in _iterate(value) for out in inner(item)]])


def _sort_by(key: Filter) -> Filter:
    def run(value: Any) -> Iterator[Any]:
        yield sorted(value, key=lambda item: [_sort_key(k) for k in key(item)])

    return run


def transform(data: Any, expression: str) -> list[Any]:
    """Every output of `expression` applied to `data`, in order."""
    return list(Parser(expression).parse()(data))


def main(
    data: Any,
    expression: str = ".",
    mapping: dict[str, str] | None = None,
) -> Any:
    """Apply a jq-like expression to `data`, or build an object from several.

    Args:
        data: Any JSON value.
        expression: e.g. `.items[] | select(.price > 10) | .name`; wrap it in [ ] to
            collect several outputs into one list.
        mapping: Instead of `expression`, output name -> expression; each expression's
            output becomes that key's value (a list when it has several outputs).

    Returns:
        The expression's output (a list when it gives several), or the mapped object.
    """
    if mapping:
        return {name: _one_or_all(transform(data, expr)) for name, expr in mapping.items()}
    return _one_or_all(transform(data, expression))


def _one_or_all(outputs: list[Any]) -> Any:
    return outputs[0] if len(outputs) == 1 else outputs
