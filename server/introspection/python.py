"""Python entry points: `def main(...)` read with `ast`, never imported or run.

The type mapping is the contract (T, A, B stand for converted annotations):

    str                                 {"type": "string"}
    int / float / bool                  {"type": "integer" / "number" / "boolean"}
    bytes                               {"type": "string", "contentEncoding": "base64"}
    datetime, datetime.datetime         {"type": "string", "format": "date-time"}
    date, datetime.date                 {"type": "string", "format": "date"}
    list[T], List[T], Sequence[T]       {"type": "array", "items": T}; bare: no items
    set[T], frozenset[T]                the same plus "uniqueItems": true
    tuple[T, ...] / tuple[A, B]         array of T / "prefixItems" [A, B], fixed length
    dict, Dict, Mapping [str, T]        {"type": "object", "additionalProperties": T}
    Literal[a, b]                       {"type": <the values' type>, "enum": [a, b]}
    Enum subclass in the file           enum of its members' values (auto() understood)
    TypedDict / @dataclass in the file  object with its fields, nested and recursive
    Optional[T], T | None, Union[T, None]   nullable T (see `schema.nullable`)
    Union[A, B], A | B                  {"anyOf": [A, B]}
    Annotated[T, ...], "T"              T
    Any, object, no annotation          {}
    None                                {"type": "null"}
    anything else                       {} and a warning

Parameters: a literal default becomes `default` and makes the parameter not
required, and types an unannotated parameter; a default that is not a literal
(a call, a name) is left out with a warning but still makes it not required;
an Optional parameter is not required, since the worker passes None for it.
Keyword-only parameters are properties like the others; `*args` and
`**kwargs` are skipped with a warning. Descriptions come from the Google-style
`Args:` section of main's docstring (and `Attributes:` of a class's), the
summary from the docstring's first line, or the module docstring's.
"""

from __future__ import annotations

import ast
import re

from server import errors
from server.introspection import schema

_ENUM_BASES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"})
_ENTRY = re.compile(r"\*{0,2}(?P<name>\w+)\s*(?:\([^)]*\))?\s*:(?P<text>.*)")


def infer(content: str) -> schema.Signature:
    """Reads main's signature from Python source.

    Args:
        content: The script's source.

    Raises:
        errors.InvalidScript: The source does not parse or defines no main.
    """
    try:
        module = ast.parse(content)
    except SyntaxError as exc:
        raise schema.syntax_error(exc.lineno or 1, exc.offset or 1, exc.msg) from exc
    except ValueError as exc:  # NUL bytes, on the early 3.11 releases
        raise schema.syntax_error(1, 1, str(exc)) from exc
    main = _find_main(module)
    classes = {node.name: node for node in module.body if isinstance(node, ast.ClassDef)}
    warnings: list[str] = []
    doc = ast.get_docstring(main)
    descriptions = _section(doc, ("Args:", "Arguments:"))

    arguments = _Types(classes, warnings)
    spec = main.args
    positional = [*spec.posonlyargs, *spec.args]
    padding: list[ast.expr | None] = [None] * (len(positional) - len(spec.defaults))
    pairs = [
        *zip(positional, [*padding, *spec.defaults], strict=True),
        *zip(spec.kwonlyargs, spec.kw_defaults, strict=True),
    ]
    params = [
        arguments.param(
            arg.arg,
            arg.annotation,
            default,
            descriptions.get(arg.arg),
            where=f"parameter '{arg.arg}'",
            optional_if_nullable=True,
        )
        for arg, default in pairs
    ]
    if spec.vararg is not None:
        warnings.append(
            f"parameter '*{spec.vararg.arg}': extra positional arguments are not described"
        )
    if spec.kwarg is not None:
        warnings.append(
            f"parameter '**{spec.kwarg.arg}': extra keyword arguments are accepted, not described"
        )

    result_schema = None
    if main.returns is not None:
        returns = _Types(classes, warnings)
        result_schema = schema.result(
            returns.convert(main.returns, "return value"), returns.named.defs
        )

    return schema.Signature(
        schema=schema.arguments(params, arguments.named.defs, closed=spec.kwarg is None),
        result_schema=result_schema,
        warnings=tuple(dict.fromkeys(warnings)),
        summary=schema.first_line(doc) or schema.first_line(ast.get_docstring(module)),
        arg_order=tuple(arg.arg for arg in positional),
    )


def _find_main(module: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The module-level main; the last definition wins, as it does at runtime."""
    mains = [
        node
        for node in module.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
    ]
    if not mains:
        raise errors.InvalidScript(
            "no main function: define `def main(...)` or `async def main(...)` at module level"
        )
    return mains[-1]


def _section(doc: str | None, headers: tuple[str, ...]) -> dict[str, str]:
    """Descriptions by name from a Google-style docstring section such as `Args:`."""
    found: dict[str, str] = {}
    header_indent: int | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in (doc or "").splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if header_indent is None:
            if stripped in headers:
                header_indent = indent
            continue
        if not stripped:
            continue
        if indent <= header_indent:
            break
        entry_indent = indent if entry_indent is None else entry_indent
        entry = _ENTRY.fullmatch(stripped) if indent <= entry_indent else None
        if entry is not None:
            current = entry["name"]
            found[current] = entry["text"].strip()
        elif current is not None:
            found[current] = f"{found[current]} {stripped}".strip()
    return found


def _name(node: ast.expr) -> str | None:
    """The last segment of a (possibly dotted) name: `typing.List` is `List`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _unquote(node: ast.expr) -> ast.expr:
    """A string annotation ("int") as the expression it spells; others unchanged."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            return node
    return node


def _arguments(node: ast.Subscript) -> list[ast.expr]:
    """The subscript's arguments: `dict[str, int]` gives `[str, int]`."""
    if isinstance(node.slice, ast.Tuple):
        return list(node.slice.elts)
    return [node.slice]


def _scalar(name: str) -> schema.Schema | None:
    """The schema of a bare type name, or None when the name is not a known type."""
    known: dict[str, schema.Schema] = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "bytes": {"type": "string", "contentEncoding": "base64"},
        "datetime": {"type": "string", "format": "date-time"},
        "date": {"type": "string", "format": "date"},
        "list": {"type": "array"},
        "List": {"type": "array"},
        "Sequence": {"type": "array"},
        "tuple": {"type": "array"},
        "Tuple": {"type": "array"},
        "set": {"type": "array", "uniqueItems": True},
        "Set": {"type": "array", "uniqueItems": True},
        "frozenset": {"type": "array", "uniqueItems": True},
        "FrozenSet": {"type": "array", "uniqueItems": True},
        "dict": {"type": "object"},
        "Dict": {"type": "object"},
        "Mapping": {"type": "object"},
        "Any": {},
        "object": {},
    }
    return known.get(name)


def _is_dataclass(cls: ast.ClassDef) -> bool:
    """Whether the class is decorated with `dataclass`, bare or called."""
    for decorator in cls.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _name(target) == "dataclass":
            return True
    return False


class _Types:
    """Turns annotations into schemas for one document, resolving the file's classes."""

    def __init__(self, classes: dict[str, ast.ClassDef], warnings: list[str]) -> None:
        self._classes = classes
        self._warnings = warnings
        self.named = schema.NamedTypes()

    def param(
        self,
        name: str,
        annotation: ast.expr | None,
        default: ast.expr | None,
        description: str | None,
        *,
        where: str,
        optional_if_nullable: bool,
    ) -> schema.Param:
        """A parameter or dataclass field: its schema, default and requiredness.

        A parameter annotated Optional is not required (the worker passes None),
        while a dataclass field without a default must be given even if it may
        be None, exactly as the constructor demands.
        """
        value = schema.NO_VALUE if default is None else self.literal(default)
        if default is not None and value is schema.NO_VALUE:
            self._warnings.append(
                f"{where}: default {ast.unparse(default)!r} is not a literal, left out"
            )
        if annotation is None:
            found = {} if value is schema.NO_VALUE else schema.value_schema(value)
            optional = False
        else:
            found = self.convert(annotation, where)
            optional = optional_if_nullable and self._admits_none(annotation)
        if value is None:
            found = schema.nullable(found)
        return schema.Param(
            name=name,
            schema=schema.described(found, description, value),
            required=default is None and not optional,
        )

    def literal(self, node: ast.expr) -> schema.MaybeValue:
        """The JSON value of a literal expression, or of a member of an Enum in the file."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            cls = self._classes.get(node.value.id)
            if cls is not None and self._kind(cls) == "enum":
                return self._members(cls).get(node.attr, schema.NO_VALUE)
        try:
            return schema.from_python(ast.literal_eval(node))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return schema.NO_VALUE

    def convert(self, node: ast.expr, where: str) -> schema.Schema:
        """The schema of an annotation; unsupported ones give `{}` and a warning."""
        node = _unquote(node)
        match node:
            case ast.Constant(value=None):
                return schema.null()
            case ast.Name(id=name) if name in self._classes:
                return self._class(self._classes[name], where)
            case ast.Name() | ast.Attribute():
                found = _scalar(_name(node) or "")
                if found is not None:
                    return found
            case ast.Subscript():
                return self._generic(node, where)
            case ast.BinOp(op=ast.BitOr()):
                return schema.union(
                    [self.convert(node.left, where), self.convert(node.right, where)]
                )
        return self._unsupported(node, where)

    def _unsupported(self, node: ast.expr, where: str) -> schema.Schema:
        """An unconstrained schema, and a warning naming what was not understood."""
        self._warnings.append(
            f"{where}: unsupported annotation {ast.unparse(node)!r}, accepted as any value"
        )
        return {}

    def _generic(self, node: ast.Subscript, where: str) -> schema.Schema:
        """The schema of a subscripted annotation such as `list[int]` or `Literal[...]`."""
        base = _name(node.value)
        args = _arguments(node)
        match base, args:
            case "Optional", [inner]:
                return schema.nullable(self.convert(inner, where))
            case "Union", _:
                return schema.union([self.convert(arg, where) for arg in args])
            case "Literal", _:
                values = [self.literal(arg) for arg in args]
                if schema.NO_VALUE not in values:
                    return schema.enum_of([v for v in values if v is not schema.NO_VALUE])
            case (("Annotated" | "Required" | "NotRequired" | "ReadOnly"), [inner, *_]):
                return self.convert(inner, where)
            case (("list" | "List" | "Sequence"), [item]):
                return schema.array_of(self.convert(item, where))
            case (("set" | "Set" | "frozenset" | "FrozenSet"), [item]):
                return schema.array_of(self.convert(item, where), unique=True)
            case (("tuple" | "Tuple"), _):
                return self._tuple(args, where)
            case (("dict" | "Dict" | "Mapping"), [_, value]):
                return schema.map_of(self.convert(value, where))
        return self._unsupported(node, where)

    def _tuple(self, args: list[ast.expr], where: str) -> schema.Schema:
        """`tuple[T, ...]` is an array of T; `tuple[A, B]` a fixed-length array."""
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return schema.array_of(self.convert(args[0], where))
        return schema.tuple_of([self.convert(arg, where) for arg in args])

    def _admits_none(self, node: ast.expr) -> bool:
        """Whether the annotation is Optional: it names None as one of its alternatives."""
        node = _unquote(node)
        match node:
            case ast.Constant(value=None):
                return True
            case ast.BinOp(op=ast.BitOr()):
                return self._admits_none(node.left) or self._admits_none(node.right)
            case ast.Subscript():
                args = _arguments(node)
                match _name(node.value):
                    case "Optional":
                        return True
                    case "Union":
                        return any(self._admits_none(arg) for arg in args)
                    case "Annotated":
                        return self._admits_none(args[0])
                    case "Literal":
                        return any(self.literal(arg) is None for arg in args)
        return False

    def _kind(self, cls: ast.ClassDef, seen: frozenset[str] = frozenset()) -> str | None:
        """ "enum", "typeddict" or "dataclass" for a class the mapping understands."""
        if _is_dataclass(cls):
            return "dataclass"
        for base in cls.bases:
            name = _name(base)
            if name in _ENUM_BASES:
                return "enum"
            if name == "TypedDict":
                return "typeddict"
            parent = self._classes.get(name or "")
            if (
                isinstance(base, ast.Name)
                and parent is not None
                and name not in seen
                and self._kind(parent, seen | {cls.name}) == "typeddict"
            ):
                return "typeddict"
        return None

    def _class(self, cls: ast.ClassDef, where: str) -> schema.Schema:
        """The schema of a class defined in the file."""
        match self._kind(cls):
            case "enum":
                values = [v for v in self._members(cls, where).values() if v is not schema.NO_VALUE]
                return (
                    schema.enum_of(values)
                    if values
                    else self._unsupported(ast.Name(cls.name), where)
                )
            case "typeddict" | "dataclass":
                return self.named.expand(cls.name, lambda: schema.object_of(self._fields(cls)))
        return self._unsupported(ast.Name(cls.name), where)

    def _members(self, cls: ast.ClassDef, where: str | None = None) -> dict[str, schema.MaybeValue]:
        """An Enum's members and their values, warning (when `where` is given) about unknowns."""
        members: dict[str, schema.MaybeValue] = {}
        last = 0
        text = any(_name(base) == "StrEnum" for base in cls.bases)
        for stmt in cls.body:
            if not (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and not stmt.targets[0].id.startswith("_")
            ):
                continue
            name = stmt.targets[0].id
            value: schema.MaybeValue
            if isinstance(stmt.value, ast.Call) and _name(stmt.value.func) == "auto":
                value = name.lower() if text else last + 1
            else:
                value = self.literal(stmt.value)
            if isinstance(value, int) and not isinstance(value, bool):
                last = value
            if value is schema.NO_VALUE and where is not None:
                self._warnings.append(f"{where}: {cls.name}.{name} has no literal value, left out")
            members[name] = value
        return members

    def _fields(self, cls: ast.ClassDef, seen: frozenset[str] = frozenset()) -> list[schema.Param]:
        """A TypedDict's or dataclass's fields, inherited ones (from the file) first."""
        kind = self._kind(cls)
        fields: dict[str, schema.Param] = {}
        for base in cls.bases:
            parent = self._classes.get(base.id) if isinstance(base, ast.Name) else None
            if parent is not None and parent.name not in seen and self._kind(parent) == kind:
                inherited = self._fields(parent, seen | {cls.name})
                fields.update((field.name, field) for field in inherited)
        total = not any(
            keyword.arg == "total"
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value is False
            for keyword in cls.keywords
        )
        descriptions = _section(ast.get_docstring(cls), ("Attributes:",))
        for stmt in cls.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            name = stmt.target.id
            description = descriptions.get(name)
            if kind == "typeddict":
                found = self.convert(stmt.annotation, f"field '{cls.name}.{name}'")
                required = _qualifier(stmt.annotation, total)
                fields[name] = schema.Param(
                    name=name,
                    schema=schema.described(found, description, schema.NO_VALUE),
                    required=required,
                )
            else:
                field = self._dataclass_field(cls.name, name, stmt, description)
                if field is not None:
                    fields[name] = field
        return list(fields.values())

    def _dataclass_field(
        self, owner: str, name: str, stmt: ast.AnnAssign, description: str | None
    ) -> schema.Param | None:
        """One dataclass field; None for ClassVars, KW_ONLY markers and `init=False`."""
        annotation = _unquote(stmt.annotation)
        head = annotation.value if isinstance(annotation, ast.Subscript) else annotation
        if _name(head) in {"ClassVar", "KW_ONLY"}:
            return None
        default = stmt.value
        if isinstance(default, ast.Call) and _name(default.func) == "field":
            options = {keyword.arg: keyword.value for keyword in default.keywords}
            init = options.get("init")
            if isinstance(init, ast.Constant) and init.value is False:
                return None
            default = options.get("default")
            if default is None and "default_factory" in options:
                found = self.convert(stmt.annotation, f"field '{owner}.{name}'")
                return schema.Param(
                    name=name,
                    schema=schema.described(found, description, schema.NO_VALUE),
                    required=False,
                )
        return self.param(
            name,
            stmt.annotation,
            default,
            description,
            where=f"field '{owner}.{name}'",
            optional_if_nullable=False,
        )


def _qualifier(annotation: ast.expr, total: bool) -> bool:
    """Whether a TypedDict key is required: `Required`/`NotRequired` override `total`."""
    annotation = _unquote(annotation)
    if isinstance(annotation, ast.Subscript):
        match _name(annotation.value):
            case "Required":
                return True
            case "NotRequired":
                return False
            case "Annotated" | "ReadOnly":
                return _qualifier(_arguments(annotation)[0], total)
    return total
