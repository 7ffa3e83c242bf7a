"""TypeScript (Deno) entry points, read with the tree-sitter TypeScript grammar.

The entry point is `export (async) function main(...)` or `export const main =
(async) (...) => ...`; arguments are passed positionally, in `arg_order`.

The type mapping is the contract (T, A, B stand for converted types):

    string / number / boolean           {"type": "string" / "number" / "boolean"}
    T[], Array<T>, ReadonlyArray<T>     {"type": "array", "items": T}
    [A, B]                              "prefixItems" [A, B], fixed length
    {a: A; b?: B}                       object, `b` not required
    {[key: string]: T}, Record<string, T>   {"type": "object", "additionalProperties": T}
    interface / type alias / enum in the file   resolved, nested, recursive via $defs
    "a" | "b", 1 | 2, true              {"type": ..., "enum": [...]}
    A | B                               {"anyOf": [A, B]}
    A & B                               {"allOf": [A, B]}
    T | null                            nullable T (still required)
    T | undefined, `x?: T`              T, not required
    Date                                {"type": "string", "format": "date-time"}
    object                              {"type": "object"}
    any, unknown, no type               {}
    null, void, undefined               {"type": "null"}
    Promise<T> (the return type)        T
    anything else                       {} and a warning

A default value becomes `default` and makes the parameter not required; with
no written type, the default's literal gives the type. JSDoc `@param name
text` lines become descriptions and the comment's first line the summary.
"""

from __future__ import annotations

import codecs
import functools
import re

import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

from server import errors
from server.introspection import schema

_PARAM_TAG = re.compile(r"@param\s+(?:\{[^}]*\}\s*)?\[?(?P<name>[\w$]+)[^\s\]]*\]?\s*-?\s*")
_FUNCTIONS = frozenset({"function_expression", "arrow_function", "function"})
_VARIADIC = frozenset({"optional_type", "rest_type"})
_DECLARATIONS = frozenset({"interface_declaration", "type_alias_declaration", "enum_declaration"})


@functools.cache
def _language() -> Language:
    """The compiled grammar; parsers are cheap and made per call (they are not thread-safe)."""
    return Language(tree_sitter_typescript.language_typescript())


def infer(content: str) -> schema.Signature:
    """Reads main's signature from TypeScript source.

    Args:
        content: The script's source.

    Raises:
        errors.InvalidScript: The source does not parse or exports no main.
    """
    source = content.encode()
    root = Parser(_language()).parse(source).root_node
    if root.has_error:
        raise _parse_error(root, source)
    exported, main = _find_main(root)
    declarations = _declarations(root)
    warnings: list[str] = []
    text, descriptions = _split_jsdoc(_jsdoc(exported))

    arguments = _Types(declarations, warnings)
    params = arguments.params(main, descriptions)
    returns = main.child_by_field_name("return_type")
    result_schema = None
    if returns is not None:
        types = _Types(declarations, warnings)
        found = types.convert(_annotated(returns), "return value")
        result_schema = schema.result(found, types.named.defs)

    return schema.Signature(
        schema=schema.arguments(params, arguments.named.defs, closed=True),
        result_schema=result_schema,
        warnings=tuple(dict.fromkeys(warnings)),
        summary=schema.first_line(text),
        arg_order=tuple(param.name for param in params),
    )


def _parse_error(root: Node, source: bytes) -> errors.InvalidScript:
    """The error naming the first place the parser could not read."""
    node = schema.first_error(root)
    line, column = schema.location(node, source)
    if node.is_missing:
        return schema.syntax_error(line, column, f"missing {node.type!r}")
    near = source[node.start_byte :].split(b"\n", 1)[0][:40].decode(errors="replace")
    return schema.syntax_error(line, column, f"syntax error near {near!r}")


def _find_main(root: Node) -> tuple[Node, Node]:
    """The `export` statement declaring main, and main's function node."""
    for statement in root.named_children:
        declaration = statement.child_by_field_name("declaration")
        default = any(child.type == "default" for child in statement.children)
        if statement.type != "export_statement" or declaration is None or default:
            continue
        if declaration.type == "function_declaration" and _name(declaration) == "main":
            return statement, declaration
        if declaration.type in {"lexical_declaration", "variable_declaration"}:
            for declarator in declaration.named_children:
                value = declarator.child_by_field_name("value")
                if _name(declarator) == "main" and value is not None and value.type in _FUNCTIONS:
                    return statement, value
    raise errors.InvalidScript(
        "no exported main: define `export async function main(...)` or `export function main`"
    )


def _name(node: Node) -> str | None:
    """The text of the node's `name` field."""
    name = node.child_by_field_name("name")
    return None if name is None else schema.text(name)


def _declarations(root: Node) -> dict[str, Node]:
    """Interfaces, type aliases and enums declared at top level, exported or not."""
    found: dict[str, Node] = {}
    for statement in root.named_children:
        node = statement.child_by_field_name("declaration") or statement
        name = _name(node)
        if node.type in _DECLARATIONS and name is not None:
            found.setdefault(name, node)
    return found


def _jsdoc(node: Node) -> str:
    """The text of the `/** ... */` comment right before `node`, without its stars."""
    comment = node.prev_named_sibling
    if comment is None or comment.type != "comment" or not schema.text(comment).startswith("/**"):
        return ""
    body = schema.text(comment).removeprefix("/**").removesuffix("*/")
    return "\n".join(line.strip().removeprefix("*").strip() for line in body.splitlines())


def _split_jsdoc(jsdoc: str) -> tuple[str, dict[str, str]]:
    """The free text before the first tag, and `@param [{type}] name [-] text` by name."""
    text: list[str] = []
    tags: list[str] = []
    for line in jsdoc.splitlines():
        if line.startswith("@"):
            tags.append(line)
        elif tags:
            tags[-1] = f"{tags[-1]} {line}"
        else:
            text.append(line)
    params = {match["name"]: tag[match.end() :] for tag in tags if (match := _PARAM_TAG.match(tag))}
    return "\n".join(text), {name: " ".join(body.split()) for name, body in params.items()}


def _annotated(node: Node) -> Node:
    """The type inside a `: T` annotation."""
    return node.named_children[0] if node.type == "type_annotation" else node


def _literal(node: Node) -> schema.MaybeValue:
    """The JSON value of a literal expression (or literal type), else NO_VALUE."""
    match node.type:
        case "string" | "template_string":
            return _string(node)
        case "number":
            return _number(schema.text(node))
        case "unary_expression" if (node.child_by_field_name("argument") or node).type == "number":
            return _number(schema.text(node))
        case "true" | "false":
            return node.type == "true"
        case "null":
            return None
        case "parenthesized_expression" if node.named_child_count == 1:
            return _literal(node.named_children[0])
        case "array":
            items = [_literal(child) for child in node.named_children if child.type != "comment"]
            if schema.NO_VALUE not in items:
                return [item for item in items if item is not schema.NO_VALUE]
        case "object":
            return _object_literal(node)
    return schema.NO_VALUE


def _object_literal(node: Node) -> schema.MaybeValue:
    """An object literal whose keys and values are all literals."""
    found: dict[str, schema.JsonValue] = {}
    for pair in node.named_children:
        if pair.type == "comment":
            continue
        key = pair.child_by_field_name("key")
        value = pair.child_by_field_name("value")
        if pair.type != "pair" or key is None or value is None:
            return schema.NO_VALUE
        name = _property_name(key)
        item = _literal(value)
        if name is None or item is schema.NO_VALUE:
            return schema.NO_VALUE
        found[name] = item
    return found


def _property_name(node: Node) -> str | None:
    """A property key as a string: `a`, `"a-b"` or `3`; None for computed keys."""
    match node.type:
        case "property_identifier" | "number":
            return schema.text(node)
        case "string":
            value = _string(node)
            return value if isinstance(value, str) else None
    return None


def _string(node: Node) -> schema.MaybeValue:
    """A string or substitution-free template literal, escapes decoded."""
    parts: list[str] = []
    for child in node.named_children:
        match child.type:
            case "string_fragment":
                parts.append(schema.text(child))
            case "escape_sequence":
                try:
                    parts.append(codecs.decode(schema.text(child), "unicode_escape"))
                except UnicodeDecodeError:
                    parts.append(schema.text(child))
            case _:
                return schema.NO_VALUE
    return "".join(parts)


def _number(text: str) -> schema.MaybeValue:
    """A numeric literal (`10`, `-0x1f`, `1_000`, `2.5e3`) as int or float."""
    digits = text.replace("_", "")
    try:
        return int(digits, 0)
    except ValueError:
        pass
    try:
        return schema.from_python(float(digits))
    except ValueError:
        return schema.NO_VALUE


def _union_members(node: Node) -> tuple[list[Node], bool]:
    """A union's members, nested unions flattened, and whether `undefined` was one."""
    if node.type == "parenthesized_type" and node.named_child_count == 1:
        return _union_members(node.named_children[0])
    if node.type != "union_type":
        undefined = schema.text(node) == "undefined" and node.type in {
            "literal_type",
            "predefined_type",
        }
        return ([] if undefined else [node]), undefined
    flattened = [_union_members(child) for child in node.named_children]
    return [member for found, _ in flattened for member in found], any(u for _, u in flattened)


class _Types:
    """Turns type nodes into schemas for one document, resolving the file's declarations."""

    def __init__(self, declarations: dict[str, Node], warnings: list[str]) -> None:
        self._declarations = declarations
        self._warnings = warnings
        self.named = schema.NamedTypes()

    def params(self, function: Node, descriptions: dict[str, str]) -> list[schema.Param]:
        """main's parameters in order; a destructured one cannot be passed by name."""
        single = function.child_by_field_name("parameter")
        if single is not None:
            return [schema.Param(name=schema.text(single), schema={}, required=True)]
        parameters = function.child_by_field_name("parameters")
        params: list[schema.Param] = []
        for position, node in enumerate([] if parameters is None else parameters.named_children, 1):
            pattern = node.child_by_field_name("pattern")
            if pattern is None or pattern.type == "this":
                continue
            if pattern.type == "rest_pattern":
                rest = schema.text(pattern)
                self._warnings.append(
                    f"parameter '{rest}': extra positional arguments are not described"
                )
                continue
            if pattern.type != "identifier":
                raise errors.InvalidScript(
                    f"parameter {position} of main is a destructuring pattern: give it a name, "
                    "since arguments are passed by name",
                    {"parameter": position},
                )
            name = schema.text(pattern)
            params.append(self._param(node, name, descriptions.get(name)))
        return params

    def _param(self, node: Node, name: str, description: str | None) -> schema.Param:
        """One parameter: its schema, default and requiredness."""
        where = f"parameter '{name}'"
        type_node = node.child_by_field_name("type")
        value_node = node.child_by_field_name("value")
        default = schema.NO_VALUE if value_node is None else _literal(value_node)
        if value_node is not None and default is schema.NO_VALUE:
            self._warnings.append(
                f"{where}: default {schema.text(value_node)!r} is not a literal, left out"
            )
        optional = node.type == "optional_parameter" or value_node is not None
        if type_node is not None:
            found, undefined = self._member(type_node, where)
            optional = optional or undefined
        elif default is not schema.NO_VALUE:
            found = schema.value_schema(default)
            if found.get("type") == "integer":  # TypeScript infers `number` from `3`
                found = {"type": "number"}
        else:
            found = {}
        if default is None:
            found = schema.nullable(found)
        return schema.Param(
            name=name, schema=schema.described(found, description, default), required=not optional
        )

    def _member(self, annotation: Node | None, where: str) -> tuple[schema.Schema, bool]:
        """The schema of a parameter's or property's type, and whether it admits `undefined`."""
        if annotation is None:
            return {}, False
        members, undefined = _union_members(_annotated(annotation))
        return self._union(members, where), undefined

    def convert(self, node: Node, where: str) -> schema.Schema:
        """The schema of a type node; unsupported ones give `{}` and a warning."""
        children = [child for child in node.named_children if child.type != "comment"]
        match node.type:
            case "type_annotation" | "readonly_type" | "parenthesized_type":
                return self.convert(children[0], where)
            case "predefined_type":
                return self._predefined(node, where)
            case "type_identifier":
                return self._named(node, where)
            case "generic_type" | "array_type":
                return self._generic(node, where)
            case "tuple_type":
                return self._tuple(node, children, where)
            case "union_type" | "literal_type":
                return self._union(_union_members(node)[0], where)
            case "intersection_type":
                return {"allOf": [self.convert(child, where) for child in children]}
            case "object_type":
                return self._object(children, where)
        return self._unsupported(node, where)

    def _tuple(self, node: Node, elements: list[Node], where: str) -> schema.Schema:
        """A fixed tuple `[A, B]`; optional and rest elements are not supported."""
        if any(element.type in _VARIADIC for element in elements):
            return self._unsupported(node, where)
        return schema.tuple_of([self.convert(element, where) for element in elements])

    def _unsupported(self, node: Node, where: str) -> schema.Schema:
        """An unconstrained schema, and a warning naming what was not understood."""
        self._warnings.append(
            f"{where}: unsupported annotation {schema.text(node)!r}, accepted as any value"
        )
        return {}

    def _union(self, members: list[Node], where: str) -> schema.Schema:
        """A union: literal members merge into one enum, the rest into `anyOf`."""
        values: list[schema.JsonValue] = []
        alternatives: list[schema.Schema] = []
        for member in members:
            if member.type != "literal_type":
                alternatives.append(self.convert(member, where))
                continue
            value = _literal(member.named_children[0])
            if value is schema.NO_VALUE:
                alternatives.append(self._unsupported(member, where))
            else:
                values.append(value)
        if values:
            alternatives.append(schema.enum_of(values))
        return schema.union(alternatives)

    def _predefined(self, node: Node, where: str) -> schema.Schema:
        """The schema of a built-in type keyword."""
        match schema.text(node):
            case "string" | "number" | "boolean" | "object" as name:
                return {"type": name}
            case "any" | "unknown":
                return {}
            case "null" | "undefined" | "void":
                return schema.null()
        return self._unsupported(node, where)

    def _named(self, node: Node, where: str) -> schema.Schema:
        """A type named by identifier: a declaration in the file, or `Date`."""
        name = schema.text(node)
        declaration = self._declarations.get(name)
        if declaration is not None:
            return self.named.expand(name, lambda: self._declared(declaration))
        if name == "Date":
            return {"type": "string", "format": "date-time"}
        return self._unsupported(node, where)

    def _declared(self, declaration: Node) -> schema.Schema:
        """The schema of an interface, type alias or enum declared in the file."""
        name = _name(declaration) or ""
        where = f"type '{name}'"
        match declaration.type:
            case "interface_declaration":
                body = declaration.child_by_field_name("body")
                members = [] if body is None else body.named_children
                found = self._object(members, where)
                return self._with_bases(declaration, found, where)
            case "enum_declaration":
                return self._enum(declaration, where)
        value = declaration.child_by_field_name("value")
        return {} if value is None else self.convert(value, where)

    def _with_bases(self, interface: Node, own: schema.Schema, where: str) -> schema.Schema:
        """An interface's object schema with the members of the interfaces it extends first."""
        bases = [
            self.convert(base, where)
            for clause in interface.named_children
            if clause.type == "extends_type_clause"
            for base in clause.children_by_field_name("type")
        ]
        properties = [base.get("properties", {}) for base in bases] + [own["properties"]]
        required = [name for base in [*bases, own] for name in base.get("required", [])]
        merged = {name: value for found in properties for name, value in found.items()}
        return {**own, "properties": merged, "required": list(dict.fromkeys(required))}

    def _enum(self, declaration: Node, where: str) -> schema.Schema:
        """A TypeScript enum: its members' values, numbering the uninitialised ones."""
        values: list[schema.JsonValue] = []
        next_number: int | float = 0
        body = declaration.child_by_field_name("body")
        for member in [] if body is None else body.named_children:
            value: schema.MaybeValue
            if member.type == "property_identifier":
                value = next_number
            elif member.type == "enum_assignment":
                initializer = member.child_by_field_name("value")
                value = schema.NO_VALUE if initializer is None else _literal(initializer)
            else:
                continue
            if value is schema.NO_VALUE:
                self._warnings.append(
                    f"{where}: member {schema.text(member)!r} has no literal value, left out"
                )
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                next_number = value + 1
            values.append(value)
        return schema.enum_of(values) if values else self._unsupported(declaration, where)

    def _generic(self, node: Node, where: str) -> schema.Schema:
        """`T[]`, `Array<T>`, `ReadonlyArray<T>`, `Record<string, T>` and `Promise<T>`."""
        if node.type == "array_type":
            return schema.array_of(self.convert(node.named_children[0], where))
        arguments = node.child_by_field_name("type_arguments")
        args = [] if arguments is None else arguments.named_children
        match _name(node), args:
            case (("Array" | "ReadonlyArray"), [item]):
                return schema.array_of(self.convert(item, where))
            case "Record", [_, value]:
                return schema.map_of(self.convert(value, where))
            case "Promise", [inner]:
                return self.convert(inner, where)
        return self._unsupported(node, where)

    def _object(self, members: list[Node], where: str) -> schema.Schema:
        """An object type's properties; an index signature types the extra keys."""
        params: list[schema.Param] = []
        extra: schema.Schema | None = None
        for member in members:
            type_node = member.child_by_field_name("type")
            if member.type == "index_signature" and type_node is not None:
                extra = self.convert(_annotated(type_node), where)
            if member.type != "property_signature":
                continue
            key = member.child_by_field_name("name")
            name = None if key is None else _property_name(key)
            if name is None:
                continue
            found, undefined = self._member(type_node, f"field '{name}' of {where}")
            description = schema.first_line(_split_jsdoc(_jsdoc(member))[0])
            optional = undefined or any(child.type == "?" for child in member.children)
            params.append(
                schema.Param(
                    name=name,
                    schema=schema.described(found, description, schema.NO_VALUE),
                    required=not optional,
                )
            )
        found = schema.object_of(params)
        if extra:
            found["additionalProperties"] = extra
        return found
