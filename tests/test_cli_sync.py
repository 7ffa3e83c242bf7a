"""`tidemill init|push|pull|dev`: a workspace as a folder, against a real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import flow_layout, layout, sync
from tests.conftest import ROOT
from tests.test_cli_support import Live, in_terminal, start_live, wait_for

GREET = '''def main(name: str = "world", times: int = 1):
    """Say hello."""
    return " ".join([f"hello {name}"] * times)
'''
GREET_YAML = """\
summary: Greet someone
description: A friendly script.
timeout: 30
schedules:
- schedule: 0 0 8 * * *
  timezone: Europe/Paris
  args:
    name: team
"""
NO_SUCH_PACKAGE = (
    '# /// script\n# dependencies = ["tidemill-test-no-such-package-0f3a"]\n# ///\n'
    "def main():\n    return 1\n"
)
COUNT_SH = 'n="${1:-3}"\nfor i in $(seq "$n"); do echo "$i"; done\necho "$n"\n'


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


# -- the layout, without a server -----------------------------------------


def test_meta_renders_deterministically_and_round_trips() -> None:
    meta = layout.parse_meta(GREET_YAML, "greet.script.yaml")
    assert meta.summary == "Greet someone"
    assert meta.settings() == {"timeout": 30}
    assert meta.schedules[0].timezone == "Europe/Paris"
    text = layout.render_meta(meta)
    assert layout.parse_meta(text, "again") == meta
    assert layout.render_meta(layout.parse_meta(text, "again")) == text
    assert text == GREET_YAML


def test_the_folder_is_read_by_the_config(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "f/a/one.py": GREET,
            "f/a/one.script.yaml": GREET_YAML,
            "f/a/two.sh": COUNT_SH,
            "f/skip/three.py": GREET,
            "f/a/__pycache__/x.py": "",
            "u/me/mine.py": GREET,
            "notes/readme.py": GREET,
            "tidemill.yaml": "includes: ['f/**', 'u/**']\nexcludes: ['f/skip/**']\n",
        },
    )
    found = layout.read_folder(tmp_path)
    assert sorted(found) == ["f/a/one", "f/a/two", "u/me/mine"]
    assert found["f/a/two"].language == "bash"
    assert found["f/a/one"].meta.summary == "Greet someone"
    assert found["f/a/two"].meta == layout.Meta()
    (tmp_path / "f/a/one.ts").write_text("export function main() {}\n")
    with pytest.raises(layout.LayoutError, match="two code files"):
        layout.read_folder(tmp_path)
    (tmp_path / "tidemill.yaml").write_text("include: ['f/**']\n")
    with pytest.raises(layout.LayoutError, match="include"):
        layout.read_folder(tmp_path)


# -- against a server -----------------------------------------------------


@pytest.fixture(scope="module")
def live(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    yield from start_live(pg_server, template_db, tmp_path_factory.mktemp("sync"))


@pytest.mark.e2e
def test_init_push_pull_round_trip(live: Live, tmp_path: Path) -> None:
    here = tmp_path / "repo"
    assert live.cli("init", str(here)).exit_code == 0
    assert (here / "tidemill.yaml").read_text() == layout.CONFIG_TEMPLATE
    assert live.cli("init", str(here)).exit_code == 1  # not twice
    write(
        here,
        {
            "f/sync/greet.py": GREET,
            "f/sync/greet.script.yaml": GREET_YAML,
            "f/sync/count.sh": COUNT_SH,
        },
    )
    pushed = live.cli("push", str(here), "--yes")
    assert pushed.exit_code == 0, pushed.stderr
    assert "+ script f/sync/greet" in pushed.stderr
    assert "+ schedule f/sync/greet" in pushed.stderr
    assert '✓ f/sync/greet (name: string = "world", times: integer = 1)' in pushed.stderr
    assert '✓ f/sync/count (n: string = "3")' in pushed.stderr
    with live.api() as api:
        greet = api.get("/api/w/main/scripts/get/p/f/sync/greet").json()
        schedule = api.get("/api/w/main/schedules/get/f/sync/greet").json()
    assert (greet["summary"], greet["description"]) == ("Greet someone", "A friendly script.")
    assert greet["settings"] == {"timeout": 30}
    assert (schedule["schedule"], schedule["timezone"]) == ("0 0 8 * * *", "Europe/Paris")
    assert schedule["args"] == {"name": "team"}
    again = live.cli("push", str(here), "--yes")
    assert again.exit_code == 0
    assert "up to date" in again.stderr

    # pull -> push -> pull changes nothing
    copy = tmp_path / "copy"
    (copy).mkdir()
    (copy / "tidemill.yaml").write_text("includes: ['f/sync/**']\n")
    pulled = live.cli("pull", str(copy), "--yes")
    assert pulled.exit_code == 0, pulled.stderr
    first = tree(copy)
    assert first["f/sync/greet.py"] == GREET
    assert first["f/sync/greet.script.yaml"] == GREET_YAML
    assert first["f/sync/count.sh"] == COUNT_SH
    assert first["f/sync/count.script.yaml"] == "summary: ''\ndescription: ''\n"
    assert "up to date" in live.cli("push", str(copy), "--yes").stderr
    assert "up to date" in live.cli("pull", str(copy), "--yes").stderr
    assert tree(copy) == first


@pytest.mark.e2e
def test_push_shows_the_plan_and_asks(live: Live, tmp_path: Path) -> None:
    write(tmp_path, {"f/ask/greet.py": GREET, "f/ask/greet.script.yaml": GREET_YAML})
    assert live.cli("push", str(tmp_path), "-y").exit_code == 0
    write(
        tmp_path,
        {
            "f/ask/greet.py": GREET.replace("hello", "hi"),
            "f/ask/greet.script.yaml": GREET_YAML.replace("Greet someone", "Greet").replace(
                "0 0 8", "0 0 9"
            ),
        },
    )
    dry = live.cli("push", str(tmp_path), "--dry-run")
    assert "~ script f/ask/greet (content, summary)" in dry.stderr
    assert "~ schedule f/ask/greet" in dry.stderr
    # no terminal (CI) and no --yes: refused at once, with the way out, after the plan
    unasked = live.cli("push", str(tmp_path))
    assert unasked.exit_code == 1
    assert "~ script f/ask/greet (content, summary)" in unasked.stderr
    assert "stdin is not a terminal" in unasked.stderr
    assert "--yes" in unasked.stderr
    refused = in_terminal(live, "push", str(tmp_path), answer="n\n")
    assert refused.returncode == 1
    assert "Push 2 change(s) to" in refused.stderr
    assert "nothing changed" in refused.stderr
    with live.api() as api:
        assert "hello" in api.get("/api/w/main/scripts/get/p/f/ask/greet").json()["content"]
    accepted = in_terminal(live, "push", str(tmp_path), answer="y\n")
    assert accepted.returncode == 0, accepted.stderr
    with live.api() as api:
        assert "hi" in api.get("/api/w/main/scripts/get/p/f/ask/greet").json()["content"]
        schedule = api.get("/api/w/main/schedules/get/f/ask/greet").json()
    assert schedule["schedule"] == "0 0 9 * * *"

    # a schedule no longer listed is deleted with the next push
    (tmp_path / "f/ask/greet.script.yaml").write_text("summary: Greet\n")
    as_json = live.cli("push", str(tmp_path), "--json")
    assert as_json.exit_code == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert {"kind": "schedule", "action": "delete", "path": "f/ask/greet", "what": []} in plan[
        "changes"
    ]
    with live.api() as api:
        assert api.get("/api/w/main/schedules/get/f/ask/greet").status_code == 404


@pytest.mark.e2e
def test_push_reports_errors_and_warnings_and_exits_non_zero(live: Live, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "f/bad/broken.py": "def main(:\n    pass\n",
            "f/bad/vague.py": "def main(frame: Frame):\n    return 1\n",
            "f/bad/unlockable.py": NO_SUCH_PACKAGE,
            "f/bad/fine.py": GREET,
        },
    )
    result = live.cli("push", str(tmp_path), "--yes")
    assert result.exit_code == 1
    assert "✗ f/bad/broken: f/bad/broken.py:1:" in result.stderr
    assert "warning: f/bad/vague:" in result.stderr
    assert "✓ f/bad/fine" in result.stderr
    with live.api() as api:
        assert api.get("/api/w/main/scripts/get/p/f/bad/fine").status_code == 200
        assert api.get("/api/w/main/scripts/get/p/f/bad/broken").status_code == 404
        unlockable = api.get("/api/w/main/scripts/get/p/f/bad/unlockable").json()
    if "lock_status" in unlockable:  # a server that locks dependencies on save
        assert "✗ f/bad/unlockable: f/bad/unlockable.py: its dependencies could not be locked" in (
            result.stderr
        )
        assert not (tmp_path / "f/bad/unlockable.script.lock").exists()


@pytest.mark.e2e
def test_pull_writes_changes_and_keeps_local_only_scripts(live: Live, tmp_path: Path) -> None:
    live.save("f/pulled/remote", GREET)
    write(tmp_path, {"f/pulled/local_only.py": GREET, "f/pulled/remote.py": "# old\n"})
    plan = live.cli("pull", str(tmp_path), "--dry-run")
    assert "~ f/pulled/remote.py" in plan.stderr
    assert "+ f/pulled/remote.script.yaml" in plan.stderr
    assert "f/pulled/local_only (only in" in plan.stderr
    assert (tmp_path / "f/pulled/remote.py").read_text() == "# old\n"
    assert live.cli("pull", str(tmp_path), "-y").exit_code == 0
    assert (tmp_path / "f/pulled/remote.py").read_text() == GREET
    assert (tmp_path / "f/pulled/local_only.py").exists()
    # the language changed on the server: the old code file goes
    live.save("f/pulled/remote", 'echo "$1"\n', language="bash")
    assert live.cli("pull", str(tmp_path), "-y").exit_code == 0
    assert not (tmp_path / "f/pulled/remote.py").exists()
    assert (tmp_path / "f/pulled/remote.sh").read_text() == 'echo "$1"\n'


@pytest.mark.e2e
def test_dev_pushes_each_saved_change(live: Live, tmp_path: Path) -> None:
    write(tmp_path, {"f/dev/live.py": GREET})
    env = {**os.environ, **{k: v for k, v in live.env.items()}, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "dev", str(tmp_path)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "watching" in log.read_text())
        time.sleep(0.3)  # the watcher is set up just after the banner
        (tmp_path / "f/dev/live.py").write_text(GREET.replace("times: int = 1", "times: int = 2"))

        def saved() -> bool:
            with live.api() as api:
                response = api.get("/api/w/main/scripts/get/p/f/dev/live")
            return response.status_code == 200 and "times: int = 2" in response.json()["content"]

        wait_for(saved, timeout_s=20)
        wait_for(lambda: "times: integer = 2" in log.read_text())
        (tmp_path / "f/dev/live.py").write_text("def main(:\n")
        wait_for(lambda: "✗ f/dev/live: f/dev/live.py:1:" in log.read_text(), timeout_s=20)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_schedule_defaults_are_left_out_whatever_their_source() -> None:
    remote = {"path": "f/a/b", "schedule": "* * * * *", "timezone": "".join(["U", "TC"])}
    schedule = layout.schedule_from_remote({**remote, "args": {}, "enabled": True}, "f/a/b")
    meta = layout.Meta(summary="s", schedules=[schedule])
    assert (
        layout.render_meta(meta)
        == "summary: s\ndescription: ''\nschedules:\n- schedule: '* * * * *'\n"
    )


def test_push_keeps_the_lock_file_what_the_server_locked(tmp_path: Path) -> None:
    lock = tmp_path / "f/a/b.script.lock"
    lock.parent.mkdir(parents=True)
    sync.write_lock(tmp_path, sync.Saved(path="f/a/b", hash="h", lock="# py3.11\nx==1\n"))
    assert not lock.exists()  # a server without locks: nothing written
    sync.write_lock(tmp_path, sync.Saved(path="f/a/b", hash="h", lock="x==1\n", locks=True))
    assert lock.read_text() == "x==1\n"
    sync.write_lock(tmp_path, sync.Saved(path="f/a/b", hash="h", lock=None, locks=True))
    assert not lock.exists()  # the new version needs nothing


EVERY_SETTING_YAML = """\
summary: Every setting
description: ''
timeout: 45
tag: sync-tests
priority: 3
concurrent_limit: 2
concurrency_time_window_s: 60
dedicated_worker: true
retry:
  constant:
    attempts: 2
schedules:
- schedule: 0 0 6 * * *
  enabled: false
  retry:
    exponential:
      attempts: 3
      seconds: 2
"""


def test_the_layout_knows_every_setting_the_server_saves() -> None:
    from server import scripts

    saved = set(scripts.NewScript.__struct_fields__) - {
        "path", "content", "language", "summary", "description",
    }  # fmt: skip
    assert set(layout.SETTINGS) == saved
    meta_fields = set(layout.Meta.__struct_fields__) - {"summary", "description", "schedules"}
    assert meta_fields == saved
    assert set(layout.SCHEDULE_DEFAULTS) | {"path", "schedule"} == set(
        layout.Schedule.__struct_fields__
    )


@pytest.mark.parametrize(
    "policy",
    [
        {"constant": {"attempts": 2}},
        {"exponential": {"attempts": 3}},
        {"exponential": {"attempts": 3, "seconds": 2, "multiplier": 4}},
        {"constant": {"attempts": 1, "seconds": 5}, "exponential": None},
    ],
)
def test_retry_policies_compare_as_the_server_keeps_them(policy: dict[str, object]) -> None:
    import msgspec

    from server import models, script_settings

    kept = msgspec.to_builtins(msgspec.convert(policy, models.RetryPolicy))
    assert script_settings.normal("retry", policy) == script_settings.normal("retry", kept)
    assert script_settings.normal("retry", kept) == script_settings.without_nulls(kept)


@pytest.mark.e2e
def test_every_setting_round_trips_through_pull_and_push(live: Live, tmp_path: Path) -> None:
    here = tmp_path / "repo"
    write(here, {"f/every/job.py": GREET, "f/every/job.script.yaml": EVERY_SETTING_YAML})
    pushed = live.cli("push", str(here), "--yes")
    assert pushed.exit_code == 0, pushed.stderr
    with live.api() as api:
        saved = api.get("/api/w/main/scripts/get/p/f/every/job").json()["settings"]
        schedule = api.get("/api/w/main/schedules/get/f/every/job").json()
    assert saved["timeout"] == 45
    assert saved["tag"] == "sync-tests"
    assert (saved["priority"], saved["concurrent_limit"]) == (3, 2)
    assert (saved["concurrency_time_window_s"], saved["dedicated_worker"]) == (60, True)
    assert saved["retry"]["constant"]["attempts"] == 2
    assert schedule["retry"]["exponential"]["attempts"] == 3
    assert schedule["enabled"] is False
    # the hand-written file and the server agree: nothing to push again
    assert "up to date" in live.cli("push", str(here), "--yes").stderr
    edited = EVERY_SETTING_YAML.replace("attempts: 2", "attempts: 5").replace("45", "50")
    (here / "f/every/job.script.yaml").write_text(edited)
    plan = live.cli("push", str(here), "--dry-run")
    assert "~ script f/every/job (settings: timeout retry)" in plan.stderr
    (here / "f/every/job.script.yaml").write_text(EVERY_SETTING_YAML)

    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "tidemill.yaml").write_text("includes: ['f/every/**']\n")
    assert live.cli("pull", str(copy), "--yes").exit_code == 0
    first = tree(copy)
    meta = layout.parse_meta(first["f/every/job.script.yaml"], "pulled")
    assert meta.settings() == {
        "timeout": 45,
        "tag": "sync-tests",
        "priority": 3,
        "concurrent_limit": 2,
        "concurrency_time_window_s": 60,
        "dedicated_worker": True,
        "retry": {"constant": {"attempts": 2, "seconds": 0}},
    }
    assert meta.schedules[0].retry == {
        "exponential": {"attempts": 3, "seconds": 2, "multiplier": 1}
    }
    assert meta.schedules[0].enabled is False
    # pull -> push -> pull: unchanged
    assert "up to date" in live.cli("push", str(copy), "--yes").stderr
    assert "up to date" in live.cli("pull", str(copy), "--yes").stderr
    assert tree(copy) == first


@pytest.mark.e2e
def test_push_waits_for_a_lock_made_after_the_save(live: Live) -> None:
    """A server that locks after saving answers `pending` first; push reports the outcome."""
    import asyncio
    import threading

    import asyncpg

    from cli import client, profiles

    hash_ = live.save("f/later/locked", GREET)

    def set_lock(status: str, error: str | None) -> None:
        async def update() -> None:
            conn = await asyncpg.connect(live.processes.env["TIDEMILL_DATABASE_URL"])
            try:
                await conn.execute(
                    "UPDATE script_versions SET lock_status = $1, lock_error = $2 WHERE hash = $3",
                    status,
                    error,
                    hash_,
                )
            finally:
                await conn.close()

        asyncio.run(update())

    set_lock("pending", None)
    profile = profiles.Profile(url=live.url, token=live.env["TIDEMILL_TOKEN"])
    with client.Client(profile) as api:
        assert sync.wait_locked(api, hash_, 0.3)["lock_status"] == "pending"
        later = threading.Timer(1.0, set_lock, ("failed", "no such package: nope"))
        later.start()
        started = time.monotonic()
        try:
            outcome = sync.wait_locked(api, hash_, 20)
        finally:
            later.join()
    assert time.monotonic() - started >= 0.9
    assert (outcome["lock_status"], outcome["lock_error"]) == ("failed", "no such package: nope")


# -- flows ----------------------------------------------------------------

SHOUT_PY = 'def main(name: str):\n    return f"hello {name}"\n'
EXCLAIM_PY = (
    'def main(text: str):\n    """Add a bang."""\n    print(f"exclaiming {text}")\n'
    '    return text + "!"\n'
)
UPPER_SH = 'text="$1"\necho "${text^^}"\n'
FLOW_YAML = """\
summary: Greet, then shout
description: |
  Two inline steps around a script.
  The last one is Bash.
value:
  modules:
  - id: hello
    value:
      type: rawscript
      content: '!inline hello.inline_script.py'
      language: python3
      input_transforms:
        name:
          type: javascript
          expr: flow_input.name
  - id: bang
    value:
      type: script
      path: f/flowsync/exclaim
      input_transforms:
        text:
          type: javascript
          expr: results.hello
  - id: shout
    value:
      type: rawscript
      content: '!inline shout.inline_script.sh'
      language: bash
      input_transforms:
        text:
          type: javascript
          expr: results.bang
schema:
  type: object
  properties:
    name:
      type: string
      default: world
"""

OUTER_YAML = """\
summary: ''
description: ''
value:
  modules:
  - id: inner
    value:
      type: flow
      path: f/flowsync/greet
      input_transforms:
        name:
          type: static
          value: sub
"""


def flow_folder(root: Path, path: str = "f/flowsync/greet") -> dict[str, str]:
    files = {
        "f/flowsync/exclaim.py": EXCLAIM_PY,
        f"{path}.flow/flow.yaml": FLOW_YAML,
        f"{path}.flow/hello.inline_script.py": SHOUT_PY,
        f"{path}.flow/shout.inline_script.sh": UPPER_SH,
    }
    write(root, files)
    return files


def test_a_flow_folder_reads_its_inline_files_and_renders_back_the_same(tmp_path: Path) -> None:
    files = flow_folder(tmp_path)
    folders = flow_layout.flow_folders(tmp_path, layout.load_config(tmp_path))
    assert list(folders) == ["f/flowsync/greet"]
    assert list(layout.read_folder(tmp_path)) == ["f/flowsync/exclaim"]  # inline files are not
    flow = flow_layout.read_flow(tmp_path, "f/flowsync/greet", folders["f/flowsync/greet"])
    modules = flow.value["modules"]
    assert modules[0]["value"]["content"] == SHOUT_PY
    assert modules[2]["value"]["content"] == UPPER_SH
    assert flow.description == "Two inline steps around a script.\nThe last one is Bash.\n"
    rendered = flow_layout.files_of(flow)
    assert rendered == {k: v for k, v in files.items() if ".flow/" in k}
    # Windmill's unquoted tag reads the same; a missing file is named
    unquoted = FLOW_YAML.replace(
        "'!inline hello.inline_script.py'", "!inline hello.inline_script.py"
    )
    (tmp_path / "f/flowsync/greet.flow/flow.yaml").write_text(unquoted)
    again = flow_layout.read_flow(tmp_path, "f/flowsync/greet", folders["f/flowsync/greet"])
    assert again == flow
    (tmp_path / "f/flowsync/greet.flow/shout.inline_script.sh").unlink()
    with pytest.raises(layout.LayoutError, match=r"step 'shout': no file 'shout.inline_script.sh'"):
        flow_layout.read_flow(tmp_path, "f/flowsync/greet", folders["f/flowsync/greet"])


def test_nested_inline_steps_and_locks_get_files_named_by_their_step() -> None:
    inner = {"id": "each", "value": {"type": "rawscript", "language": "deno", "content": "x"}}
    flow = flow_layout.Flow(
        path="f/a/loop",
        value={
            "modules": [
                {"id": "loop", "value": {"type": "forloopflow", "modules": [inner]}},
            ],
            "failure_module": {
                "id": "failure",
                "value": {"type": "rawscript", "language": "python3", "content": "y", "lock": "z"},
            },
        },
    )
    files = flow_layout.files_of(flow)
    assert set(files) == {
        "f/a/loop.flow/flow.yaml",
        "f/a/loop.flow/each.inline_script.ts",
        "f/a/loop.flow/failure.inline_script.py",
        "f/a/loop.flow/failure.inline_script.lock",
    }
    assert "lock: '!inline failure.inline_script.lock'" in files["f/a/loop.flow/flow.yaml"]
    assert flow.value["modules"][0]["value"]["modules"][0]["value"]["content"] == "x"  # a copy


@pytest.mark.e2e
def test_a_flow_pushes_runs_pulls_and_round_trips(live: Live, tmp_path: Path) -> None:
    here = tmp_path / "repo"
    files = flow_folder(here)
    # a flow that runs the other as a sub-flow: pushed after it, though it sorts first
    files["f/flowsync/a_outer.flow/flow.yaml"] = OUTER_YAML
    write(here, files)
    pushed = live.cli("push", str(here), "--yes")
    assert pushed.exit_code == 0, pushed.stderr
    assert "+ script f/flowsync/exclaim" in pushed.stderr
    assert "+ flow f/flowsync/greet" in pushed.stderr
    assert '✓ flow f/flowsync/greet (name: string = "world")' in pushed.stderr
    assert "✓ flow f/flowsync/a_outer" in pushed.stderr
    with live.api() as api:
        saved = api.get("/api/w/main/flows/get/f/flowsync/greet").json()
    assert saved["summary"] == "Greet, then shout"
    modules = saved["value"]["modules"]
    assert [m["value"].get("content") for m in modules] == [SHOUT_PY, None, UPPER_SH]
    assert "up to date" in live.cli("push", str(here), "--yes").stderr
    ran = live.cli("run", "f/flowsync/greet", "-a", "name=ada")
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout) == "HELLO ADA!"
    # each step is shown as it ends, with its logs (a flow has none of its own)
    assert "── step hello: Success" in ran.stderr
    assert "── step bang: Success\nexclaiming hello ada\n" in ran.stderr
    added = live.cli(
        "schedule", "add", "f/flowsync/greet", "0 0 1 1 *", "--flow", "-a", "name=bo",
        "--path", "f/flowsync/yearly",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    shown = json.loads(live.cli("schedule", "show", "f/flowsync/yearly").stdout)
    assert (shown["is_flow"], shown["args"]) == (True, {"name": "bo"})

    # a changed inline file is a change of the flow, shown and confirmed like a script's
    (here / "f/flowsync/greet.flow/shout.inline_script.sh").write_text(UPPER_SH + "# v2\n")
    dry = live.cli("push", str(here), "--dry-run")
    assert "~ flow f/flowsync/greet (value)" in dry.stderr
    unasked = live.cli("push", str(here))
    assert unasked.exit_code == 1
    assert "stdin is not a terminal" in unasked.stderr
    (here / "f/flowsync/greet.flow/shout.inline_script.sh").write_text(UPPER_SH)

    # pull into an empty folder writes Windmill's layout; pull -> push -> pull changes nothing
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "tidemill.yaml").write_text("includes: ['f/flowsync/**']\n")
    pulled = live.cli("pull", str(copy), "--yes")
    assert pulled.exit_code == 0, pulled.stderr
    first = tree(copy)
    assert {k: v for k, v in first.items() if k in files} == files  # byte for byte
    assert "up to date" in live.cli("push", str(copy), "--yes").stderr
    assert "up to date" in live.cli("pull", str(copy), "--yes").stderr
    assert tree(copy) == first
    # the hand-written folder agrees with the server: its flow files are left alone
    again = live.cli("pull", str(here), "--dry-run")
    assert again.exit_code == 0, again.stderr
    assert ".flow" not in again.stderr

    # the server drops a step: its inline file goes; a flow only in the folder stays
    saved["value"]["modules"] = modules[:2]
    with live.api() as api:
        response = api.post("/api/w/main/flows/update/f/flowsync/greet", json=saved)
    assert response.status_code == 200, response.text
    write(copy, {"f/flowsync/mine.flow/flow.yaml": "summary: mine\nvalue:\n  modules: []\n"})
    plan = live.cli("pull", str(copy), "--dry-run")
    assert "- f/flowsync/greet.flow/shout.inline_script.sh" in plan.stderr
    assert "~ f/flowsync/greet.flow/flow.yaml" in plan.stderr
    assert "f/flowsync/mine.flow (only in" in plan.stderr
    assert live.cli("pull", str(copy), "--yes").exit_code == 0
    assert not (copy / "f/flowsync/greet.flow/shout.inline_script.sh").exists()
    assert "shout.inline_script" not in (copy / "f/flowsync/greet.flow/flow.yaml").read_text()
    assert (copy / "f/flowsync/mine.flow/flow.yaml").exists()


@pytest.mark.e2e
def test_a_flow_the_server_refuses_is_reported_with_its_file(live: Live, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "f/flowbad/broken.flow/flow.yaml": FLOW_YAML.replace("f/flowsync/", "f/flowbad/"),
            "f/flowbad/broken.flow/hello.inline_script.py": SHOUT_PY,
            "f/flowbad/broken.flow/shout.inline_script.sh": UPPER_SH,
            "f/flowbad/unreadable.flow/flow.yaml": "value: [",
        },
    )
    unreadable = live.cli("push", str(tmp_path), "--yes")
    assert unreadable.exit_code == 1
    assert "f/flowbad/unreadable.flow/flow.yaml" in unreadable.stderr
    (tmp_path / "f/flowbad/unreadable.flow/flow.yaml").unlink()
    result = live.cli("push", str(tmp_path), "--yes")
    assert result.exit_code == 1
    assert (
        "✗ f/flowbad/broken: f/flowbad/broken.flow/flow.yaml: the flow has 1 problem(s): "
        "step 'bang': no script at 'f/flowbad/exclaim'"
    ) in result.stderr
    with live.api() as api:
        assert api.get("/api/w/main/flows/get/f/flowbad/broken").status_code == 404


@pytest.mark.e2e
def test_dev_pushes_a_flow_when_its_yaml_or_an_inline_file_changes(
    live: Live, tmp_path: Path
) -> None:
    flow_folder(tmp_path, "f/flowsync/live")
    assert live.cli("push", str(tmp_path), "--yes").exit_code == 0
    env = {**os.environ, **{k: v for k, v in live.env.items()}, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "dev", str(tmp_path)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def flow() -> dict[str, Any]:
        with live.api() as api:
            found: dict[str, Any] = api.get("/api/w/main/flows/get/f/flowsync/live").json()
        return found

    try:
        wait_for(lambda: "watching" in log.read_text())
        time.sleep(0.3)  # the watcher is set up just after the banner
        folder = tmp_path / "f/flowsync/live.flow"
        (folder / "hello.inline_script.py").write_text(SHOUT_PY.replace("hello", "hi"))
        wait_for(
            lambda: "hi {name}" in flow()["value"]["modules"][0]["value"]["content"], timeout_s=20
        )
        wait_for(lambda: "✓ flow f/flowsync/live" in log.read_text())
        (folder / "flow.yaml").write_text(FLOW_YAML.replace("Greet, then shout", "Shout"))
        wait_for(lambda: flow()["summary"] == "Shout", timeout_s=20)
        (folder / "flow.yaml").write_text(FLOW_YAML.replace("flow_input.name", "flow_input.("))
        wait_for(lambda: "✗ f/flowsync/live: f/flowsync/live.flow/flow.yaml" in log.read_text())
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
