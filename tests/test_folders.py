"""Folders and groups: `f/<folder>/...` shared with whom the folder grants, as in Windmill."""

from __future__ import annotations

import httpx

from tests.test_api_scripts import save
from tests.test_variables import create_user

HELLO = "def main():\n    return 'hi'\n"


async def test_a_folder_nobody_created_stays_shared(client: httpx.AsyncClient) -> None:
    alice = await create_user(client, "alice", "developer")
    bob = await create_user(client, "bob", "developer")
    async with alice, bob:
        created = await alice.post(
            "/api/w/main/variables/create", json={"path": "f/open/v", "value": "x"}
        )
        assert created.status_code == 201
        assert (await bob.get("/api/w/main/variables/get_value/f/open/v")).json() == "x"
        updated = await bob.post("/api/w/main/variables/update/f/open/v", json={"value": "y"})
        assert updated.status_code == 200
        assert (await client.get("/api/w/main/folders/list")).json() == []


async def test_a_created_folder_is_restricted_to_its_grantees(client: httpx.AsyncClient) -> None:
    alice = await create_user(client, "alice", "developer")
    bob = await create_user(client, "bob", "developer")
    carol = await create_user(client, "carol", "developer")
    olga = await create_user(client, "olga", "operator")
    async with alice, bob, carol, olga:
        created = await alice.post("/api/w/main/folders/create", json={"name": "team"})
        assert created.status_code == 200, created.text
        folder = (await client.get("/api/w/main/folders/get/team")).json()
        assert folder["owners"] == ["u/alice"] and folder["extra_perms"] == {"u/alice": True}
        assert (
            await alice.post("/api/w/main/folders/create", json={"name": "team"})
        ).status_code == 409
        assert (
            await olga.post("/api/w/main/folders/create", json={"name": "x"})
        ).status_code == 403

        for body in ({"path": "f/team/key", "value": "TEAM-SECRET", "is_secret": True},):
            assert (await alice.post("/api/w/main/variables/create", json=body)).status_code == 201
        await save(alice, "f/team/job", HELLO)

        # not granted: bob sees nothing, writes nothing, runs nothing
        assert (await bob.get("/api/w/main/variables/get_value/f/team/key")).status_code == 403
        assert (await bob.get("/api/w/main/variables/list")).json() == []
        assert (await bob.get("/api/w/main/scripts/get/p/f/team/job")).status_code == 403
        assert (await bob.post("/api/w/main/jobs/run/p/f/team/job", json={})).status_code == 403
        team_run = (await alice.post("/api/w/main/jobs/run/p/f/team/job", json={})).text
        assert (await bob.get(f"/api/w/main/jobs_u/get/{team_run}")).status_code == 403
        assert (await bob.get(f"/api/w/main/jobs_u/get_logs/{team_run}")).status_code == 403
        assert (await bob.get("/api/w/main/jobs/list")).json() == []
        assert len((await alice.get("/api/w/main/jobs/list")).json()) == 1
        denied = await bob.post(
            "/api/w/main/variables/create", json={"path": "f/team/x", "value": "1"}
        )
        assert denied.status_code == 403

        # nor schedule it, nor see or change the team's schedules
        schedule = {"schedule": "0 0 * * *", "script_path": "f/team/job"}
        assert (
            await bob.post(
                "/api/w/main/schedules/create", json={"path": "f/open/nightly", **schedule}
            )
        ).status_code == 403
        assert (
            await alice.post(
                "/api/w/main/schedules/create", json={"path": "f/team/nightly", **schedule}
            )
        ).status_code == 201
        assert (await bob.get("/api/w/main/schedules/get/f/team/nightly")).status_code == 403
        assert (await bob.get("/api/w/main/schedules/list")).json() == []
        assert (
            await bob.post(
                "/api/w/main/schedules/setenabled/f/team/nightly", json={"enabled": False}
            )
        ).status_code == 403
        assert (await bob.delete("/api/w/main/schedules/delete/f/team/nightly")).status_code == 403

        openapi = (await bob.get("/api/w/main/openapi.json")).json()
        assert not any("f/team/job" in path for path in openapi["paths"])
        mine = (await alice.get("/api/w/main/openapi.json")).json()
        assert any("f/team/job" in path for path in mine["paths"])
        # nor publish it on a custom route
        published = await bob.post(
            "/api/w/main/http_triggers/create",
            json={
                "path": "f/open/leak",
                "route_path": "leak",
                "http_method": "get",
                "script_path": "f/team/job",
                "authentication": "none",
            },
        )
        assert published.status_code == 403

        # a group granted read, a user granted write
        assert (
            await alice.post("/api/w/main/groups/create", json={"name": "readers"})
        ).status_code == 200
        added = await alice.post("/api/w/main/groups/adduser/readers", json={"username": "bob"})
        assert added.status_code == 200, added.text
        # only the group's owners (and admins) change its members
        assert (
            await bob.post("/api/w/main/groups/adduser/readers", json={"username": "carol"})
        ).status_code == 403
        group = (await client.get("/api/w/main/groups/get/readers")).json()
        assert group["members"] == ["alice", "bob"]
        assert [g["name"] for g in (await bob.get("/api/w/main/groups/list")).json()] == ["readers"]

        # only the folder's owners (and admins) change its grants
        grants = {"u/alice": True, "g/readers": False, "u/carol": True}
        assert (
            await bob.post("/api/w/main/folders/update/team", json={"extra_perms": grants})
        ).status_code == 403
        assert (
            await alice.post("/api/w/main/folders/update/team", json={"extra_perms": grants})
        ).status_code == 200
        # an owner must keep write
        assert (
            await alice.post(
                "/api/w/main/folders/update/team", json={"extra_perms": {"u/alice": False}}
            )
        ).status_code == 422

        # bob (through the group) reads and runs, but does not write
        assert (await bob.get("/api/w/main/variables/get_value/f/team/key")).json() == "TEAM-SECRET"
        assert [v["path"] for v in (await bob.get("/api/w/main/variables/list")).json()] == [
            "f/team/key"
        ]
        run = await bob.post("/api/w/main/jobs/run/p/f/team/job", json={})
        assert run.status_code == 201, run.text
        write = await bob.post("/api/w/main/variables/update/f/team/key", json={"value": "mine"})
        assert write.status_code == 403
        assert "may read but not write" in write.text
        # carol writes; the operator, even granted, never writes
        assert (
            await carol.post(
                "/api/w/main/variables/create", json={"path": "f/team/c", "value": "1"}
            )
        ).status_code == 201
        assert (await olga.get("/api/w/main/variables/get_value/f/team/key")).status_code == 403

        # the admin reaches every folder
        assert (
            await client.get("/api/w/main/variables/get_value/f/team/key")
        ).json() == "TEAM-SECRET"

        # removing bob from the group takes his access away at once
        assert (
            await alice.post("/api/w/main/groups/removeuser/readers", json={"username": "bob"})
        ).status_code == 200
        assert (await bob.get("/api/w/main/variables/get_value/f/team/key")).status_code == 403

        # deleting the folder shares it with the workspace again
        assert (await alice.delete("/api/w/main/folders/delete/team")).status_code == 200
        assert (await bob.get("/api/w/main/variables/get_value/f/team/key")).json() == "TEAM-SECRET"


async def test_grants_are_per_workspace_and_audited(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/w/main/folders/create",
        json={
            "name": "ops",
            "extra_perms": {"u/admin": True, "u/nobody": False},
            "owners": ["u/admin"],
        },
    )
    assert response.status_code == 200, response.text
    bad = await client.post("/api/w/main/folders/create", json={"name": "bad name"})
    assert bad.status_code == 422
    wrong = await client.post(
        "/api/w/main/folders/create", json={"name": "x", "extra_perms": {"alice": True}}
    )
    assert wrong.status_code == 422
    actions = [e["action"] for e in (await client.get("/api/w/main/audit/list")).json()]
    assert "folders.create" in actions
