"""The connection a command uses, from the global `--profile` / `--workspace` options."""

from __future__ import annotations

import msgspec
import typer

from cli import client, profiles


class Globals(msgspec.Struct, frozen=True, kw_only=True):
    """What `tidemill [--profile P] [--workspace W] ...` chose, for every subcommand."""

    profile: str | None = None
    workspace: str | None = None


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Globals) else Globals()


def connect(ctx: typer.Context) -> client.Client:
    """A client for the chosen profile (raises `profiles.NoServer` when there is none)."""
    chosen = globals_of(ctx)
    profile = profiles.resolve(chosen.profile, workspace=chosen.workspace)
    return client.Client(profile)
