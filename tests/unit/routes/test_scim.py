"""SCIM routes on a fake runtime: who may call them, and every refusal in SCIM's error shape."""

from __future__ import annotations

from tests.support.gateway_world import World

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _users(world: World) -> str:
    return f"/api/0/organizations/{world.org.slug}/scim/v2/Users"


def test_scim_needs_the_admin_scopes_of_the_same_organization(world: World) -> None:
    for token, status in ((world.stranger_token, 403), (world.viewer_token, 403)):
        answer = world.get(_users(world), token=token)
        assert answer.status_code == status
        assert answer.json()["schemas"] == [ERROR] and answer.json()["status"] == str(status)
    assert world.http.get(_users(world)).status_code == 401
    groups = f"/api/0/organizations/{world.org.slug}/scim/v2/Groups"
    assert world.get(groups, token=world.member_token).status_code == 403  # a member has no team:admin
    assert world.rt.bus.commands == []


def test_the_organizations_members_are_its_users(world: World) -> None:
    listed = world.get(_users(world))
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/scim+json")
    body = listed.json()
    assert body["totalResults"] == 3 and body["startIndex"] == 1
    assert {u["userName"] for u in body["Resources"]} == {"owner@acme.test", "member@acme.test", "viewer@acme.test"}
    page = world.get(_users(world), params={"startIndex": "2", "count": "1"}).json()
    assert (page["startIndex"], page["itemsPerPage"], len(page["Resources"])) == (2, 1, 1)
    assert world.get(f"{_users(world)}/999").status_code == 404
    assert world.get(f"/api/0/organizations/{world.org.slug}/scim/v2/Nope").json()["schemas"] == [ERROR]
