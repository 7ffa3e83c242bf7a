"""`tidemill hub list|show|add`, and hub scripts deployed and run on a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import hub, layout
from tests.test_cli_support import Live, start_live

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    yield from start_live(pg_server, template_db, tmp_path_factory.mktemp("hub"))


def test_list_and_show(live: Live) -> None:
    table = live.cli("hub", "list")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["NAME", "LANGUAGE", "SUMMARY", "NEEDS"]
    listed = json.loads(live.cli("hub", "list", "--json").stdout)
    assert {e["name"] for e in listed} >= {"http_request", "send_email", "s3_upload"}
    assert len(listed) >= 12
    shown = live.cli("hub", "show", "http_request")
    assert shown.exit_code == 0
    assert "  url: string - The URL (http or https).\n" in shown.stdout
    assert "retries: integer = 3 - How many times to retry" in shown.stdout
    assert "def main(" in shown.stdout
    code = live.cli("hub", "show", "csv_to_json", "--code")
    assert code.stdout == (hub.hub_dir() / "csv_to_json.py").read_text()
    near = live.cli("hub", "show", "http_requets")
    assert near.exit_code == 1
    assert "did you mean http_request" in near.stderr


def test_add_deploys_and_the_script_runs(live: Live) -> None:
    added = live.cli("hub", "add", "csv_to_json")
    assert added.exit_code == 0, added.stderr
    assert "✓ f/hub/csv_to_json (csv_text: string" in added.stderr
    ran = live.cli("run", "f/hub/csv_to_json", "-a", "csv_text=a,b\n1,x\n")
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout) == [{"a": 1, "b": "x"}]
    with live.api() as api:
        saved = api.get("/api/w/main/scripts/get/p/f/hub/csv_to_json").json()
    assert saved["summary"] == "CSV to JSON"


def test_rotate_secret_runs_with_the_job_s_own_token(live: Live) -> None:
    assert live.cli("hub", "add", "rotate_secret", "f/ops/rotate").exit_code == 0
    first = live.cli("run", "f/ops/rotate", "-a", "path=f/ops/signing_key", "-a", "length=20")
    assert first.exit_code == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["previous_fingerprint"] is None
    value = live.cli("var", "get", "f/ops/signing_key").stdout.strip()
    assert len(value) == 20
    assert value not in first.stdout + first.stderr  # only fingerprints leave the job
    second = json.loads(live.cli("run", "f/ops/rotate", "-a", "path=f/ops/signing_key").stdout)
    assert second["previous_fingerprint"] == result["fingerprint"]
    assert live.cli("var", "get", "f/ops/signing_key_previous").stdout.strip() == value
    listed = {v["path"]: v for v in json.loads(live.cli("var", "list", "--json").stdout)}
    assert listed["f/ops/signing_key"]["is_secret"] is True


def test_add_into_a_folder_then_push(live: Live, tmp_path: Path) -> None:
    copied = live.cli("hub", "add", "json_transform", "f/tools/jq", "--into", str(tmp_path))
    assert copied.exit_code == 0, copied.stderr
    assert (tmp_path / "f/tools/jq.py").read_text() == (
        hub.hub_dir() / "json_transform.py"
    ).read_text()
    meta = layout.parse_meta((tmp_path / "f/tools/jq.script.yaml").read_text(), "jq")
    assert meta.summary == "Transform JSON (jq-like)"
    again = live.cli("hub", "add", "json_transform", "f/tools/jq", "--into", str(tmp_path))
    assert again.exit_code == 1
    assert "--force" in again.stderr
    assert live.cli("push", str(tmp_path), "-y").exit_code == 0
    ran = live.cli(
        "run", "f/tools/jq", "--json", '{"data": {"a": [1, 2, 3]}, "expression": ".a | add"}'
    )
    assert json.loads(ran.stdout) == 6
    bad = live.cli("hub", "add", "csv_to_json", "not/a/path")
    assert bad.exit_code == 1
