"""Variables and resources: encrypted at rest, secrets never listed, paths private per user."""

from __future__ import annotations

import os
import stat
import subprocess

import httpx
import pytest

from server import db, embedded, resources, rotation, secrets, settings, variables


async def create_user(client: httpx.AsyncClient, name: str, role: str) -> httpx.AsyncClient:
    response = await client.post(
        "/api/users/create", json={"username": name, "password": f"{name}-pw", "role": role}
    )
    assert response.status_code == 201, response.text
    token = (
        await client.post("/api/auth/login", json={"username": name, "password": f"{name}-pw"})
    ).text
    return httpx.AsyncClient(
        transport=client._transport,
        base_url=client.base_url,
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_variable_lifecycle_and_secrecy(client: httpx.AsyncClient) -> None:
    assert (
        await client.post(
            "/api/w/main/variables/create",
            json={"path": "f/cfg/region", "value": "eu-west", "description": "where"},
        )
    ).status_code == 201
    assert (
        await client.post(
            "/api/w/main/variables/create",
            json={"path": "f/cfg/api_key", "value": "s3cr3t-value", "is_secret": True},
        )
    ).status_code == 201
    listed = (await client.get("/api/w/main/variables/list")).json()
    assert [(v["path"], v["value"]) for v in listed] == [
        ("f/cfg/api_key", None),
        ("f/cfg/region", "eu-west"),
    ]
    secret = (await client.get("/api/w/main/variables/get/f/cfg/api_key")).json()
    assert secret["value"] is None and secret["is_secret"] is True
    assert "s3cr3t" not in (await client.get("/api/w/main/variables/list")).text
    value = await client.get("/api/w/main/variables/get_value/f/cfg/api_key")
    assert value.json() == "s3cr3t-value"
    again = await client.post(
        "/api/w/main/variables/create", json={"path": "f/cfg/region", "value": "x"}
    )
    assert again.status_code == 409
    await client.post("/api/w/main/variables/update/f/cfg/region", json={"value": "us-east"})
    assert (await client.get("/api/w/main/variables/get_value/f/cfg/region")).json() == "us-east"
    assert (await client.delete("/api/w/main/variables/delete/f/cfg/region")).status_code == 200
    assert (await client.get("/api/w/main/variables/get/f/cfg/region")).status_code == 404


async def test_resources_interpolate_variables(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/db/password", "value": "pg-pass", "is_secret": True},
    )
    response = await client.post(
        "/api/w/main/resources/create",
        json={
            "path": "f/db/main",
            "resource_type": "postgresql",
            "value": {"host": "db", "port": 5432, "password": "$var:f/db/password"},
        },
    )
    assert response.status_code == 201
    await client.post(
        "/api/w/main/resources/create",
        json={
            "path": "f/db/wrapper",
            "value": {"inner": "$res:f/db/main", "tags": ["$var:f/db/password"]},
        },
    )
    raw = (await client.get("/api/w/main/resources/get_value/f/db/main")).json()
    assert raw["password"] == "$var:f/db/password"
    value = (await client.get("/api/w/main/resources/get_value_interpolated/f/db/wrapper")).json()
    assert value == {
        "inner": {"host": "db", "port": 5432, "password": "pg-pass"},
        "tags": ["pg-pass"],
    }
    listed = (await client.get("/api/w/main/resources/list")).json()
    assert [r["path"] for r in listed] == ["f/db/main", "f/db/wrapper"]
    assert "value" not in listed[0]
    await client.post("/api/w/main/resources/update_value/f/db/main", json={"value": {"host": "x"}})
    assert (await client.get("/api/w/main/resources/get_value/f/db/main")).json() == {"host": "x"}
    assert (await client.get("/api/w/main/resources/get/f/db/main")).json()[
        "resource_type"
    ] == "postgresql"


async def test_database_holds_no_plaintext(
    client: httpx.AsyncClient, dsn: str, tmp_path: object
) -> None:
    await client.post(
        "/api/w/main/variables/create",
        json={"path": "f/cfg/token", "value": "PLAINTEXT-NEEDLE-42", "is_secret": True},
    )
    await client.post(
        "/api/w/main/resources/create",
        json={"path": "f/cfg/res", "value": {"key": "RESOURCE-NEEDLE-43"}},
    )
    dump = subprocess.run(
        [str(embedded.binaries() / "pg_dump"), "--data-only", dsn],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "f/cfg/token" in dump
    assert "PLAINTEXT-NEEDLE-42" not in dump and "RESOURCE-NEEDLE-43" not in dump


async def test_user_paths_are_private_and_roles_apply(client: httpx.AsyncClient) -> None:
    alice = await create_user(client, "alice", "developer")
    bob = await create_user(client, "bob", "developer")
    olga = await create_user(client, "olga", "operator")
    async with alice, bob, olga:
        assert (
            await alice.post(
                "/api/w/main/variables/create", json={"path": "u/alice/note", "value": "mine"}
            )
        ).status_code == 201
        assert (await bob.get("/api/w/main/variables/get_value/u/alice/note")).status_code == 403
        assert (
            await bob.post("/api/w/main/variables/create", json={"path": "u/alice/x", "value": "v"})
        ).status_code == 403
        assert [v["path"] for v in (await bob.get("/api/w/main/variables/list")).json()] == []
        assert (await client.get("/api/w/main/variables/get_value/u/alice/note")).json() == "mine"
        assert (
            await olga.post("/api/w/main/variables/create", json={"path": "f/x/y", "value": "v"})
        ).status_code == 403
        assert (
            await olga.post(
                "/api/w/main/scripts/create",
                json={"path": "f/x/y", "content": "def main():\n    pass\n", "language": "python3"},
            )
        ).status_code == 403


def test_key_file_is_private_and_wrong_keys_fail(tmp_path: object) -> None:
    from pathlib import Path

    home = Path(str(tmp_path)) / "home"
    config = settings.from_env({}, home=home)
    key = secrets.master_key(config)
    assert len(key) == 32
    mode = stat.S_IMODE(os.stat(home / secrets.KEY_FILE).st_mode)
    assert mode == 0o600
    assert secrets.master_key(config) == key  # reused, not regenerated
    vault = secrets.Vault(key)
    blob = vault.encrypt(b"hello", context="variables/main/f/a/b")
    assert vault.decrypt(blob, context="variables/main/f/a/b") == b"hello"
    with pytest.raises(Exception, match="cannot decrypt"):
        vault.decrypt(blob, context="variables/main/f/a/other")  # moved to another row
    with pytest.raises(Exception, match="cannot decrypt"):
        secrets.Vault(secrets.key_from_text("another key")).decrypt(
            blob, context="variables/main/f/a/b"
        )


async def test_rotation_reencrypts_everything(pool: db.Pool) -> None:
    old = secrets.Vault(secrets.key_from_text("old"))
    new = secrets.Vault(secrets.key_from_text("new"))
    await variables.save(
        pool,
        old,
        workspace="main",
        path="f/k/v",
        value="val",
        is_secret=True,
        description="",
        created_by="admin",
    )
    await resources.save(
        pool,
        old,
        workspace="main",
        path="f/k/r",
        resource_type="x",
        value={"a": 1},
        description="",
        created_by="admin",
    )
    assert await rotation.reencrypt_all(pool, old, new) == 2
    assert await variables.get_value(pool, new, workspace="main", path="f/k/v") == "val"
    assert await resources.get_value(pool, new, workspace="main", path="f/k/r") == {"a": 1}
