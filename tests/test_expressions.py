"""Flow expressions: paths, Windmill's JavaScript subset with JavaScript's semantics, CEL."""

from __future__ import annotations

from typing import Any

import pytest

from server import expressions

CONTEXT: dict[str, Any] = {
    "flow_input": {"name": "ada", "n": 7, "items": [1, 2, 3], "iter": {"value": "x", "index": 2}},
    "results": {"a": {"b": [10, 20]}, "count": 3, "empty": ""},
    "previous_result": {"ok": True},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("flow_input.name", "ada"),
        ("results.a.b[1]", 20),
        ('results["a"].b[0]', 10),
        ("previous_result", {"ok": True}),
        ("flow_input.iter.value", "x"),
        ("flow_input.iter.index", 2),
        ("flow_input.missing", None),
        ("flow_input.n + 1", 8),
        ("flow_input.n / 2", 3.5),
        ("flow_input.n % 4", 3),
        ("-flow_input.n % 4", -3),
        ("flow_input.n * 1.5", 10.5),
        ("'n=' + flow_input.n", "n=7"),
        ("1 + '1'", "11"),
        ("'3' * '4'", 12),
        ("flow_input.n > 5 && flow_input.name === 'ada'", True),
        ("flow_input.n > 5 ? 'big' : 'small'", "big"),
        ("flow_input.n < 5 ? 'small' : flow_input.n < 10 ? 'mid' : 'big'", "mid"),
        ("results.empty || 'default'", "default"),
        ("flow_input.missing ?? 'fallback'", "fallback"),
        ("flow_input.n && flow_input.name", "ada"),
        ("!results.empty", True),
        ("flow_input.items.length", 3),
        ("flow_input.name.length", 3),
        ("`hello ${flow_input.name}, ${flow_input.n + 1}`", "hello ada, 8"),
        ("[flow_input.n, results.count]", [7, 3]),
        ("({x: flow_input.n, name: 'b'})", {"x": 7, "name": "b"}),
        ("1 == '1'", True),
        ("1 === '1'", False),
        ("null == undefined", True),
        ("null === undefined", False),
        ("flow_input.missing?.deep", None),
        ("'b' > 'a'", True),
        ("results.count !== 3", False),
        ("10 / 4 * 2", 5),
        # beyond the subset: CEL
        ("size(flow_input.items)", 3),
        ("flow_input.items.map(x, x * 2)", [2, 4, 6]),
        ("has(flow_input.name)", True),
    ],
)
def test_evaluates_like_windmill(expr: str, expected: Any) -> None:
    assert expressions.evaluate(expr, CONTEXT) == expected


@pytest.mark.parametrize("expr", ["flow_input.n +", "(1", "'open", "", "a ? b", "results..a"])
def test_unparsable_expressions_are_refused(expr: str) -> None:
    with pytest.raises(expressions.ExpressionError, match="does not parse"):
        expressions.check(expr)


def test_reading_through_null_names_the_problem() -> None:
    with pytest.raises(expressions.ExpressionError, match="cannot read 'x' of"):
        expressions.evaluate("flow_input.missing.x", CONTEXT)


def test_a_failing_cel_expression_is_an_expression_error() -> None:
    with pytest.raises(expressions.ExpressionError, match="failed"):
        expressions.evaluate("size(flow_input.n) + 'a'", CONTEXT)


def test_referenced_steps() -> None:
    assert expressions.referenced_steps("results.a.x + results['b'] + flow_input.c") == {"a", "b"}


def test_truthiness_is_javascripts() -> None:
    falsy = [None, False, 0, 0.0, "", float("nan"), expressions.UNDEFINED]
    assert not any(expressions.truthy(v) for v in falsy)
    assert all(expressions.truthy(v) for v in [[], {}, "0", -1, True])
