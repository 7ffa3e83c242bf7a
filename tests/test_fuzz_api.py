"""schemathesis against a real `tidemill server` (and a worker): no request gets a 5xx.

Two schemas: the workspace's OpenAPI document (`/api/w/main/openapi.json`, one
typed operation per script), and the static API's, which Litestar generates
from the route handlers (`server.app.api_handlers`; it is not served).
Every failing case is collected and reported with its curl command.
"""

from __future__ import annotations

from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from server import app, db
from tests.conftest import ADMIN_TOKEN, Processes, wait_healthy

pytestmark = pytest.mark.chaos

HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TYPED = """
import datetime
from typing import Literal, Optional

def main(
    name: str,
    count: int = 1,
    ratio: float = 0.5,
    tags: list[str] = [],
    mode: Literal["a", "b"] = "a",
    when: Optional[datetime.datetime] = None,
    extra: dict = {},
):
    return {"name": name, "count": count, "tags": tags, "mode": mode}
"""
TS = (
    "export function main(name: string, n: number = 1, on?: boolean) {\n"
    "  return [name, n, on];\n"
    "}\n"
)
SH = 'who="$1"\nhow_many="${2:-1}"\necho "$who $how_many"\n'
# streams answer for as long as the job runs: fuzzed ids name no job, but keep requests short
TIMEOUT_S = 20.0


def static_schema() -> dict[str, Any]:
    """The OpenAPI document Litestar derives from the API's route handlers."""
    offline = Litestar(
        route_handlers=app.api_handlers(),
        openapi_config=OpenAPIConfig(title="Tidemill API", version="1"),
    )
    return offline.openapi_schema.to_schema()


def fuzz(schema: schemathesis.schemas.BaseSchema, base_url: str, examples: int) -> list[str]:
    """Run every operation `examples` times; the 5xx answers, as curl commands."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=HEADERS, timeout=TIMEOUT_S)
            if response.status_code >= 500:
                failures.append(
                    f"{response.status_code} {response.text[:300]}\n  "
                    + case.as_curl_command(headers=HEADERS)
                )

        check()
    return failures


def test_no_request_gets_a_server_error(processes: Processes, pool: db.Pool) -> None:
    processes.start("server")
    processes.start("worker")
    base = f"http://127.0.0.1:{processes.env['TIDEMILL_PORT']}"
    wait_healthy(base)
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as client:
        for path, content, language in (
            ("f/fz/typed", TYPED, "python3"),
            ("f/fz/ts", TS, "deno"),
            ("f/fz/sh", SH, "bash"),
        ):
            response = client.post(
                "/api/w/main/scripts/create",
                json={"path": path, "content": content, "language": language},
            )
            assert response.status_code == 201, response.text
        workspace = client.get("/api/w/main/openapi.json").json()

    failures = fuzz(schemathesis.openapi.from_dict(workspace), base, examples=20)
    failures += fuzz(schemathesis.openapi.from_dict(static_schema()), base, examples=10)
    assert not failures, f"{len(failures)} requests got a 5xx:\n" + "\n".join(failures)


async def test_a_value_postgresql_cannot_store_is_a_422(client: httpx.AsyncClient) -> None:
    """Found by the fuzzing: NUL inside a JSON string argument was a 500."""
    response = await client.post(
        "/api/w/main/scripts/create",
        json={
            "path": "f/fz/echo",
            "content": "def main(s: str):\n    return s\n",
            "language": "python3",
        },
    )
    assert response.status_code == 201, response.text
    response = await client.post("/api/w/main/jobs/run/p/f/fz/echo", json={"s": "a\u0000b"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
