"""`tidemill login|run|jobs|logs|cancel|var` against a real server and worker."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import main
from tests.conftest import ADMIN_TOKEN
from tests.test_cli_support import ADMIN_PASSWORD, Live, start_live, wait_for

pytestmark = pytest.mark.e2e

TYPED = '''
def main(count: int, ratio: float, tags: list[str], loud: bool = False, name: str = "x"):
    """Echo the arguments with their Python types."""
    print("starting", count)
    print("tags are", ",".join(tags))
    return {
        "count": count, "ratio": ratio, "tags": tags, "loud": loud, "name": name,
        "types": [type(v).__name__ for v in (count, ratio, tags, loud, name)],
    }
'''

FAILING = """
def main(n: int = 1):
    print("about to fail")
    raise ValueError(f"bad n: {n}")
"""

SLOW = """
import time

def main(seconds: float = 30):
    print("sleeping", flush=True)
    time.sleep(seconds)
    return "woke"
"""


@pytest.fixture(scope="module")
def live(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    yield from start_live(pg_server, template_db, tmp_path_factory.mktemp("cli"))


def test_run_converts_args_by_schema_and_streams_logs(live: Live) -> None:
    live.save("f/cli/typed", TYPED)
    result = live.cli(
        "run", "f/cli/typed", "-a", "count=3", "-a", "ratio=2.5", "-a", "tags=a,b",
        "-a", "loud=yes", "-a", "name=007",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "count": 3,
        "ratio": 2.5,
        "tags": ["a", "b"],
        "loud": True,
        "name": "007",
        "types": ["int", "float", "list", "bool", "str"],
    }
    assert "starting 3\ntags are a,b\n" in result.stderr


def test_json_args_and_a_on_top(live: Live) -> None:
    live.save("f/cli/typed2", TYPED)
    result = live.cli(
        "run", "f/cli/typed2", "--json", '{"count": 1, "ratio": 1, "tags": ["x"]}', "-a", "count=9",
        "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["count"] == 9
    assert "starting" not in result.stderr  # --quiet


def test_bad_args_are_refused_before_running(live: Live) -> None:
    live.save("f/cli/typed3", TYPED)
    unknown = live.cli("run", "f/cli/typed3", "-a", "cuont=3")
    assert unknown.exit_code == 2
    assert "unknown argument 'cuont'" in unknown.stderr
    assert "count, ratio, tags" in unknown.stderr
    wrong = live.cli("run", "f/cli/typed3", "-a", "count=three")
    assert wrong.exit_code == 2
    assert "'three' is not a valid integer" in wrong.stderr
    missing = live.cli("run", "f/cli/typed3", "-a", "count=1")
    assert missing.exit_code == 1
    assert "ratio" in missing.stderr  # the server's 422 names the missing fields


def test_a_failing_job_exits_non_zero_with_its_error(live: Live) -> None:
    live.save("f/cli/failing", FAILING)
    result = live.cli("run", "f/cli/failing", "-a", "n=7")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "about to fail" in result.stderr
    assert "ValueError: bad n: 7" in result.stderr
    assert 'File "f/cli/failing"' in result.stderr or "f/cli/failing" in result.stderr


def test_unknown_script_is_an_error(live: Live) -> None:
    result = live.cli("run", "f/cli/nope")
    assert result.exit_code == 1
    assert "f/cli/nope" in result.stderr


def test_a_local_file_runs_without_being_deployed_at_its_path(live: Live, tmp_path: Path) -> None:
    script = tmp_path / "local_hello.py"
    script.write_text(
        'def main(who: str, times: int = 1):\n    print("hi")\n    return who * times\n'
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "TIDEMILL_TOKEN": None}
    login = live.cli("login", live.url, "-u", "admin", "--password", ADMIN_PASSWORD, **env)
    assert login.exit_code == 0, login.stderr
    with live.api() as api:
        before = {s["path"] for s in api.get("/api/w/main/scripts/list").json()}
    result = live.cli("run", str(script), "-a", "who=ab", "-a", "times=2", **env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == "abab"  # times=2 was sent as the integer 2
    assert "hi" in result.stderr
    with live.api() as api:
        after = {s["path"] for s in api.get("/api/w/main/scripts/list").json()}
    assert after == before  # a preview saves nothing
    listed = json.loads(live.cli("jobs", "--path", "u/admin/preview", "--json").stdout)
    assert [(j["job_kind"], j["script_hash"]) for j in listed][:1] == [("preview", None)]
    table = live.cli("jobs", "--path", "u/admin/preview")
    assert "u/admin/preview (preview)" in table.stdout
    wrong = live.cli("run", str(script), "-a", "times=two", **env)
    assert wrong.exit_code == 2
    assert "'two' is not a valid integer" in wrong.stderr


def test_a_local_file_in_a_workspace_folder_runs_at_its_path(live: Live, tmp_path: Path) -> None:
    (tmp_path / "tidemill.yaml").write_text("includes: ['f/**']\n")
    script = tmp_path / "f" / "drafts" / "where.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import os\n\ndef main(tags: list[str], opts: dict, on: bool = False):\n"
        "    return [os.environ['WM_JOB_PATH'], tags, opts, on]\n"
    )
    result = live.cli("run", str(script), "-a", "tags=a,b", "-a", 'opts={"k": 1}', "-a", "on=yes")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == ["f/drafts/where", ["a", "b"], {"k": 1}, True]
    with live.api() as api:
        assert api.get("/api/w/main/scripts/get/p/f/drafts/where").status_code == 404
    broken = tmp_path / "broken.py"
    broken.write_text("def main(:\n")
    failed = live.cli("run", str(broken))
    assert failed.exit_code == 1
    assert "cannot read the script" in failed.stderr


def test_whoami_and_login_confirm_the_token(live: Live, tmp_path: Path) -> None:
    shown = live.cli("whoami")
    assert shown.exit_code == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert lines == [
        ["user:", "admin"], ["role:", "admin"], ["server:", live.url], ["workspace:", "main"],
    ]  # fmt: skip
    me = json.loads(live.cli("whoami", "--json").stdout)
    assert (me["username"], me["is_admin"], me["url"], me["workspace"]) == (
        "admin", True, live.url, "main",
    )  # fmt: skip
    bad = live.cli("whoami", TIDEMILL_TOKEN="tm_not_a_token")
    assert bad.exit_code == 1
    assert "invalid or expired token" in bad.stderr
    env = {"XDG_CONFIG_HOME": str(tmp_path), "TIDEMILL_URL": None, "TIDEMILL_TOKEN": None}
    login = live.cli("login", live.url, "--token", ADMIN_TOKEN, **env)
    assert login.exit_code == 0, login.stderr
    assert "as admin (admin)" in login.stderr
    listed = json.loads(live.cli("profile", "list", "--json", **env).stdout)
    assert [p["username"] for p in listed] == ["admin"]  # learnt from whoami, not typed


def test_a_local_file_that_does_not_exist(live: Live) -> None:
    result = live.cli("run", "./missing.py")
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_jobs_logs_and_cancel(live: Live) -> None:
    live.save("f/cli/slow", SLOW)
    started = live.cli("run", "f/cli/slow", "--detach")
    assert started.exit_code == 0, started.stderr
    job_id = started.stdout.strip()

    def sleeping() -> bool:
        return "sleeping" in live.cli("logs", job_id).stdout

    wait_for(sleeping)
    listed = live.cli("jobs", "--path", "f/cli/slow", "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == [job_id]
    table = live.cli("jobs", "--path", "f/cli/slow")
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "SCRIPT", "STATUS"]
    assert job_id in table.stdout
    assert "running" in table.stdout

    canceled = live.cli("cancel", job_id)
    assert canceled.exit_code == 0, canceled.stderr
    followed = live.cli("logs", job_id, "-f")
    assert followed.exit_code == 1
    assert "sleeping" in followed.stdout
    assert "canceled" in followed.stderr
    again = live.cli("cancel", job_id)
    assert again.exit_code == 1
    assert "already completed" in again.stderr


def test_logs_follow_a_successful_job(live: Live) -> None:
    live.save("f/cli/quick", SLOW)
    job_id = live.cli("run", "f/cli/quick", "-a", "seconds=0.2", "-d").stdout.strip()
    followed = live.cli("logs", job_id, "--follow")
    assert followed.exit_code == 0, followed.stderr
    assert followed.stdout == "sleeping\n"
    only_failed = live.cli("jobs", "--path", "f/cli/quick", "--failure", "--json")
    assert json.loads(only_failed.stdout) == []


def test_variables(live: Live) -> None:
    assert live.cli("var", "set", "f/cli/region", "eu-west-1").exit_code == 0
    assert live.cli("var", "get", "f/cli/region").stdout == "eu-west-1\n"
    secret = live.cli("var", "set", "f/cli/api_key", "--secret", input="s3cr3t\n")
    assert secret.exit_code == 0, secret.stderr
    assert live.cli("var", "get", "f/cli/api_key").stdout == "s3cr3t\n"
    assert live.cli("var", "set", "f/cli/region", "us-east-2").exit_code == 0
    listed = live.cli("var", "list")
    assert "us-east-2" in listed.stdout
    assert "s3cr3t" not in listed.stdout
    as_json = {v["path"]: v for v in json.loads(live.cli("var", "list", "--json").stdout)}
    assert as_json["f/cli/api_key"]["is_secret"] is True
    assert live.cli("var", "rm", "f/cli/region").exit_code == 0
    assert live.cli("var", "get", "f/cli/region").exit_code == 1


def test_login_with_a_token_saves_a_private_profile(live: Live, tmp_path: Path) -> None:
    config = tmp_path / "xdg"
    env = {"XDG_CONFIG_HOME": str(config), "TIDEMILL_URL": None, "TIDEMILL_TOKEN": None}
    runner = CliRunner()
    not_yet = runner.invoke(main.app, ["jobs"], env=env)
    assert not_yet.exit_code == 1
    assert "tidemill login" in not_yet.stderr
    result = runner.invoke(main.app, ["login", live.url, "--token", ADMIN_TOKEN], env=env)
    assert result.exit_code == 0, result.stderr
    saved = config / "tidemill" / "profiles.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["profiles"]
    assert runner.invoke(main.app, ["jobs", "--json"], env=env).exit_code == 0
    bad = runner.invoke(main.app, ["login", live.url, "--token", "tm_nope"], env=env)
    assert bad.exit_code == 1


def test_login_with_a_password_and_profiles(live: Live, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "TIDEMILL_URL": None, "TIDEMILL_TOKEN": None}
    runner = CliRunner()
    result = runner.invoke(
        main.app,
        ["login", live.url, "-u", "admin", "--profile", "local"],
        env=env,
        input=ADMIN_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert "as admin" in result.stderr
    wrong = runner.invoke(
        main.app, ["login", live.url, "-u", "admin", "--password", "nope"], env=env
    )
    assert wrong.exit_code == 1
    listed = json.loads(runner.invoke(main.app, ["profile", "list", "--json"], env=env).stdout)
    assert [(p["name"], p["active"], p["username"]) for p in listed] == [("local", True, "admin")]
    live.save("f/cli/hello", "def main():\n    return 'hello'\n")
    ran = runner.invoke(main.app, ["--profile", "local", "run", "f/cli/hello"], env=env)
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout) == "hello"
    # the environment wins over the profile, field by field
    elsewhere = runner.invoke(
        main.app, ["run", "f/cli/hello"], env={**env, "TIDEMILL_TOKEN": "tm_wrong"}
    )
    assert elsewhere.exit_code == 1
    assert runner.invoke(main.app, ["profile", "rm", "local"], env=env).exit_code == 0
    assert runner.invoke(main.app, ["run", "f/cli/hello"], env=env).exit_code == 1


def test_schedules(live: Live) -> None:
    live.save("f/cli/nightly", TYPED)
    added = live.cli(
        "schedule", "add", "f/cli/nightly", "0 3 * * *", "--tz", "Europe/Paris",
        "-a", "count=2", "-a", "ratio=0.5", "-a", "tags=x",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "next:" in added.stderr
    shown = json.loads(live.cli("schedule", "show", "f/cli/nightly").stdout)
    assert shown["args"] == {"count": 2, "ratio": 0.5, "tags": ["x"]}
    assert (shown["timezone"], shown["enabled"]) == ("Europe/Paris", True)
    table = live.cli("schedule", "list")
    assert "f/cli/nightly" in table.stdout
    assert "0 3 * * *" in table.stdout
    assert live.cli("schedule", "pause", "f/cli/nightly").exit_code == 0
    listed = json.loads(live.cli("schedule", "list", "--json").stdout)
    assert [s["enabled"] for s in listed if s["path"] == "f/cli/nightly"] == [False]
    assert live.cli("schedule", "resume", "f/cli/nightly").exit_code == 0
    assert json.loads(live.cli("schedule", "show", "f/cli/nightly").stdout)["enabled"] is True
    bad = live.cli("schedule", "add", "f/cli/nightly", "not a cron", "--path", "f/cli/bad")
    assert bad.exit_code == 1
    assert live.cli("schedule", "rm", "f/cli/nightly").exit_code == 0
    assert live.cli("schedule", "show", "f/cli/nightly").exit_code == 1


def test_curl_prints_a_webhook_line_that_runs_the_script(live: Live) -> None:
    live.save(
        "f/cli/greet", 'def main(name: str = "world", times: int = 1):\n    return name * times\n'
    )
    result = live.cli("curl", "f/cli/greet")
    assert result.exit_code == 0, result.stderr
    line = result.stdout
    assert "/api/w/main/webhooks/f/cli/greet?wait=true" in line
    assert '"name": "world"' in line and '"times": 1' in line
    assert "$TIDEMILL_TOKEN" in line
    missing = live.cli("curl", "f/cli/nothing")
    assert missing.exit_code != 0


def test_the_wmill_client_runs_a_preview(live: Live) -> None:
    import wmill

    windmill = wmill.Windmill(base_url=live.url, token=ADMIN_TOKEN, workspace="main")
    try:
        assert windmill.whoami()["username"] == "admin"
        code = "def main(a: int, b: int = 2):\n    return a * b\n"
        assert windmill.run_inline_script_preview(code, "python3", {"a": 21}) == 42
    finally:
        windmill.client.close()
