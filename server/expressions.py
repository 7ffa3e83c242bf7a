"""Flow expressions: the `expr` of input transforms, branches, skip_if and stop_after_if.

Three tiers, fastest first, all without running user code in a JavaScript engine:

1. a plain path (`flow_input.x`, `results.a.b[0]`, `previous_result`) is a lookup;
2. Windmill's common `javascript` subset (literals, paths, template strings,
   arithmetic, comparisons, `!`, `&&`/`||`/`??`, ternaries, array and object
   literals, `.length`) is evaluated by a small interpreter with JavaScript's
   semantics, so a Windmill flow's expressions give the values Windmill gives;
3. anything else is CEL (`common-expression-language`), e.g. `size(results.a)`,
   `results.a.map(x, x * 2)`, `has(flow_input.x)`.

Expressions are compiled once and cached by their text. The CEL library is
loaded by the first expression that needs it: importing it costs ~14 MB of
memory, which a worker (it advances flows) would otherwise hold for nothing.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from server import errors

Context = Mapping[str, Any]
Evaluator = Callable[[Context], Any]


class ExpressionError(errors.Invalid):
    """An expression that does not parse, or that fails on the values it was given."""

    code = "invalid_expression"


class _Undefined:
    """JavaScript's `undefined`: what a missing key reads as; `null` once stored."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()

_PATH_RE = re.compile(
    r"""^\s*([A-Za-z_$][\w$]*)((?:\.[A-Za-z_$][\w$]*|\[\d+\]|\["[^"\\]*"\]|\['[^'\\]*'\])*)\s*$"""
)
_STEP_RE = re.compile(r"""\.([A-Za-z_$][\w$]*)|\[(\d+)\]|\["([^"\\]*)"\]|\['([^'\\]*)'\]""")


# --- public API ---------------------------------------------------------------------------


def evaluate(expr: str, context: Context) -> Any:
    """The value of `expr` over `context` (missing keys read as null)."""
    return _plain(compile_expr(expr)(context))


def check(expr: str) -> None:
    """Raise ExpressionError naming the problem when `expr` does not parse."""
    compile_expr(expr)


def referenced_steps(expr: str) -> set[str]:
    """The step ids an expression reads as `results.<id>` (or `results["<id>"]`)."""
    found = set()
    for match in re.finditer(
        r"""\bresults\s*(?:\.\s*([A-Za-z_$][\w$]*)|\[\s*["']([^"']+)["']\s*\])""", expr
    ):
        found.add(match.group(1) or match.group(2))
    return found


def truthy(value: Any) -> bool:
    """JavaScript's truthiness, which Windmill's branch and skip conditions use."""
    if value is None or value is UNDEFINED or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


@functools.lru_cache(maxsize=4096)
def compile_expr(expr: str) -> Evaluator:
    """Compile once: a path lookup, the JavaScript subset, or a CEL program."""
    match = _PATH_RE.match(expr)
    if match and match.group(1) not in _KEYWORDS:
        return _path_lookup(match.group(1), _path_steps(match.group(2)))
    try:
        return _Parser(expr).parse()
    except _NotSubset:
        pass
    except ExpressionError as js_error:
        cel_error = _cel_error(expr)
        if cel_error is not None:
            raise js_error from None
    import cel  # see the module's docstring: loaded by the first expression needing it

    try:
        program = cel.compile(expr)
    except ValueError as exc:
        raise ExpressionError(
            f"expression does not parse: {expr!r}: {exc}",
            [{"path": "expr", "message": str(exc)}],
        ) from None
    return lambda context: _run_cel(program, expr, context)


# --- tier 1: paths ------------------------------------------------------------------------


def _path_steps(text: str) -> tuple[str | int, ...]:
    steps: list[str | int] = []
    for m in _STEP_RE.finditer(text):
        if m.group(2) is not None:
            steps.append(int(m.group(2)))
        else:
            steps.append(next(g for g in (m.group(1), m.group(3), m.group(4)) if g is not None))
    return tuple(steps)


def _path_lookup(root: str, steps: tuple[str | int, ...]) -> Evaluator:
    def lookup(context: Context) -> Any:
        value = context.get(root, UNDEFINED) if root not in _GLOBALS else _GLOBALS[root]
        for step in steps:
            value = _member(value, step, root)
        return value

    return lookup


def _member(value: Any, key: Any, where: str = "") -> Any:
    if value is None or value is UNDEFINED:
        raise ExpressionError(
            f"cannot read {key!r} of {'null' if value is None else 'undefined'}"
            + (f" (in {where})" if where else ""),
            [{"path": where or "expr", "message": f"cannot read {key!r} of a missing value"}],
        )
    if isinstance(value, dict):
        return value.get(str(key) if not isinstance(key, str) else key, UNDEFINED)
    if isinstance(value, list | str):
        if key == "length":
            return len(value)
        index = _as_index(key)
        if index is not None and 0 <= index < len(value):
            return value[index]
        return UNDEFINED
    return UNDEFINED


def _as_index(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None


# --- tier 3: CEL --------------------------------------------------------------------------


def _cel_error(expr: str) -> str | None:
    import cel

    try:
        cel.compile(expr)
    except ValueError as exc:
        return str(exc)
    return None


def _run_cel(program: Any, expr: str, context: Context) -> Any:
    try:
        return program.execute(dict(context))
    except (LookupError, RuntimeError, TypeError, ValueError, ArithmeticError) as exc:
        raise ExpressionError(
            f"expression {expr!r} failed: {exc}", [{"path": "expr", "message": str(exc)}]
        ) from None


# --- tier 2: the JavaScript subset --------------------------------------------------------


class _NotSubset(Exception):
    """Valid-looking syntax outside the JavaScript subset: left to CEL."""


_KEYWORDS = {"true", "false", "null", "undefined", "typeof", "in", "new", "function"}
_GLOBALS: dict[str, Any] = {"undefined": UNDEFINED, "NaN": math.nan, "Infinity": math.inf}
_PUNCT = sorted(
    [
        "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "=>",
        "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_NUMBER_RE = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_$][\w$]*")


class _Token:
    __slots__ = ("kind", "pos", "value")

    def __init__(self, kind: str, value: Any, pos: int) -> None:
        self.kind = kind  # num, str, tpl, ident, op, end
        self.value = value
        self.pos = pos


def _tokenize(src: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < len(src) and src[i + 1].isdigit()):
            m = _NUMBER_RE.match(src, i)
            assert m is not None
            text = m.group(0)
            tokens.append(
                _Token("num", float(text) if any(c in text for c in ".eE") else int(text), i)
            )
            i = m.end()
            continue
        if ch.isalpha() or ch in "_$":
            m = _IDENT_RE.match(src, i)
            assert m is not None
            tokens.append(_Token("ident", m.group(0), i))
            i = m.end()
            continue
        if ch in "\"'":
            value, i = _read_string(src, i)
            tokens.append(_Token("str", value, i))
            continue
        if ch == "`":
            parts, i = _read_template(src, i)
            tokens.append(_Token("tpl", parts, i))
            continue
        for op in _PUNCT:
            if src.startswith(op, i):
                tokens.append(_Token("op", op, i))
                i += len(op)
                break
        else:
            raise _NotSubset(ch)
    tokens.append(_Token("end", None, len(src)))
    return tokens


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v"}


def _read_string(src: str, i: int) -> tuple[str, int]:
    quote, i, out = src[i], i + 1, []
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src):
            out.append(_ESCAPES.get(src[i + 1], src[i + 1]))
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _syntax(src, "unterminated string")


def _read_template(src: str, i: int) -> tuple[list[str | Evaluator], int]:
    i += 1
    parts: list[str | Evaluator] = []
    text: list[str] = []
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src):
            text.append(_ESCAPES.get(src[i + 1], src[i + 1]))
            i += 2
        elif ch == "`":
            parts.append("".join(text))
            return parts, i + 1
        elif src.startswith("${", i):
            parts.append("".join(text))
            text = []
            depth, j = 1, i + 2
            while j < len(src) and depth:
                depth += {"{": 1, "}": -1}.get(src[j], 0)
                j += 1
            if depth:
                raise _syntax(src, "unterminated ${ in template string")
            parts.append(_Parser(src[i + 2 : j - 1]).parse())
            i = j
        else:
            text.append(ch)
            i += 1
    raise _syntax(src, "unterminated template string")


def _syntax(src: str, message: str) -> ExpressionError:
    return ExpressionError(
        f"expression does not parse: {src!r}: {message}", [{"path": "expr", "message": message}]
    )


_BINARY_LEVELS: list[set[str]] = [
    {"===", "!==", "==", "!="},
    {"<", "<=", ">", ">="},
    {"+", "-"},
    {"*", "/", "%"},
]


class _Parser:
    """A precedence-climbing parser that compiles straight to closures."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = _tokenize(src)
        self.i = 0

    def parse(self) -> Evaluator:
        if self.tokens[0].kind == "end":
            raise _syntax(self.src, "empty expression")
        node = self.ternary()
        if self.peek().kind != "end":
            tok = self.peek()
            if tok.kind == "op" and tok.value in ("=>", "{"):
                raise _NotSubset(tok.value)
            raise _syntax(self.src, f"unexpected {tok.value!r} at {tok.pos}")
        return node

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def expect(self, op: str) -> None:
        if not self.at(op):
            tok = self.peek()
            found = "the end" if tok.kind == "end" else repr(tok.value)
            raise _syntax(self.src, f"expected {op!r}, found {found}")
        self.i += 1

    def ternary(self) -> Evaluator:
        cond = self.logical()
        if not self.at("?"):
            return cond
        self.take()
        then = self.ternary()
        self.expect(":")
        other = self.ternary()
        return lambda c: then(c) if truthy(cond(c)) else other(c)

    def logical(self) -> Evaluator:
        left = self.logical_and()
        while self.at("||", "??"):
            op = self.take().value
            right = self.logical_and()
            left = _or(left, right) if op == "||" else _nullish(left, right)
        return left

    def logical_and(self) -> Evaluator:
        left = self.binary(0)
        while self.at("&&"):
            self.take()
            left = _and(left, self.binary(0))
        return left

    def binary(self, level: int) -> Evaluator:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().value in _BINARY_LEVELS[level]:
            op = self.take().value
            left = _binary(op, left, self.binary(level + 1), self.src)
        return left

    def unary(self) -> Evaluator:
        if self.at("!"):
            self.take()
            inner = self.unary()
            return lambda c: not truthy(inner(c))
        if self.at("-"):
            self.take()
            inner = self.unary()
            return lambda c: _neg(_to_number(inner(c)))
        if self.at("+"):
            self.take()
            inner = self.unary()
            return lambda c: _to_number(inner(c))
        if self.peek().kind == "ident" and self.peek().value == "typeof":
            raise _NotSubset("typeof")
        return self.postfix()

    def postfix(self) -> Evaluator:
        node = self.primary()
        while True:
            if self.at(".", "?."):
                optional = self.take().value == "?."
                tok = self.take()
                if tok.kind != "ident":
                    raise _syntax(self.src, f"expected a name after '.' at {tok.pos}")
                if self.at("("):
                    raise _NotSubset("method call")
                node = _get(node, _constant(tok.value), optional, self.src)
            elif self.at("["):
                self.take()
                key = self.ternary()
                self.expect("]")
                node = _get(node, key, False, self.src)
            elif self.at("("):
                raise _NotSubset("call")
            else:
                return node

    def primary(self) -> Evaluator:
        tok = self.take()
        if tok.kind in ("num", "str"):
            value = tok.value
            return lambda _c: value
        if tok.kind == "tpl":
            return _template(tok.value)
        if tok.kind == "ident":
            return _name(tok.value)
        return self.bracketed(tok)

    def bracketed(self, tok: _Token) -> Evaluator:
        if tok.kind == "op" and tok.value == "(":
            inner = self.ternary()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.value == "[":
            items: list[Evaluator] = []
            while not self.at("]"):
                items.append(self.ternary())
                if not self.at("]"):
                    self.expect(",")
            self.take()
            return lambda c: [_plain(item(c)) for item in items]
        if tok.kind == "op" and tok.value == "{":
            return self.object_literal()
        if tok.kind == "end":
            raise _syntax(self.src, "unexpected end of expression")
        raise _syntax(self.src, f"unexpected {tok.value!r} at {tok.pos}")

    def object_literal(self) -> Evaluator:
        fields: list[tuple[str, Evaluator]] = []
        while not self.at("}"):
            key = self.take()
            if key.kind not in ("ident", "str", "num"):
                raise _syntax(self.src, f"unexpected {key.value!r} in an object literal")
            name = str(key.value)
            if self.at(":"):
                self.take()
                fields.append((name, self.ternary()))
            elif key.kind == "ident":
                fields.append((name, _name(name)))
            else:
                raise _syntax(self.src, f"expected ':' after {name!r}")
            if not self.at("}"):
                self.expect(",")
        self.take()
        return lambda c: {name: _plain(value(c)) for name, value in fields}


_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None, **_GLOBALS}


def _constant(value: Any) -> Evaluator:
    return lambda _c: value


def _name(name: str) -> Evaluator:
    if name in _LITERALS:
        constant = _LITERALS[name]
        return lambda _c: constant
    if name in _KEYWORDS:
        raise _NotSubset(name)
    return lambda c: c.get(name, UNDEFINED)


def _or(left: Evaluator, right: Evaluator) -> Evaluator:
    def run(c: Context) -> Any:
        value = left(c)
        return value if truthy(value) else right(c)

    return run


def _and(left: Evaluator, right: Evaluator) -> Evaluator:
    def run(c: Context) -> Any:
        value = left(c)
        return right(c) if truthy(value) else value

    return run


def _nullish(left: Evaluator, right: Evaluator) -> Evaluator:
    def run(c: Context) -> Any:
        value = left(c)
        return right(c) if value is None or value is UNDEFINED else value

    return run


def _get(obj: Evaluator, key: Evaluator, optional: bool, src: str) -> Evaluator:
    def run(c: Context) -> Any:
        value = obj(c)
        if optional and (value is None or value is UNDEFINED):
            return UNDEFINED
        return _member(value, key(c), src)

    return run


def _template(parts: list[str | Evaluator]) -> Evaluator:
    def run(c: Context) -> str:
        return "".join(p if isinstance(p, str) else _to_string(p(c)) for p in parts)

    return run


def _binary(op: str, left: Evaluator, right: Evaluator, src: str) -> Evaluator:
    fn = _OPERATORS[op]
    return lambda c: fn(left(c), right(c))


def _number_out(value: float) -> int | float:
    """JavaScript has one number type: an integral result reads as an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _neg(value: int | float) -> int | float:
    return _number_out(-value)


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if value is UNDEFINED:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            return _number_out(float(text))
        except ValueError:
            return math.nan
    if isinstance(value, list) and len(value) <= 1:
        return _to_number(value[0]) if value else 0
    return math.nan


def _to_string(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else _to_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _is_primitive(value: Any) -> bool:
    return not isinstance(value, list | dict)


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str) or not _is_primitive(a) or not _is_primitive(b):
        return _to_string(a) + _to_string(b)
    return _number_out(_to_number(a) + _to_number(b))


def _div(a: Any, b: Any) -> Any:
    x, y = _to_number(a), _to_number(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1, y)
    return _number_out(x / y)


def _mod(a: Any, b: Any) -> Any:
    x, y = _to_number(a), _to_number(b)
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    return _number_out(math.fmod(x, y))


def _strict_eq(a: Any, b: Any) -> bool:
    if a is UNDEFINED or b is UNDEFINED:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if not _is_primitive(a) or not _is_primitive(b):
        return a is b
    return type(a) is type(b) and bool(a == b)


def _loose_eq(a: Any, b: Any) -> bool:
    nullish_a, nullish_b = a is None or a is UNDEFINED, b is None or b is UNDEFINED
    if nullish_a or nullish_b:
        return nullish_a and nullish_b
    if _is_primitive(a) and _is_primitive(b) and type(a) is not type(b):
        return _to_number(a) == _to_number(b)
    return _strict_eq(a, b)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        x, y = _to_number(a), _to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
        return op(x, y)

    return run


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": lambda a, b: _number_out(_to_number(a) - _to_number(b)),
    "*": lambda a, b: _number_out(_to_number(a) * _to_number(b)),
    "/": _div,
    "%": _mod,
    "===": _strict_eq,
    "!==": lambda a, b: not _strict_eq(a, b),
    "==": _loose_eq,
    "!=": lambda a, b: not _loose_eq(a, b),
    "<": _compare(lambda a, b: a < b),
    "<=": _compare(lambda a, b: a <= b),
    ">": _compare(lambda a, b: a > b),
    ">=": _compare(lambda a, b: a >= b),
}


def _plain(value: Any) -> Any:
    """A value fit for JSON: undefined becomes null, as JSON.stringify does in arrays."""
    if value is UNDEFINED:
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
