"""Signature introspection: a script's entry point as JSON Schema, without running it.

On save the server turns main's parameters into the input schema that forms
are drawn from and arguments are validated against, and its return annotation
into a result schema. Each language has its own reader; they share the schema
conventions in `schema` (nullable as `anyOf`, closed argument objects, `$defs`
only for recursive types). Nothing here imports, executes or fetches anything.
"""

from __future__ import annotations

from server import errors
from server.introspection import bash, python, typescript
from server.introspection.schema import Signature

__all__ = ["Signature", "infer_signature"]


def infer_signature(language: str, content: str) -> Signature:
    """Reads the input and result schemas of a script's main.

    Args:
        language: "python3", "deno" or "bash"; callers normalise aliases first.
        content: The script's source.

    Returns:
        The argument schema, result schema, warnings, summary and argument order.

    Raises:
        errors.InvalidScript: The language is unknown, the source does not
            parse, or it has no entry point.
    """
    try:
        match language:
            case "python3":
                return python.infer(content)
            case "deno":
                return typescript.infer(content)
            case "bash":
                return bash.infer(content)
    except RecursionError as exc:
        raise errors.InvalidScript("the script's types nest too deeply to read") from exc
    raise errors.InvalidScript(f"unsupported language {language!r}", {"language": language})
