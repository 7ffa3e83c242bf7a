"""Bash entry points: positional parameters named at the top of the script.

Following Windmill's convention, a script declares its arguments by assigning
positional parameters to names at top level, read with the tree-sitter Bash
grammar:

    name="$1"               required string
    count=$2                required string
    greeting="${3:-hello}"  string, default "hello", not required
    mode="${4-}"            string, default "", not required
    local|declare|readonly|export x="$5"   the same forms

Every property is `{"type": "string"}`, since the shell sees only strings, and
`arg_order` follows the positions, since arguments are passed positionally.
Assignments inside functions are not read: there `$1` is the function's own
argument. A default that expands something (`${1:-$HOME}`) is left out with a
warning but still makes the parameter optional. The summary is the first
comment line after the shebang, if the script starts with one.
"""

from __future__ import annotations

import functools

import msgspec
import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from server.introspection import schema

_EXPANDING = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "arithmetic_expansion",
        "process_substitution",
    }
)
_DEFAULTING = frozenset({":-", "-"})
_DEMANDING = frozenset({":?", "?"})


class _Declared(msgspec.Struct, frozen=True, kw_only=True):
    """One `name=$n` assignment: the name, its position and its default, if any."""

    name: str
    position: int
    default: schema.MaybeValue
    optional: bool


@functools.cache
def _language() -> Language:
    """The compiled grammar; parsers are cheap and made per call (they are not thread-safe)."""
    return Language(tree_sitter_bash.language())


def infer(content: str) -> schema.Signature:
    """Reads the positional parameters a Bash script names.

    Bash has no syntax errors worth refusing a save for: the grammar is looser
    than bash itself, so a part it cannot read only earns a warning.

    Args:
        content: The script's source.
    """
    source = content.encode()
    root = Parser(_language()).parse(source).root_node
    warnings: list[str] = []
    if root.has_error:
        line, _ = schema.location(schema.first_error(root), source)
        warnings.append(f"line {line}: could not be parsed; parameters after it may be missed")
    by_position: dict[int, _Declared] = {}
    names: set[str] = set()
    for statement in _top_level(root):
        for declared in _declarations(statement, source, warnings):
            if declared.position not in by_position and declared.name not in names:
                by_position[declared.position] = declared
                names.add(declared.name)
    ordered = [by_position[position] for position in sorted(by_position)]
    for expected, declared in enumerate(ordered, start=1):
        if declared.position != expected:
            warnings.append(
                f"parameter '{declared.name}': reads ${declared.position} but ${expected} has no"
                f" name; name every position up to {declared.position} so arguments line up"
            )
            break
    params = [
        schema.Param(
            name=declared.name,
            schema=schema.described({"type": "string"}, None, declared.default),
            required=not declared.optional,
        )
        for declared in ordered
    ]
    return schema.Signature(
        schema=schema.arguments(params, {}, closed=True),
        result_schema=None,
        warnings=tuple(warnings),
        summary=_summary(root),
        arg_order=tuple(declared.name for declared in ordered),
    )


def _top_level(root: Node) -> list[Node]:
    """Top-level statements, looking inside an ERROR node that swallowed some."""
    statements: list[Node] = []
    for child in root.named_children:
        statements.extend(child.named_children if child.type == "ERROR" else [child])
    return statements


def _declarations(statement: Node, source: bytes, warnings: list[str]) -> list[_Declared]:
    """The positional-parameter assignments in one top-level statement."""
    found: list[_Declared] = []
    for assignment in _assignments(statement):
        name = assignment.child_by_field_name("name")
        value = assignment.child_by_field_name("value")
        if name is not None and value is not None:
            declared = _positional(schema.text(name), _unquote(value), source, warnings)
            if declared is not None:
                found.append(declared)
    return found


def _assignments(statement: Node) -> list[Node]:
    """The variable assignments a top-level statement makes in the script's own shell.

    The grammar reads `a=$1 b=$2` followed by a command on the next line as one
    command with an environment prefix; assignments that end on an earlier line
    than the command name are in fact standalone, so they count.
    """
    match statement.type:
        case "variable_assignment":
            return [statement]
        case "declaration_command" | "variable_assignments":
            return [c for c in statement.named_children if c.type == "variable_assignment"]
        case "command":
            command = statement.child_by_field_name("name")
            first_row = statement.end_point[0] if command is None else command.start_point[0]
            return [
                child
                for child in statement.named_children
                if child.type == "variable_assignment" and child.end_point[0] < first_row
            ]
    return []


def _unquote(value: Node) -> Node:
    """The expansion inside `"$1"` or `"${1:-x}"`; other values unchanged."""
    if value.type == "string" and value.named_child_count == 1 and value.child_count == 3:
        return value.named_children[0]
    return value


def _positional(name: str, value: Node, source: bytes, warnings: list[str]) -> _Declared | None:
    """The declaration if `value` is `$n`, `${n}`, `${n:-default}` or `${n:?message}`."""
    if value.type not in {"simple_expansion", "expansion"}:
        return None
    children = value.children
    variable = children[1] if len(children) > 1 else None
    if variable is None or variable.type != "variable_name" or not schema.text(variable).isdigit():
        return None
    position = int(schema.text(variable))
    if position == 0:
        return None
    operator = children[2].type if value.type == "expansion" and len(children) > 3 else None
    if operator is None or operator in _DEMANDING:
        return _Declared(name=name, position=position, default=schema.NO_VALUE, optional=False)
    if operator not in _DEFAULTING:
        return None
    default = _literal(children[3:-1], source)
    if default is schema.NO_VALUE:
        warnings.append(
            f"parameter '{name}': default {schema.text(value)!r} is not a literal, left out"
        )
    return _Declared(name=name, position=position, default=default, optional=True)


def _literal(parts: list[Node], source: bytes) -> schema.MaybeValue:
    """The text of a default that expands nothing; quotes around the whole are removed."""
    if not parts:
        return ""
    if any(_expands(part) for part in parts):
        return schema.NO_VALUE
    if len(parts) == 1 and parts[0].type in {"string", "raw_string"}:
        return schema.text(parts[0])[1:-1]
    return source[parts[0].start_byte : parts[-1].end_byte].decode()


def _expands(node: Node) -> bool:
    """Whether the node or anything inside it is an expansion or substitution."""
    return node.type in _EXPANDING or any(_expands(child) for child in node.named_children)


def _summary(root: Node) -> str | None:
    """The first comment line before any command, skipping the shebang and shellcheck."""
    for child in root.named_children:
        if child.type != "comment":
            return None
        text = schema.text(child)
        if text.startswith("#!"):
            continue
        line = text.lstrip("#").strip()
        if line and not line.startswith("shellcheck"):
            return line
    return None
