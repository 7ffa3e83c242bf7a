"""Where the CLI finds a server: saved profiles, overridden by the environment.

`tidemill login` saves a profile (URL, token, workspace) under a name in
`$XDG_CONFIG_HOME/tidemill/profiles.json` (mode 0600: it holds tokens), like
`wmill workspace add`. `TIDEMILL_URL`, `TIDEMILL_TOKEN` and `TIDEMILL_WORKSPACE`
override the active profile field by field, so CI needs no file at all.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_WORKSPACE = "main"
DEFAULT_PROFILE = "default"


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """One server and workspace, with the token to use there."""

    url: str
    token: str
    workspace: str = DEFAULT_WORKSPACE
    username: str | None = None


class Profiles(msgspec.Struct, frozen=True, kw_only=True):
    """The whole file: every saved profile and which one commands use."""

    active: str | None = None
    profiles: dict[str, Profile] = msgspec.field(default_factory=dict)


class NoServer(Exception):
    """Neither a profile nor the environment says which server to talk to."""


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "tidemill"


def profiles_file(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "profiles.json"


def load(env: Mapping[str, str] | None = None) -> Profiles:
    path = profiles_file(env)
    try:
        return msgspec.json.decode(path.read_bytes(), type=Profiles)
    except FileNotFoundError:
        return Profiles()
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise NoServer(f"{path} is not a valid profiles file: {exc}") from None


def save(profiles: Profiles, env: Mapping[str, str] | None = None) -> Path:
    """Write the file atomically, readable by its owner only."""
    path = profiles_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(json.dumps(msgspec.to_builtins(profiles), indent=2).encode() + b"\n")
    with contextlib.suppress(OSError):
        os.chmod(temp, 0o600)
    temp.replace(path)
    return path


def add(name: str, profile: Profile, env: Mapping[str, str] | None = None) -> Path:
    """Save `profile` under `name` and make it the active one."""
    current = load(env)
    return save(Profiles(active=name, profiles={**current.profiles, name: profile}), env)


def use(name: str, env: Mapping[str, str] | None = None) -> None:
    current = load(env)
    if name not in current.profiles:
        raise NoServer(f"no profile named {name!r}; `tidemill profile list` shows them")
    save(Profiles(active=name, profiles=current.profiles), env)


def remove(name: str, env: Mapping[str, str] | None = None) -> None:
    current = load(env)
    if name not in current.profiles:
        raise NoServer(f"no profile named {name!r}")
    rest = {k: v for k, v in current.profiles.items() if k != name}
    active = current.active if current.active != name else next(iter(rest), None)
    save(Profiles(active=active, profiles=rest), env)


def resolve(
    name: str | None = None,
    *,
    workspace: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Profile:
    """The connection to use: the named (or active) profile, then the environment on top.

    Args:
        name: A profile name (`--profile`, or `TIDEMILL_PROFILE`); None for the active one.
        workspace: A workspace that wins over both (`--workspace`).
        env: The environment to read (the process's by default).
    """
    env = os.environ if env is None else env
    saved = load(env)
    asked = name or env.get("TIDEMILL_PROFILE")
    if asked and asked not in saved.profiles:
        raise NoServer(f"no profile named {asked!r}; `tidemill profile list` shows them")
    base = saved.profiles.get(asked or saved.active or "")
    url = env.get("TIDEMILL_URL") or (base.url if base else None)
    # a profile's token only ever goes to that profile's server
    same_server = base is not None and url is not None and base.url.rstrip("/") == url.rstrip("/")
    token = env.get("TIDEMILL_TOKEN") or (base.token if base and same_server else None)
    if not url or not token:
        raise NoServer(
            "no server configured: run `tidemill login URL`, or set TIDEMILL_URL and TIDEMILL_TOKEN"
        )
    return Profile(
        url=url.rstrip("/"),
        token=token,
        workspace=workspace
        or env.get("TIDEMILL_WORKSPACE")
        or (base.workspace if base else DEFAULT_WORKSPACE),
        username=base.username if base and same_server else None,
    )
