"""`tidemill curl PATH`: a ready `curl` line that runs a script through its webhook."""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Any

import typer

from cli import output, session

_PLACEHOLDERS: dict[str, Any] = {
    "string": "text",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "array": [],
    "object": {},
}


def example_args(schema: dict[str, Any]) -> dict[str, Any]:
    """Each parameter's default, else a placeholder of its type, in declared order."""
    properties: dict[str, Any] = schema.get("properties", {})
    names = schema.get("order") or list(properties)
    example = {}
    for name in names:
        prop = properties.get(name, {})
        if "default" in prop:
            example[name] = prop["default"]
        elif prop.get("enum"):
            example[name] = prop["enum"][0]
        else:
            example[name] = _PLACEHOLDERS.get(prop.get("type"))
    return example


def curl(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="The script's path, e.g. f/demo/hello.")],
    sync: Annotated[
        bool, typer.Option("--wait/--async", help="Answer the result (default) or the job id.")
    ] = True,
) -> None:
    """Print a curl command that runs a script through its webhook.

    The token is left as `$TIDEMILL_TOKEN`: create a scoped one for the sender with
    `POST /api/users/tokens/create` and `"scopes": ["run:<path>"]`.
    """
    with output.handled(), session.connect(ctx) as api:
        script = api.get_script(path)
        url = f"{api.profile.url.rstrip('/')}{api.w('webhooks/' + path)}"
    if sync:
        url += "?wait=true"
    body = json.dumps(example_args(script.get("schema") or {}))
    typer.echo(
        f"curl -X POST {shlex.quote(url)} \\\n"
        '  -H "Authorization: Bearer $TIDEMILL_TOKEN" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )
