"""Python signatures → JSON Schema, read with `ast` and never executed."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server import errors, introspection

DIALECT = "https://json-schema.org/draft/2020-12/schema"
IMPORTS = """\
import datetime
import typing
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, IntEnum, StrEnum, auto
from typing import (
    Annotated, Any, Dict, List, Literal, NotRequired, Optional, Required, Sequence,
    TypedDict, Union,
)
"""


def infer(source: str) -> introspection.Signature:
    """Infers the signature and checks every schema it produced is valid 2020-12."""
    signature = introspection.infer_signature("python3", source)
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


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


@pytest.mark.parametrize(
    ("parameter", "expected", "required"),
    [
        ("x: str", STRING, True),
        ("x: int", INTEGER, True),
        ("x: float", {"type": "number"}, True),
        ("x: bool", {"type": "boolean"}, True),
        ("x: list[int]", {"type": "array", "items": INTEGER}, True),
        ("x: List[str]", {"type": "array", "items": STRING}, True),
        ("x: typing.List[str]", {"type": "array", "items": STRING}, True),
        ("x: Sequence[bool]", {"type": "array", "items": {"type": "boolean"}}, True),
        ("x: list", {"type": "array"}, True),
        ("x: list[Any]", {"type": "array"}, True),
        ("x: set[str]", {"type": "array", "items": STRING, "uniqueItems": True}, True),
        ("x: tuple[int, ...]", {"type": "array", "items": INTEGER}, True),
        (
            "x: tuple[int, str]",
            {"type": "array", "prefixItems": [INTEGER, STRING], "minItems": 2, "maxItems": 2},
            True,
        ),
        ("x: dict", {"type": "object"}, True),
        ("x: Dict", {"type": "object"}, True),
        ("x: dict[str, Any]", {"type": "object"}, True),
        ("x: dict[str, int]", {"type": "object", "additionalProperties": INTEGER}, True),
        (
            "x: Dict[str, list[str]]",
            {"type": "object", "additionalProperties": {"type": "array", "items": STRING}},
            True,
        ),
        ("x: Literal['a', 'b']", {"type": "string", "enum": ["a", "b"]}, True),
        ("x: Literal[1, 2]", {"type": "integer", "enum": [1, 2]}, True),
        ("x: Literal[True]", {"type": "boolean", "enum": [True]}, True),
        ("x: Literal['a', 1]", {"enum": ["a", 1]}, True),
        ("x: Literal['a', None]", nullable({"type": "string", "enum": ["a"]}), False),
        ("x: Optional[str]", nullable(STRING), False),
        ("x: str | None", nullable(STRING), False),
        ("x: None | str", nullable(STRING), False),
        ("x: Union[str, None]", nullable(STRING), False),
        ("x: typing.Optional[list[int]]", nullable({"type": "array", "items": INTEGER}), False),
        ("x: Union[int, str]", {"anyOf": [INTEGER, STRING]}, True),
        ("x: int | str | None", {"anyOf": [INTEGER, STRING, {"type": "null"}]}, False),
        ("x: Optional[Any]", {}, False),
        ("x: datetime", {"type": "string", "format": "date-time"}, True),
        ("x: datetime.datetime", {"type": "string", "format": "date-time"}, True),
        ("x: date", {"type": "string", "format": "date"}, True),
        ("x: datetime.date", {"type": "string", "format": "date"}, True),
        ("x: bytes", {"type": "string", "contentEncoding": "base64"}, True),
        ("x: Any", {}, True),
        ("x: typing.Any", {}, True),
        ("x: object", {}, True),
        ("x", {}, True),
        ("x: None", {"type": "null"}, False),
        ("x: 'int'", INTEGER, True),
        ("x: 'list[str] | None'", nullable({"type": "array", "items": STRING}), False),
        ("x: Annotated[int, 'a count']", INTEGER, True),
        # Defaults: a literal default is kept and makes the parameter optional.
        ("x: int = 3", {"type": "integer", "default": 3}, False),
        ("x: float = -1.5", {"type": "number", "default": -1.5}, False),
        ("x: Optional[int] = 5", {**nullable(INTEGER), "default": 5}, False),
        ("x: Optional[str] = None", {**nullable(STRING), "default": None}, False),
        ("x: int = None", {**nullable(INTEGER), "default": None}, False),
        ("x: list[str] = ['a']", {"type": "array", "items": STRING, "default": ["a"]}, False),
        (
            "x: tuple[int, int] = (1, 2)",
            {
                "type": "array",
                "prefixItems": [INTEGER, INTEGER],
                "minItems": 2,
                "maxItems": 2,
                "default": [1, 2],
            },
            False,
        ),
        # No annotation: the default's literal gives the type.
        ("x=3", {"type": "integer", "default": 3}, False),
        ("x='hi'", {"type": "string", "default": "hi"}, False),
        ("x=2.5", {"type": "number", "default": 2.5}, False),
        ("x=True", {"type": "boolean", "default": True}, False),
        ("x=[1, 2]", {"type": "array", "default": [1, 2]}, False),
        ("x={'a': 1}", {"type": "object", "default": {"a": 1}}, False),
        ("x=None", {"default": None}, False),
    ],
)
def test_parameter_types(parameter: str, expected: dict[str, Any], required: bool) -> None:
    signature = infer(f"{IMPORTS}\ndef main({parameter}):\n    pass\n")
    assert signature.schema == arguments({"x": expected}, ["x"] if required else [])
    assert signature.warnings == ()
    assert signature.arg_order == ("x",)


@pytest.mark.parametrize(
    ("parameter", "expected", "required", "warning"),
    [
        (
            "x: Foo",
            {},
            True,
            "parameter 'x': unsupported annotation 'Foo', accepted as any value",
        ),
        (
            "x: pd.DataFrame",
            {},
            True,
            "parameter 'x': unsupported annotation 'pd.DataFrame', accepted as any value",
        ),
        (
            "x: list[Foo]",
            {"type": "array"},
            True,
            "parameter 'x': unsupported annotation 'Foo', accepted as any value",
        ),
        (
            "x: Optional[Foo[int]]",
            {},
            False,
            "parameter 'x': unsupported annotation 'Foo[int]', accepted as any value",
        ),
        (
            "x: 'not valid ('",
            {},
            True,
            "parameter 'x': unsupported annotation \"'not valid ('\", accepted as any value",
        ),
        (
            "x: Plain",
            {},
            True,
            "parameter 'x': unsupported annotation 'Plain', accepted as any value",
        ),
        (
            "x: int = compute()",
            INTEGER,
            False,
            "parameter 'x': default 'compute()' is not a literal, left out",
        ),
        (
            "x=os.environ['HOME']",
            {},
            False,
            "parameter 'x': default \"os.environ['HOME']\" is not a literal, left out",
        ),
        (
            "x: set[int] = {1, 2}",
            {"type": "array", "items": INTEGER, "uniqueItems": True},
            False,
            "parameter 'x': default '{1, 2}' is not a literal, left out",
        ),
    ],
)
def test_unsupported_degrades_with_a_warning(
    parameter: str, expected: dict[str, Any], required: bool, warning: str
) -> None:
    source = f"{IMPORTS}\nclass Plain:\n    pass\n\ndef main({parameter}):\n    pass\n"
    signature = infer(source)
    assert signature.schema == arguments({"x": expected}, ["x"] if required else [])
    assert signature.warnings == (warning,)


COLOR = """
class Color(str, Enum):
    RED = "red"
    GREEN = "green"
"""
PRIORITY = """
class Priority(IntEnum):
    LOW = 1
    HIGH = 10
    _ignored = 3

    def label(self) -> str:
        return self.name
"""
AUTO = """
class Step(Enum):
    FIRST = auto()
    SECOND = auto()
    TENTH = 10
    ELEVENTH = auto()

class Mode(StrEnum):
    FAST = auto()
    SLOW = auto()
"""
ADDRESS = '''
class Address(TypedDict):
    """A postal address.

    Attributes:
        street: Street and number.
    """
    street: str
    zip: NotRequired[str]
'''
OPTIONS = """
class Options(TypedDict, total=False):
    verbose: bool
    name: Required[str]
    level: "Optional[int]"
"""
DERIVED = """
class Base(TypedDict):
    id: int

class Derived(Base, total=False):
    note: str
"""
CONFIG = """
@dataclass(frozen=True)
class Config:
    address: Address
    retries: int = 3
    tags: list[str] = field(default_factory=list)
    mode: str = field(default="fast")
    label: Optional[str]
    secret: str = field(init=False, default="x")
    version: typing.ClassVar[int] = 1
"""
TREE = """
class Node(TypedDict):
    value: int
    children: list["Node"]
"""
ADDRESS_SCHEMA = {
    "type": "object",
    "properties": {
        "street": {"type": "string", "description": "Street and number."},
        "zip": STRING,
    },
    "required": ["street"],
}


@pytest.mark.parametrize(
    ("declarations", "parameter", "expected", "required"),
    [
        (COLOR, "c: Color", {"type": "string", "enum": ["red", "green"]}, True),
        (
            COLOR,
            "c: Color = Color.GREEN",
            {"type": "string", "enum": ["red", "green"], "default": "green"},
            False,
        ),
        (
            COLOR,
            "c: Optional[Color]",
            nullable({"type": "string", "enum": ["red", "green"]}),
            False,
        ),
        (PRIORITY, "p: Priority", {"type": "integer", "enum": [1, 10]}, True),
        (
            PRIORITY,
            "p: list[Priority]",
            {"type": "array", "items": {"type": "integer", "enum": [1, 10]}},
            True,
        ),
        (AUTO, "s: Step", {"type": "integer", "enum": [1, 2, 10, 11]}, True),
        (AUTO, "m: Mode", {"type": "string", "enum": ["fast", "slow"]}, True),
        (ADDRESS, "a: Address", ADDRESS_SCHEMA, True),
        (
            OPTIONS,
            "o: Options",
            {
                "type": "object",
                "properties": {
                    "verbose": {"type": "boolean"},
                    "name": STRING,
                    "level": nullable(INTEGER),
                },
                "required": ["name"],
            },
            True,
        ),
        (
            DERIVED,
            "d: Derived",
            {
                "type": "object",
                "properties": {"id": INTEGER, "note": STRING},
                "required": ["id"],
            },
            True,
        ),
        (
            ADDRESS + CONFIG,
            "cfg: Config",
            {
                "type": "object",
                "properties": {
                    "address": ADDRESS_SCHEMA,
                    "retries": {"type": "integer", "default": 3},
                    "tags": {"type": "array", "items": STRING},
                    "mode": {"type": "string", "default": "fast"},
                    "label": nullable(STRING),
                },
                "required": ["address", "label"],
            },
            True,
        ),
        (
            ADDRESS + CONFIG,
            "cfg: Config | None = None",
            {
                **nullable(
                    {
                        "type": "object",
                        "properties": {
                            "address": ADDRESS_SCHEMA,
                            "retries": {"type": "integer", "default": 3},
                            "tags": {"type": "array", "items": STRING},
                            "mode": {"type": "string", "default": "fast"},
                            "label": nullable(STRING),
                        },
                        "required": ["address", "label"],
                    }
                ),
                "default": None,
            },
            False,
        ),
    ],
    ids=[
        "str-enum",
        "enum-default-member",
        "optional-enum",
        "int-enum",
        "list-of-enum",
        "enum-auto",
        "strenum-auto",
        "typeddict",
        "typeddict-total-false",
        "typeddict-inherited",
        "typeddict-in-dataclass",
        "optional-dataclass",
    ],
)
def test_classes_defined_in_the_file(
    declarations: str, parameter: str, expected: dict[str, Any], required: bool
) -> None:
    signature = infer(f"{IMPORTS}{declarations}\ndef main({parameter}):\n    pass\n")
    name = parameter.split(":")[0]
    assert signature.schema == arguments({name: expected}, [name] if required else [])
    assert signature.warnings == ()


def test_dataclass_inheritance_and_odd_defaults() -> None:
    source = """
from __future__ import annotations
from dataclasses import dataclass, field
import datetime

@dataclass
class Base:
    id: int
    created: datetime.datetime = field(default_factory=datetime.datetime.now)

@dataclass(kw_only=True)
class Job(Base):
    name: str = "nightly"
    cron: str = make_cron()

def main(job: Job):
    pass
"""
    signature = infer(source)
    assert signature.schema == arguments(
        {
            "job": {
                "type": "object",
                "properties": {
                    "id": INTEGER,
                    "created": {"type": "string", "format": "date-time"},
                    "name": {"type": "string", "default": "nightly"},
                    "cron": STRING,
                },
                "required": ["id"],
            }
        },
        ["job"],
    )
    assert signature.warnings == (
        "field 'Job.cron': default 'make_cron()' is not a literal, left out",
    )


def test_null_bytes_are_a_syntax_error() -> None:
    with pytest.raises(errors.InvalidScript, match="null bytes"):
        introspection.infer_signature("python3", "def main(): pass\0")


def test_recursive_typeddict_goes_to_defs() -> None:
    signature = infer(f"{IMPORTS}{TREE}\ndef main(tree: Node) -> Node:\n    pass\n")
    node = {
        "type": "object",
        "properties": {
            "value": INTEGER,
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        },
        "required": ["value", "children"],
    }
    assert signature.schema == arguments(
        {"tree": {"$ref": "#/$defs/Node"}}, ["tree"], **{"$defs": {"Node": node}}
    )
    assert signature.result_schema == {
        "$schema": DIALECT,
        "$ref": "#/$defs/Node",
        "$defs": {"Node": node},
    }
    tree = {"value": 1, "children": [{"value": 2, "children": []}]}
    jsonschema.validate({"tree": tree}, signature.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tree": {"value": 1, "children": [{"value": "x"}]}}, signature.schema)


def test_docstring_gives_summary_and_descriptions() -> None:
    source = '''
def main(name: str, count: int = 1, *, loud: bool = False, shape=None):
    """Greets someone a number of times.

    Longer explanation that is not the summary.

    Args:
        name (str): Who to greet,
            spelled as they like.
        count: How many times.
        loud: Shout.

    Returns:
        Nothing useful.
    """
'''
    signature = infer(source)
    assert signature.summary == "Greets someone a number of times."
    assert signature.schema == arguments(
        {
            "name": {"type": "string", "description": "Who to greet, spelled as they like."},
            "count": {"type": "integer", "description": "How many times.", "default": 1},
            "loud": {"type": "boolean", "description": "Shout.", "default": False},
            "shape": {"default": None},
        },
        ["name"],
    )
    assert signature.arg_order == ("name", "count")


def test_module_docstring_is_the_fallback_summary() -> None:
    source = '"""\n  Sends the weekly report.\n\nDetails.\n"""\n\ndef main():\n    return 1\n'
    signature = infer(source)
    assert signature.summary == "Sends the weekly report."
    assert signature.schema == arguments({}, [])
    assert signature.result_schema is None


def test_no_docstring_no_summary() -> None:
    assert infer("def main(): pass").summary is None


def test_keyword_only_positional_only_and_variadics() -> None:
    source = "async def main(a: int, /, b: str, *rest: int, c: bool, d: int = 2, **extra):\n  ...\n"
    signature = infer(source)
    assert signature.schema == {
        "$schema": DIALECT,
        "type": "object",
        "properties": {
            "a": INTEGER,
            "b": STRING,
            "c": {"type": "boolean"},
            "d": {"type": "integer", "default": 2},
        },
        "required": ["a", "b", "c"],
    }
    assert signature.arg_order == ("a", "b")
    assert signature.warnings == (
        "parameter '*rest': extra positional arguments are not described",
        "parameter '**extra': extra keyword arguments are accepted, not described",
    )


def test_closed_arguments_reject_unknown_names() -> None:
    signature = infer("def main(a: int, b: Optional[str]):\n    pass\n")
    jsonschema.validate({"a": 1}, signature.schema)
    jsonschema.validate({"a": 1, "b": None}, signature.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"a": 1, "c": 2}, signature.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"b": "x"}, signature.schema)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ("int", INTEGER),
        ("None", {"type": "null"}),
        (
            "dict[str, list[int]]",
            {"type": "object", "additionalProperties": {"type": "array", "items": INTEGER}},
        ),
        ("Optional[str]", nullable(STRING)),
        ("Mystery", {}),
    ],
)
def test_return_annotation_is_the_result_schema(returns: str, expected: dict[str, Any]) -> None:
    signature = infer(f"{IMPORTS}\ndef main() -> {returns}:\n    pass\n")
    assert signature.result_schema == {"$schema": DIALECT, **expected}


def test_unsupported_return_is_warned_about() -> None:
    signature = infer("def main() -> Mystery:\n    pass\n")
    assert signature.warnings == (
        "return value: unsupported annotation 'Mystery', accepted as any value",
    )


def test_the_last_top_level_main_wins() -> None:
    source = """
def main(a: int): pass

class Tool:
    def main(self, ignored: str): pass

def main(b: str): pass
"""
    assert infer(source).arg_order == ("b",)


@pytest.mark.parametrize(
    ("source", "message", "details"),
    [
        ("x = 1\n\ndef main(:\n    pass\n", "line 3: invalid syntax", {"line": 3, "column": 10}),
        ("def main():\nreturn 1\n", "line 2: expected an indented block", {"line": 2, "column": 1}),
        ("x = (1,\n", "line 1: '(' was never closed", {"line": 1, "column": 5}),
    ],
)
def test_syntax_error_names_the_line(source: str, message: str, details: dict[str, int]) -> None:
    with pytest.raises(errors.InvalidScript) as caught:
        introspection.infer_signature("python3", source)
    assert caught.value.message.startswith(message)
    assert caught.value.details == details


@pytest.mark.parametrize(
    "source",
    [
        "",
        "x = 1\n",
        "def helper(): pass\n",
        "class A:\n    def main(self): pass\n",
        "main = lambda: 1\n",
    ],
)
def test_missing_main_cannot_be_saved(source: str) -> None:
    with pytest.raises(errors.InvalidScript, match="no main function"):
        introspection.infer_signature("python3", source)


def test_unknown_language_cannot_be_saved() -> None:
    with pytest.raises(errors.InvalidScript, match="unsupported language 'cobol'"):
        introspection.infer_signature("cobol", "")
