"""Bash positional parameters → JSON Schema, read with tree-sitter and never executed."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server import introspection

DIALECT = "https://json-schema.org/draft/2020-12/schema"
STRING = {"type": "string"}


def infer(source: str) -> introspection.Signature:
    """Infers the signature and checks the schema it produced is valid 2020-12."""
    signature = introspection.infer_signature("bash", source)
    jsonschema.Draft202012Validator.check_schema(signature.schema)
    assert signature.result_schema is None
    return signature


def arguments(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The argument document the reader is expected to produce."""
    return {
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("line", "expected", "required"),
    [
        ('name="$1"', STRING, True),
        ("name=$1", STRING, True),
        ('name="${1}"', STRING, True),
        ("name=${1}", STRING, True),
        ('name="${1:-world}"', {"type": "string", "default": "world"}, False),
        ("name=${1:-world}", {"type": "string", "default": "world"}, False),
        ('name="${1-world}"', {"type": "string", "default": "world"}, False),
        ('name="${1:-hello world}"', {"type": "string", "default": "hello world"}, False),
        ('name=${1:-"hello world"}', {"type": "string", "default": "hello world"}, False),
        ("name=${1:-'a $b'}", {"type": "string", "default": "a $b"}, False),
        ('name="${1:-}"', {"type": "string", "default": ""}, False),
        ('name="${1:-42}"', {"type": "string", "default": "42"}, False),
        ('name="${1:?name is required}"', STRING, True),
        ('local name="$1"', STRING, True),
        ('declare name="${1:-x}"', {"type": "string", "default": "x"}, False),
        ('declare -r name="$1"', STRING, True),
        ('readonly name="$1"', STRING, True),
        ('export name="$1"', STRING, True),
    ],
)
def test_declaration_forms(line: str, expected: dict[str, Any], required: bool) -> None:
    signature = infer(f'#!/usr/bin/env bash\nset -euo pipefail\n{line}\necho "$name"\n')
    assert signature.schema == arguments({"name": expected}, ["name"] if required else [])
    assert signature.arg_order == ("name",)
    assert signature.warnings == ()


def test_parameters_follow_positional_order() -> None:
    source = """#!/bin/bash
greeting="${3:-hello}"
name="$1"
count=$2
loud="${4:-false}"
echo "$greeting $name"
"""
    signature = infer(source)
    assert signature.arg_order == ("name", "count", "greeting", "loud")
    assert signature.schema == arguments(
        {
            "name": STRING,
            "count": STRING,
            "greeting": {"type": "string", "default": "hello"},
            "loud": {"type": "string", "default": "false"},
        },
        ["name", "count"],
    )
    jsonschema.validate({"name": "a", "count": "2"}, signature.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "a", "count": 2}, signature.schema)


@pytest.mark.parametrize(
    ("source", "order", "required"),
    [
        ('a="$1" b="${2:-x}"\n', ("a", "b"), ["a"]),
        ('a="$1" b="${2:-x}"\necho "$a"\n', ("a", "b"), ["a"]),
        ("local -r a=$1 b=$2\necho done\n", ("a", "b"), ["a", "b"]),
        ('a="$1" b="$2" env\n', (), []),
    ],
    ids=["alone", "before-a-command", "declaration", "environment-of-a-command"],
)
def test_several_assignments_on_one_line(
    source: str, order: tuple[str, ...], required: list[str]
) -> None:
    signature = infer(source)
    assert signature.arg_order == order
    assert signature.schema["required"] == required


@pytest.mark.parametrize(
    "source",
    [
        "",
        "echo hello\n",
        'name="$0"\n',
        'name="$@"\n',
        'name="${#1}"\n',
        'name="${1%.txt}"\n',
        'name="$1.txt"\n',
        "name='$1'\n",
        'greet() {\n  local name="$1"\n  echo "$name"\n}\ngreet world\n',
    ],
)
def test_non_declarations_are_ignored(source: str) -> None:
    signature = infer(source)
    assert signature.schema == arguments({}, [])
    assert signature.arg_order == ()


def test_first_assignment_per_position_and_name_wins() -> None:
    signature = infer('a="$1"\nalias="$1"\na="$2"\nb="$2"\n')
    assert signature.arg_order == ("a", "b")


def test_expanding_default_is_left_out_with_a_warning() -> None:
    signature = infer('dir="${1:-$HOME}"\nwhen="${2:-$(date)}"\n')
    assert signature.schema == arguments({"dir": STRING, "when": STRING}, [])
    assert signature.warnings == (
        "parameter 'dir': default '${1:-$HOME}' is not a literal, left out",
        "parameter 'when': default '${2:-$(date)}' is not a literal, left out",
    )


def test_a_gap_in_positions_is_warned_about() -> None:
    signature = infer('first="$1"\nthird="$3"\n')
    assert signature.arg_order == ("first", "third")
    assert signature.warnings == (
        "parameter 'third': reads $3 but $2 has no name;"
        " name every position up to 3 so arguments line up",
    )


def test_unparseable_part_is_a_warning_not_an_error() -> None:
    signature = infer('name="$1"\n\nif [ "$name" ; then\n')
    assert signature.arg_order == ("name",)
    assert len(signature.warnings) == 1
    assert signature.warnings[0].endswith("could not be parsed; parameters after it may be missed")
    assert signature.warnings[0].startswith("line 3: ")


@pytest.mark.parametrize(
    ("source", "summary"),
    [
        ("#!/bin/bash\n# Backs up the database.\n# More.\nname=$1\n", "Backs up the database."),
        ("# Backs up.\nname=$1\n", "Backs up."),
        ("#!/bin/bash\n# shellcheck disable=SC2086\n#\n# Rotates logs.\n", "Rotates logs."),
        ("#!/bin/bash\nset -e\n# Not leading.\n", None),
        ("#!/bin/bash\n", None),
        ("", None),
    ],
)
def test_summary_is_the_leading_comment(source: str, summary: str | None) -> None:
    assert infer(source).summary == summary
