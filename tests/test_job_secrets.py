"""Secrets inside jobs: `$var:`/`$res:` arguments, masked logs, nothing stored in clear."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server import db
from tests.test_api_jobs import wait_completed
from tests.test_api_scripts import save
from tests.test_variables import create_user
from worker import masking, service

SECRET = "hunter2-SECRET-VALUE-77"
USES_ARGS = """def main(pw: str, db: dict, note: str = ""):
    print("the password is", pw)
    print("the connection is", db)
    print(note)
    return {"length": len(pw), "host": db["host"], "inner": db["password"] == pw}
"""


async def make_secrets(client: httpx.AsyncClient) -> None:
    for body in (
        {"path": "f/cfg/pw", "value": SECRET, "is_secret": True},
        {"path": "f/cfg/plain", "value": "not-a-secret"},
    ):
        assert (await client.post("/api/w/main/variables/create", json=body)).status_code == 201
    response = await client.post(
        "/api/w/main/resources/create",
        json={
            "path": "f/cfg/db",
            "resource_type": "postgresql",
            "value": {"host": "db.internal", "password": "$var:f/cfg/pw"},
        },
    )
    assert response.status_code == 201


async def logs_of(client: httpx.AsyncClient, job_id: str) -> str:
    return (await client.get(f"/api/w/main/jobs_u/get_logs/{job_id}")).text


async def test_references_are_resolved_for_the_job_and_kept_in_its_record(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await make_secrets(client)
    await save(client, "f/sec/uses", USES_ARGS)
    args = {"pw": "$var:f/cfg/pw", "db": "$res:f/cfg/db", "note": "$var:f/cfg/plain"}
    job_id = (await client.post("/api/w/main/jobs/run/p/f/sec/uses", json=args)).text
    job = await wait_completed(client, job_id)
    assert job["success"] is True, job
    assert job["result"] == {"length": len(SECRET), "host": "db.internal", "inner": True}
    record = (await client.get(f"/api/w/main/jobs_u/get/{job_id}")).json()
    assert record["args"] == args  # the record keeps the references, never the values

    logs = await logs_of(client, job_id)
    assert SECRET not in logs
    assert "the password is *****" in logs
    assert "'password': '*****'" in logs
    assert "not-a-secret" in logs  # plain variables are not masked


async def test_a_reference_the_starter_may_not_read_fails_the_job(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    response = await client.post(
        "/api/w/main/variables/create",
        json={"path": "u/admin/private", "value": SECRET, "is_secret": True},
    )
    assert response.status_code == 201
    await save(client, "f/sec/echo", "def main(pw: str):\n    return pw\n")
    alice = await create_user(client, "alice", "developer")
    async with alice:
        response = await alice.post(
            "/api/w/main/jobs/run_wait_result/p/f/sec/echo", json={"pw": "$var:u/admin/private"}
        )
        assert response.status_code >= 400
        assert SECRET not in response.text
        assert "private to 'admin'" in response.text
        missing = await alice.post(
            "/api/w/main/jobs/run_wait_result/p/f/sec/echo", json={"pw": "$var:f/cfg/none"}
        )
        assert missing.status_code >= 400 and "no variable 'f/cfg/none'" in missing.text
    # the admin may read it: the same job then runs
    ok = await client.post(
        "/api/w/main/jobs/run_wait_result/p/f/sec/echo", json={"pw": "$var:u/admin/private"}
    )
    assert ok.json() == SECRET


async def test_a_secret_in_an_error_message_is_masked(
    client: httpx.AsyncClient, worker: service.Worker
) -> None:
    await make_secrets(client)
    await save(client, "f/sec/fails", "def main(pw: str):\n    raise ValueError('bad ' + pw)\n")
    job_id = (
        await client.post("/api/w/main/jobs/run/p/f/sec/fails", json={"pw": "$var:f/cfg/pw"})
    ).text
    job = await wait_completed(client, job_id)
    assert job["success"] is False
    assert SECRET not in str(job["result"])
    assert "bad *****" in str(job["result"])


async def test_no_table_holds_a_secret_in_clear(
    client: httpx.AsyncClient, worker: service.Worker, pool: db.Pool
) -> None:
    """Read every text, json and bytea column of every table, as a dump would."""
    await make_secrets(client)
    await save(client, "f/sec/uses", USES_ARGS)
    args = {"pw": "$var:f/cfg/pw", "db": "$res:f/cfg/db"}
    job_id = (await client.post("/api/w/main/jobs/run/p/f/sec/uses", json=args)).text
    done = await wait_completed(client, job_id)
    assert done["success"] is True, done
    await client.post(
        "/api/w/main/resources/create",
        json={"path": "f/cfg/literal", "value": {"api_key": "RESOURCE-LITERAL-NEEDLE-91"}},
    )
    columns = await pool.fetch(
        """SELECT c.table_name, c.column_name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
             AND c.data_type IN ('text', 'json', 'jsonb', 'bytea', 'ARRAY', 'character varying')"""
    )
    assert len({row["table_name"] for row in columns}) >= 10
    seen: list[Any] = []
    for row in columns:
        table, column = row["table_name"], row["column_name"]
        values = await pool.fetch(f'SELECT "{column}"::text AS v FROM "{table}"')
        seen.extend(v["v"] for v in values if v["v"] is not None)
    dump = "\n".join(seen)
    assert "f/cfg/pw" in dump and "$var:f/cfg/pw" in dump  # the rows were read
    for needle in (SECRET, "RESOURCE-LITERAL-NEEDLE-91", "hunter2"):
        assert needle not in dump
        assert needle.encode().hex() not in dump  # bytea as text is hex


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["a SECRET-1 b"], "a ***** b"),
        (["a SEC", "RET-1 b"], "a ***** b"),  # split across two log chunks
        (["SECRET-", "1"], "*****"),
        (["SECRE", "T-2"], "SECRET-2"),  # a prefix alone is not a secret
        (["x", "y"], "xy"),
    ],
)
def test_masking_catches_a_secret_split_across_chunks(chunks: list[str], expected: str) -> None:
    masker = masking.Masker(["SECRET-1", "abc"])  # "abc" is too short to mask
    out = "".join(masker.feed(chunk) for chunk in chunks) + masker.feed("", final=True)
    assert out == expected


def test_masking_learns_secrets_while_running() -> None:
    masker = masking.Masker()
    assert masker.feed("before TOKEN-XYZ ") == "before TOKEN-XYZ "
    masker.add(["TOKEN-XYZ", "multi\nline-secret"])
    assert masker.feed("after TOKEN-XYZ and line-secret", final=True) == "after ***** and *****"


async def test_references_cannot_widen_a_scoped_token_or_a_public_route(
    client: httpx.AsyncClient,
) -> None:
    await make_secrets(client)
    await save(client, "f/sec/echo", "def main(pw: str):\n    return pw\n")
    scoped = (
        await client.post("/api/users/tokens/create", json={"scopes": ["run:f/sec/echo"]})
    ).text
    headers = {"Authorization": f"Bearer {scoped}"}
    plain = await client.post(
        "/api/w/main/jobs/run/p/f/sec/echo", json={"pw": "x"}, headers=headers
    )
    assert plain.status_code == 201
    widened = await client.post(
        "/api/w/main/jobs/run/p/f/sec/echo", json={"pw": "$var:f/cfg/pw"}, headers=headers
    )
    assert widened.status_code == 403
    assert "read:f/cfg/pw" in widened.text

    route = await client.post(
        "/api/w/main/http_triggers/create",
        json={
            "path": "f/sec/public_echo",
            "route_path": "sec/echo",
            "http_method": "post",
            "script_path": "f/sec/echo",
            "authentication": "none",
        },
    )
    assert route.status_code == 201, route.text
    public = await client.post("/api/r/sec/echo?async=true", json={"pw": "$var:f/cfg/pw"})
    assert public.status_code == 422
    assert SECRET not in public.text


def test_output_is_withheld_when_its_secrets_cannot_be_learned() -> None:
    masker = masking.Masker()
    assert masker.feed("early output ") == "early output "
    masker.withhold("no master key")
    note = masker.feed("the secret is TOKEN-XYZ")
    assert "withheld: no master key" in note and "TOKEN-XYZ" not in note
    assert masker.feed("more TOKEN-XYZ", final=True) == ""
