"""examples/ deploys cleanly with `tidemill push examples/` and does what its README says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ROOT
from tests.test_cli_support import Live, start_live

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def live(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    yield from start_live(pg_server, template_db, tmp_path_factory.mktemp("examples"))


def files_under(root: Path) -> dict[Path, str]:
    """Every file of a workspace folder's `f/` (a flow's folder holds files too)."""
    return {p.relative_to(root): p.read_text() for p in (root / "f").rglob("*") if p.is_file()}


def test_examples_push_run_and_pull_back_unchanged(live: Live, tmp_path: Path) -> None:
    pushed = live.cli("push", str(EXAMPLES), "--yes")
    assert pushed.exit_code == 0, pushed.stderr  # no error, no schema warning
    assert "warning:" not in pushed.stderr

    # the form
    greet = live.cli("run", "f/examples/greet", "-a", "name=Ada", "-a", "language=fr")
    assert greet.exit_code == 0, greet.stderr
    assert json.loads(greet.stdout)["greeting"] == "Bonjour, Ada!"
    with live.api() as api:
        schema = api.get("/api/w/main/scripts/get/p/f/examples/greet").json()["schema"]
    assert schema["properties"]["language"]["enum"] == ["en", "fr", "es", "de"]

    # the schedule
    with live.api() as api:
        schedule = api.get("/api/w/main/schedules/get/f/examples/disk_report").json()
    assert (schedule["schedule"], schedule["enabled"]) == ("*/15 * * * *", True)
    report = live.cli("run", "f/examples/disk_report", "-a", "warn_percent=100")
    assert report.exit_code == 0, report.stderr

    # the webhook
    webhook = httpx.post(
        f"{live.url}/api/w/main/webhooks/f/examples/on_alert",
        params={"token": ADMIN_TOKEN, "wait": "true"},
        json={"title": "disk full", "severity": "critical", "source": "db-1"},
        timeout=60,
    )
    assert webhook.status_code == 200, webhook.text
    assert webhook.json()["page_on_call"] is True

    # TypeScript
    slug = live.cli("run", "f/examples/slugify", "-a", "title=Héllo, World!")
    assert slug.exit_code == 0, slug.stderr
    assert json.loads(slug.stdout) == "hello-world"

    # the flow: a script step, then an inline one
    welcome = live.cli("run", "f/examples/welcome", "-a", "name=Ada", "-a", "language=es")
    assert welcome.exit_code == 0, welcome.stderr
    assert json.loads(welcome.stdout) == "Hola, Ada! (from the Tidemill team)"
    assert "greeting Ada in es" in welcome.stderr  # the greet step's log

    # what the server has is what the folder says, byte for byte
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    assert live.cli("pull", str(pulled), "--yes").exit_code == 0
    assert files_under(pulled) == files_under(EXAMPLES)
