"""The container files, checked without a Docker engine.

`docker-compose config` (Debian's docker-compose, installed by .ci/run) validates
the compose file against a `.env` made from `.env.example`; the rest checks that
the image's commands exist and that every variable the files name is a setting.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from server import settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
NAME = re.compile(r"\bTIDEMILL_[A-Z0-9_]+\b")
# what a deployment cannot do without: where the database is, the secrets, where to listen
DEPLOYMENT_SETTINGS = {
    "TIDEMILL_DATABASE_URL",
    "TIDEMILL_SECRET_KEY",
    "TIDEMILL_ADMIN_PASSWORD",
    "TIDEMILL_ADMIN_TOKEN",
    "TIDEMILL_HOST",
    "TIDEMILL_PORT",
}


def settings_read() -> set[str]:
    """Every `TIDEMILL_*` name server/settings.py reads."""
    return set(NAME.findall(Path(settings.__file__).read_text()))


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose file as docker-compose resolves it, with `.env` copied from .env.example."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's)")
    work = tmp_path_factory.mktemp("compose")
    shutil.copy(COMPOSE, work / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, work / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIDEMILL_", "POSTGRES_"))}
    done = subprocess.run(
        [tool, "config"], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_compose_file_is_valid(compose_config: dict[str, Any]) -> None:
    assert set(compose_config["services"]) == {"postgres", "server", "worker"}
    assert "pgdata" in compose_config["volumes"]


def test_services_wait_for_a_healthy_database(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert services["postgres"]["healthcheck"]["test"]
    for role in ("server", "worker"):
        assert services[role]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_workers_scale_and_share_the_dependency_cache(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    worker, server = services["worker"], services["server"]
    # a fixed container name or a published port would break `--scale worker=N`
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["worker"]
    assert server["command"] == ["server"]
    assert any(p["target"] == 8000 for p in server["ports"])
    home = server["environment"]["TIDEMILL_HOME"]
    for role in (server, worker):
        mounts = {v.split(":")[1] for v in role["volumes"] if isinstance(v, str)}
        assert home in mounts
    assert (
        worker["environment"]["TIDEMILL_DATABASE_URL"]
        == (server["environment"]["TIDEMILL_DATABASE_URL"])
    )


def test_secrets_come_from_the_env_file(compose_config: dict[str, Any]) -> None:
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    server = compose_config["services"]["server"]["environment"]
    for name in ("TIDEMILL_SECRET_KEY", "TIDEMILL_ADMIN_PASSWORD", "TIDEMILL_ADMIN_TOKEN"):
        assert server[name] == example[name]
    text = COMPOSE.read_text()
    assert "${TIDEMILL_SECRET_KEY:?" in text  # required, never a default baked into the file


def test_every_variable_named_is_a_setting() -> None:
    read = settings_read()
    for path in (COMPOSE, ENV_EXAMPLE, DOCKERFILE):
        named = set(NAME.findall(path.read_text()))
        assert named <= read, f"{path.name} names variables no setting reads: {named - read}"


def test_the_settings_a_deployment_needs_are_in_the_compose_file() -> None:
    assert settings_read() >= DEPLOYMENT_SETTINGS
    named = set(NAME.findall(COMPOSE.read_text()))
    assert named >= DEPLOYMENT_SETTINGS, DEPLOYMENT_SETTINGS - named


def test_the_image_entry_commands_exist() -> None:
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["tidemill"]' in text
    assert 'CMD ["server"]' in text
    tidemill = Path(sys.executable).parent / "tidemill"
    assert tidemill.is_file(), "the `tidemill` console script is not installed"
    listed = subprocess.run(
        [str(tidemill), "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for role in ("server", "worker"):
        assert re.search(rf"│ {role}\s", listed) or f" {role} " in listed
        subprocess.run([str(tidemill), role, "--help"], capture_output=True, timeout=60, check=True)


def test_the_image_is_what_the_deployment_expects() -> None:
    text = DOCKERFILE.read_text()
    assert "uv sync --frozen" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*/api/health", text, re.MULTILINE)
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    assert "TIDEMILL_HOST=0.0.0.0" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored
