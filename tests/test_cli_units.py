"""The CLI's pieces that need no server: argument typing, profiles, import boundaries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli import arguments, profiles

ROOT = Path(__file__).resolve().parent.parent

SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "opts": {"type": "object"},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "level": {"enum": [1, 2, 3]},
        "anything": {},
    },
}


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("count=3", 3),
        ("ratio=2", 2),
        ("ratio=2.0", 2.0),
        ("ratio=1e3", 1000),
        ("name=007", "007"),
        ("name=", ""),
        ("name=a=b", "a=b"),
        ("flag=yes", True),
        ("flag=False", False),
        ("tags=a, b", ["a", "b"]),
        ("tags=", []),
        ('tags=["x,y"]', ["x,y"]),
        ("ids=1,2", [1, 2]),
        ('opts={"a": 1}', {"a": 1}),
        ("maybe=null", None),
        ("maybe=4", 4),
        ("level=2", 2),
        ("anything=[1]", [1]),
        ("anything=plain text", "plain text"),
    ],
)
def test_values_are_typed_by_the_schema(pair: str, expected: object) -> None:
    name = pair.split("=", 1)[0]
    assert arguments.parse_pairs([pair], SCHEMA) == {name: expected}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("count=x", "count: 'x' is not a valid integer"),
        ("flag=maybe", "not a valid boolean"),
        ("ids=1,a", "ids[1]: 'a' is not a valid integer"),
        ("opts=[1]", "not a valid object"),
        ("nope=1", "unknown argument 'nope'"),
        ("count", "-a takes name=value"),
    ],
)
def test_bad_values_are_named(pair: str, message: str) -> None:
    with pytest.raises(arguments.BadArgument, match=message.replace("[", r"\[")):
        arguments.parse_pairs([pair], SCHEMA)


def test_json_args_then_pairs_on_top(tmp_path: Path) -> None:
    assert arguments.build(["count=2"], '{"count": 1, "name": "n"}', SCHEMA) == {
        "count": 2,
        "name": "n",
    }
    file = tmp_path / "args.json"
    file.write_text('{"name": "from file"}')
    assert arguments.build([], f"@{file}", SCHEMA) == {"name": "from file"}
    with pytest.raises(arguments.BadArgument, match="JSON object"):
        arguments.build([], "[1]", SCHEMA)
    # without a schema, values are JSON when they parse
    assert arguments.parse_pairs(["a=1", "b=x"], None) == {"a": 1, "b": "x"}


def test_profiles_live_in_xdg_config_home_and_the_environment_wins(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(profiles.NoServer, match="tidemill login"):
        profiles.resolve(env=env)
    profiles.add("one", profiles.Profile(url="http://a:1/", token="t1"), env)
    profiles.add("two", profiles.Profile(url="http://b:2", token="t2", workspace="ops"), env)
    assert (tmp_path / "tidemill" / "profiles.json").stat().st_mode & 0o777 == 0o600
    assert profiles.resolve(env=env).url == "http://b:2"
    assert profiles.resolve("one", env=env).url == "http://a:1"
    assert profiles.resolve("one", workspace="w", env=env).workspace == "w"
    both = profiles.resolve(env={**env, "TIDEMILL_TOKEN": "env", "TIDEMILL_WORKSPACE": "x"})
    assert (both.url, both.token, both.workspace) == ("http://b:2", "env", "x")
    only_env = profiles.resolve(
        env={"XDG_CONFIG_HOME": str(tmp_path / "none"), "TIDEMILL_URL": "u", "TIDEMILL_TOKEN": "t"}
    )
    assert (only_env.url, only_env.workspace) == ("u", "main")
    with pytest.raises(profiles.NoServer, match="no server configured"):
        profiles.resolve(env={**env, "TIDEMILL_URL": "http://elsewhere"})  # t2 stays home
    with pytest.raises(profiles.NoServer, match="no profile named 'three'"):
        profiles.resolve("three", env=env)
    profiles.remove("two", env)
    assert profiles.load(env).active == "one"


def test_http_commands_do_not_load_the_server_or_the_worker() -> None:
    """The CLI talks HTTP: loading it must not pull in the web stack, the worker or asyncpg."""
    code = (
        "import sys, cli.main\n"
        "heavy = ('server.api', 'server.app', 'server.db', 'worker', 'litestar', 'uvicorn',"
        " 'asyncpg')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_shell_completion() -> None:
    from typer.testing import CliRunner

    from cli import main

    shown = CliRunner().invoke(main.app, ["--show-completion"], prog_name="tidemill")
    assert shown.exit_code == 0
    assert "_TIDEMILL_COMPLETE" in shown.stdout  # the script a shell sources
    code = "from cli.main import app; app(prog_name='tidemill')"
    env = {"PATH": "/usr/bin:/bin", "_TIDEMILL_COMPLETE": "complete_bash"}
    words = {"tidemill ru": ["run"], "tidemill push --d": ["--dry-run"]}
    for line, expected in words.items():
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "COMP_WORDS": line, "COMP_CWORD": str(len(line.split()) - 1)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.split() == expected, line


def test_no_colours_when_not_a_terminal(tmp_path: Path) -> None:
    """A table's bold header is plain text through a pipe, even without NO_COLOR."""
    env = {"XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    profiles.add("here", profiles.Profile(url="http://a:1", token="t", username="ada"), env)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "profile", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines()[0].split() == ["NAME", "URL", "WORKSPACE", "USERNAME"]
    assert "\x1b[" not in result.stdout + result.stderr


def test_tables_align_coloured_cells(capsys: pytest.CaptureFixture[str]) -> None:
    from cli import output

    red = "\x1b[31mfailure\x1b[0m"
    output.table(["id", "status", "by"], [["a", red, "x"], ["bb", "ok", "y"]])
    lines = [line.replace(red, "failure") for line in capsys.readouterr().out.splitlines()]
    assert [line.index(line.split()[-1]) for line in lines] == [13, 13, 13]
