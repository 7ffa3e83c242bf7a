"""`tidemill login URL` and `tidemill profile ...`: which server and workspace commands use."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from cli import client, output, profiles, session

profile_app = typer.Typer(help="List, switch and remove saved servers (profiles).")


def default_name(url: str, workspace: str) -> str:
    """A profile name from the server's address: `localhost:8000`, `host-prod` for a workspace."""
    netloc = urlsplit(url).netloc or url
    return netloc if workspace == profiles.DEFAULT_WORKSPACE else f"{netloc}-{workspace}"


def login(
    url: Annotated[str, typer.Argument(help="The server, e.g. http://localhost:8000.")],
    token: Annotated[
        str | None, typer.Option(help="A token (from `tidemill up`, or the web UI).")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="Log in with a password instead.")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="The password (prompted for when left out).")
    ] = None,
    workspace: Annotated[str, typer.Option(help="The workspace commands use.")] = "main",
    name: Annotated[
        str | None,
        typer.Option("--profile", "--name", help="Save under this name (default: the host)."),
    ] = None,
) -> None:
    """Check a token (or a username and password) against a server and save it as a profile.

    The profile becomes the active one; `--profile NAME` on any command picks another, and
    TIDEMILL_URL / TIDEMILL_TOKEN / TIDEMILL_WORKSPACE override it.
    """
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    if token is None and username is None:
        token = (
            typer.prompt(
                "Token (leave empty to log in with a username and password)",
                default="",
                show_default=False,
                hide_input=True,
            ).strip()
            or None
        )
        if token is None:
            username = typer.prompt("Username", default="admin")
    with output.handled():
        if token is None:
            assert username is not None
            password = password or typer.prompt("Password", hide_input=True)
            token = client.login(url, username, password)
        profile = profiles.Profile(url=url, token=token, workspace=workspace, username=username)
        with client.Client(profile) as api:
            me = api.whoami()  # proves the token before it is saved
        username = str(me["username"])
        profile = profiles.Profile(url=url, token=token, workspace=workspace, username=username)
        chosen = name or default_name(url, workspace)
        where = profiles.add(chosen, profile)
    role = f" ({me['role']})" if me.get("role") else ""
    output.info(
        f"logged in to {url} (workspace {workspace}) as {username}{role}; "
        f"profile {chosen!r} in {where}"
    )


def whoami(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show which server, workspace and user the commands use (and check the token)."""
    with output.handled(), session.connect(ctx) as api:
        me = api.whoami()
        server, workspace = api.profile.url, api.workspace
    if as_json:
        output.print_json({**me, "url": server, "workspace": workspace})
        return
    rows = [
        ["user", me["username"]],
        ["role", me.get("role")],
        ["server", server],
        ["workspace", workspace],
    ]
    if me.get("scopes") is not None:
        rows.append(["scopes", ", ".join(me["scopes"])])
    for key, value in rows:
        typer.echo(output.style(f"{key + ':':<10}", bold=True) + " " + output.cell(value))


@profile_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Saved profiles; the active one is marked."""
    with output.handled():
        saved = profiles.load()
    rows = [
        {
            "name": name,
            "active": name == saved.active,
            "url": p.url,
            "workspace": p.workspace,
            "username": p.username,
        }
        for name, p in saved.profiles.items()
    ]
    if as_json:
        output.print_json(rows)
        return
    output.table(
        ["", "name", "url", "workspace", "username"],
        [
            ["*" if r["active"] else "", r["name"], r["url"], r["workspace"], r["username"]]
            for r in rows
        ],
    )


@profile_app.command("use")
def use(name: Annotated[str, typer.Argument(help="A saved profile.")]) -> None:
    """Make a saved profile the active one."""
    with output.handled():
        profiles.use(name)
    output.info(f"using profile {name!r}")


@profile_app.command("rm")
def remove(name: Annotated[str, typer.Argument(help="A saved profile.")]) -> None:
    """Forget a saved profile (its token is deleted from disk)."""
    with output.handled():
        profiles.remove(name)
    output.info(f"removed profile {name!r}")
