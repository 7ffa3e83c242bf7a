"""TypeScript (Deno) signatures → JSON Schema, read with tree-sitter and never executed."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server import errors, introspection

DIALECT = "https://json-schema.org/draft/2020-12/schema"
STRING = {"type": "string"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}


def infer(source: str) -> introspection.Signature:
    """Infers the signature and checks every schema it produced is valid 2020-12."""
    signature = introspection.infer_signature("deno", source)
    jsonschema.Draft202012Validator.check_schema(signature.schema)
    if signature.result_schema is not None:
        jsonschema.Draft202012Validator.check_schema(signature.result_schema)
    return signature


def arguments(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    """The argument document the reader is expected to produce."""
    return {
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **extra,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


DECLARATIONS = """
interface Point { x: number; y: number }
interface Shape {
  /** Where it starts. */
  origin: Point;
  points?: Point[];
  label: string | null;
}
interface Labelled extends Point { label: string }
type Mode = "fast" | "slow";
type Pair = [string, number];
enum Level { Low, Mid, High = 10, Top }
enum Color { Red = "red", Green = "green" }
export interface Exported { ok: boolean }
"""
POINT = {"type": "object", "properties": {"x": NUMBER, "y": NUMBER}, "required": ["x", "y"]}


@pytest.mark.parametrize(
    ("parameter", "expected", "required"),
    [
        ("x: string", STRING, True),
        ("x: number", NUMBER, True),
        ("x: boolean", BOOLEAN, True),
        ("x: object", {"type": "object"}, True),
        ("x: string[]", {"type": "array", "items": STRING}, True),
        ("x: Array<number>", {"type": "array", "items": NUMBER}, True),
        ("x: readonly string[]", {"type": "array", "items": STRING}, True),
        ("x: ReadonlyArray<boolean>", {"type": "array", "items": BOOLEAN}, True),
        ("x: any[]", {"type": "array"}, True),
        ("x: number[][]", {"type": "array", "items": {"type": "array", "items": NUMBER}}, True),
        (
            "x: [string, number]",
            {"type": "array", "prefixItems": [STRING, NUMBER], "minItems": 2, "maxItems": 2},
            True,
        ),
        (
            "x: {a: string; b?: number}",
            {"type": "object", "properties": {"a": STRING, "b": NUMBER}, "required": ["a"]},
            True,
        ),
        (
            "x: {'quoted-key': string, 3: boolean, c: string | undefined}",
            {
                "type": "object",
                "properties": {"quoted-key": STRING, "3": BOOLEAN, "c": STRING},
                "required": ["quoted-key", "3"],
            },
            True,
        ),
        (
            "x: {[key: string]: number}",
            {"type": "object", "properties": {}, "required": [], "additionalProperties": NUMBER},
            True,
        ),
        ("x: Record<string, number>", {"type": "object", "additionalProperties": NUMBER}, True),
        ("x: Record<string, any>", {"type": "object"}, True),
        ("x: 'a' | 'b'", {"type": "string", "enum": ["a", "b"]}, True),
        ("x: 1 | 2 | 3", {"type": "integer", "enum": [1, 2, 3]}, True),
        ("x: -1 | 2.5", {"type": "number", "enum": [-1, 2.5]}, True),
        ("x: true", {"type": "boolean", "enum": [True]}, True),
        ("x: 'a' | 'b' | null", nullable({"type": "string", "enum": ["a", "b"]}), True),
        ("x: string | number", {"anyOf": [STRING, NUMBER]}, True),
        ("x: string | 'auto'", {"anyOf": [STRING, {"type": "string", "enum": ["auto"]}]}, True),
        ("x: (string | number) | boolean", {"anyOf": [STRING, NUMBER, BOOLEAN]}, True),
        ("x: string | null", nullable(STRING), True),
        ("x: null | string[]", nullable({"type": "array", "items": STRING}), True),
        ("x: string | undefined", STRING, False),
        ("x: string | null | undefined", nullable(STRING), False),
        ("x?: string", STRING, False),
        ("x?: string | null", nullable(STRING), False),
        ("x: Date", {"type": "string", "format": "date-time"}, True),
        ("x: any", {}, True),
        ("x: unknown", {}, True),
        ("x", {}, True),
        ("x: null", {"type": "null"}, True),
        (
            "x: Point & {z: number}",
            {"allOf": [POINT, {"type": "object", "properties": {"z": NUMBER}, "required": ["z"]}]},
            True,
        ),
        # Declarations in the file are resolved and inlined.
        ("x: Point", POINT, True),
        (
            "x: Shape",
            {
                "type": "object",
                "properties": {
                    "origin": {**POINT, "description": "Where it starts."},
                    "points": {"type": "array", "items": POINT},
                    "label": nullable(STRING),
                },
                "required": ["origin", "label"],
            },
            True,
        ),
        (
            "x: Labelled",
            {
                "type": "object",
                "properties": {"x": NUMBER, "y": NUMBER, "label": STRING},
                "required": ["x", "y", "label"],
            },
            True,
        ),
        ("x: Mode", {"type": "string", "enum": ["fast", "slow"]}, True),
        (
            "x: Mode[]",
            {"type": "array", "items": {"type": "string", "enum": ["fast", "slow"]}},
            True,
        ),
        (
            "x: Pair",
            {"type": "array", "prefixItems": [STRING, NUMBER], "minItems": 2, "maxItems": 2},
            True,
        ),
        ("x: Level", {"type": "integer", "enum": [0, 1, 10, 11]}, True),
        ("x: Color", {"type": "string", "enum": ["red", "green"]}, True),
        (
            "x: Exported",
            {"type": "object", "properties": {"ok": BOOLEAN}, "required": ["ok"]},
            True,
        ),
        # Defaults are kept, make the parameter optional and type an unannotated one.
        ("x: number = 3", {"type": "number", "default": 3}, False),
        (
            "x: Mode = 'fast'",
            {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
            False,
        ),
        ("x: string | null = null", {**nullable(STRING), "default": None}, False),
        ("x = 'hi'", {"type": "string", "default": "hi"}, False),
        ("x = `plain`", {"type": "string", "default": "plain"}, False),
        ("x = 'a\\nb'", {"type": "string", "default": "a\nb"}, False),
        ("x = 3", {"type": "number", "default": 3}, False),
        ("x = -2.5", {"type": "number", "default": -2.5}, False),
        ("x = 0x10", {"type": "number", "default": 16}, False),
        ("x = true", {"type": "boolean", "default": True}, False),
        ("x = [1, 'a']", {"type": "array", "default": [1, "a"]}, False),
        ("x = {a: 1, 'b': [null]}", {"type": "object", "default": {"a": 1, "b": [None]}}, False),
        ("x = null", {"default": None}, False),
    ],
)
def test_parameter_types(parameter: str, expected: dict[str, Any], required: bool) -> None:
    signature = infer(f"{DECLARATIONS}\nexport async function main({parameter}) {{}}\n")
    assert signature.schema == arguments({"x": expected}, ["x"] if required else [])
    assert signature.warnings == ()
    assert signature.arg_order == ("x",)


@pytest.mark.parametrize(
    ("parameter", "expected", "required", "warning"),
    [
        ("x: Foo", {}, True, "parameter 'x': unsupported annotation 'Foo', accepted as any value"),
        (
            "x: Foo[]",
            {"type": "array"},
            True,
            "parameter 'x': unsupported annotation 'Foo', accepted as any value",
        ),
        (
            "x: Map<string, number>",
            {},
            True,
            "parameter 'x': unsupported annotation 'Map<string, number>', accepted as any value",
        ),
        (
            "x: (a: string) => void",
            {},
            True,
            "parameter 'x': unsupported annotation '(a: string) => void', accepted as any value",
        ),
        (
            "x: {f: bigint}",
            {"type": "object", "properties": {"f": {}}, "required": ["f"]},
            True,
            "field 'f' of parameter 'x': unsupported annotation 'bigint', accepted as any value",
        ),
        (
            "x: [string, number?]",
            {},
            True,
            "parameter 'x': unsupported annotation '[string, number?]', accepted as any value",
        ),
        (
            "x: Date = new Date()",
            {"type": "string", "format": "date-time"},
            False,
            "parameter 'x': default 'new Date()' is not a literal, left out",
        ),
        (
            "x = Deno.env.get('HOME')",
            {},
            False,
            "parameter 'x': default \"Deno.env.get('HOME')\" is not a literal, left out",
        ),
        (
            "x = `${1}`",
            {},
            False,
            "parameter 'x': default '`${1}`' is not a literal, left out",
        ),
    ],
)
def test_unsupported_degrades_with_a_warning(
    parameter: str, expected: dict[str, Any], required: bool, warning: str
) -> None:
    signature = infer(f"export function main({parameter}) {{}}\n")
    assert signature.schema == arguments({"x": expected}, ["x"] if required else [])
    assert signature.warnings == (warning,)


def test_jsdoc_gives_summary_and_descriptions() -> None:
    source = """
import { thing } from "npm:thing@1";

/**
 * Sends a greeting.
 *
 * More detail that is not the summary.
 * @param name - who to greet,
 *   spelled as they like
 * @param {number} [times=1] how many times
 * @returns nothing
 */
export async function main(name: string, times = 1) {
  return thing(name, times);
}
"""
    signature = infer(source)
    assert signature.summary == "Sends a greeting."
    assert signature.schema == arguments(
        {
            "name": {"type": "string", "description": "who to greet, spelled as they like"},
            "times": {"type": "number", "description": "how many times", "default": 1},
        },
        ["name"],
    )
    assert signature.result_schema is None


def test_plain_comment_is_not_jsdoc() -> None:
    signature = infer("// Not a summary.\nexport function main() {}\n")
    assert signature.summary is None
    assert signature.schema == arguments({}, [])


@pytest.mark.parametrize(
    "source",
    [
        "export const main = async (a: string, b = 2) => a.repeat(b);",
        "export const main = function (a: string, b = 2) { return a; };",
        "export let main = (a: string, b: number = 2): string => a;",
        "function helper() {}\nexport function main(a: string, b?: number) { return a; }",
    ],
)
def test_entry_point_forms(source: str) -> None:
    signature = infer(source)
    assert signature.arg_order == ("a", "b")
    assert signature.schema["required"] == ["a"]
    assert signature.schema["properties"]["a"] == STRING


def test_bare_arrow_parameter() -> None:
    signature = infer("export const main = async x => x;")
    assert signature.schema == arguments({"x": {}}, ["x"])


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ("Promise<number>", NUMBER),
        ("Promise<void>", {"type": "null"}),
        ("string[]", {"type": "array", "items": STRING}),
        (
            "Promise<{ok: boolean; count?: number}>",
            {
                "type": "object",
                "properties": {"ok": BOOLEAN, "count": NUMBER},
                "required": ["ok"],
            },
        ),
        (
            "Promise<Point | null>",
            nullable(
                {
                    "type": "object",
                    "properties": {"x": NUMBER, "y": NUMBER},
                    "required": ["x", "y"],
                }
            ),
        ),
    ],
)
def test_return_type_is_the_result_schema(returns: str, expected: dict[str, Any]) -> None:
    source = (
        f"interface Point {{ x: number; y: number }}\nexport async function main(): {returns} {{}}"
    )
    assert infer(source).result_schema == {"$schema": DIALECT, **expected}


def test_recursive_interface_goes_to_defs() -> None:
    source = """
interface Category { name: string; parent: Category | null; children: Category[] }
export function main(root: Category, also?: Category) {}
"""
    signature = infer(source)
    category = {
        "type": "object",
        "properties": {
            "name": STRING,
            "parent": nullable({"$ref": "#/$defs/Category"}),
            "children": {"type": "array", "items": {"$ref": "#/$defs/Category"}},
        },
        "required": ["name", "parent", "children"],
    }
    ref = {"$ref": "#/$defs/Category"}
    assert signature.schema == arguments(
        {"root": ref, "also": ref}, ["root"], **{"$defs": {"Category": category}}
    )
    jsonschema.validate(
        {
            "root": {
                "name": "a",
                "parent": None,
                "children": [{"name": "b", "parent": None, "children": []}],
            }
        },
        signature.schema,
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"root": {"name": "a", "parent": 3, "children": []}}, signature.schema)


def test_interface_referencing_another_interface() -> None:
    source = """
export async function main(order: Order) {}
interface Order { id: string; lines: Line[]; customer: Customer }
interface Line { sku: string; qty: number }
type Customer = { name: string; email?: string };
"""
    assert infer(source).schema == arguments(
        {
            "order": {
                "type": "object",
                "properties": {
                    "id": STRING,
                    "lines": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"sku": STRING, "qty": NUMBER},
                            "required": ["sku", "qty"],
                        },
                    },
                    "customer": {
                        "type": "object",
                        "properties": {"name": STRING, "email": STRING},
                        "required": ["name"],
                    },
                },
                "required": ["id", "lines", "customer"],
            }
        },
        ["order"],
    )


def test_rest_and_this_parameters_are_skipped() -> None:
    signature = infer("export function main(this: Window, a: string, ...rest: string[]) {}")
    assert signature.arg_order == ("a",)
    assert signature.warnings == (
        "parameter '...rest': extra positional arguments are not described",
    )


def test_destructured_parameter_cannot_be_saved() -> None:
    with pytest.raises(errors.InvalidScript, match="parameter 2 of main is a destructuring"):
        introspection.infer_signature(
            "deno", "export function main(a: string, {b}: {b: string}) {}"
        )


@pytest.mark.parametrize(
    "source",
    [
        "",
        "function main() {}",
        "export default async function main() {}",
        "export function handler() {}",
        "export const main = 3;",
        "export function main(a: string): void;",
    ],
)
def test_missing_exported_main_cannot_be_saved(source: str) -> None:
    with pytest.raises(errors.InvalidScript, match="no exported main"):
        introspection.infer_signature("deno", source)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("export function main(a: string) {\n  let x = 1\n  return (x }\n", 3),
        ("const a = 1;\n\nexport function main(a: string {\n}\n", 3),
        ("export function main() {\n  if (x {\n  }\n}\n", 2),
    ],
)
def test_parse_error_names_the_line(source: str, line: int) -> None:
    with pytest.raises(errors.InvalidScript) as caught:
        introspection.infer_signature("deno", source)
    assert caught.value.message.startswith(f"line {line}: ")
    assert caught.value.details["line"] == line
    assert caught.value.details["column"] >= 1
