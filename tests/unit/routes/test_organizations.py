"""Organizations routes (services/gateway/routes/organizations.py) on a fake runtime."""

from __future__ import annotations

from typing import Any

import pytest

from picket.schemas import commands as c
from picket.schemas.entities import Member, Organization
from picket.store import project_activity
from picket.tenancy.slugs import INVALID_SLUG
from tests.support.fake_runtime import NOW, replaced
from tests.support.gateway_world import World, detail

ORGS = "/api/0/organizations/"
ORG = "/api/0/organizations/acme/"


def apply_org_commands(world: World) -> None:
    def apply(command: Any) -> None:
        if isinstance(command, c.CreateOrganization):
            world.rt.put(Organization(id=command.org_id, slug=command.slug, name=command.name, date_created=NOW))
            world.rt.put(Member(id=command.owner_member_id, org_id=command.org_id, email=command.owner_email,
                                role="owner", date_created=NOW, user_id=command.owner_user_id))
        elif isinstance(command, c.UpdateOrganization):
            org = next(o for o in world.rt.records("organization") if o.id == command.org_id)
            world.rt.put(replaced(org, **command.changes))

    world.rt.bus.on_accepted = apply


def test_list_organizations_of_the_tokens_user(world: World) -> None:
    world.rt.add_member(world.other, world.owner, "member")
    world.rt.add_org("initech")  # not a member
    response = world.get(ORGS)
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()] == ["acme", "globex"]


def test_list_organizations_filters_by_query(world: World) -> None:
    world.rt.add_member(world.other, world.owner, "member")
    assert [o["slug"] for o in world.get(ORGS, params={"query": "GLOB"}).json()] == ["globex"]


def test_list_organizations_with_an_org_bound_token(world: World) -> None:
    world.rt.add_member(world.other, world.owner, "member")
    token = world.rt.add_token(world.owner, ["org:read"], org=world.other)
    assert [o["slug"] for o in world.get(ORGS, token=token).json()] == ["globex"]


def test_list_organizations_needs_a_token(world: World) -> None:
    response = world.http.get(ORGS, headers={"Authorization": "Bearer "})
    assert (response.status_code, detail(response)) == (401, "Invalid token header. No credentials provided.")


def test_get_organization(world: World) -> None:
    response = world.get(ORG)
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["slug"], body["name"]) == (str(world.org.id), "acme", "Acme")
    assert [t["slug"] for t in body["teams"]] == ["backend"]
    assert [p["slug"] for p in body["projects"]] == ["api"]


def test_get_organization_lists_what_its_projects_received(world: World) -> None:
    world.rt.answer(project_activity.activity, {world.project.id: project_activity.Activity(
        first_event=NOW, platforms=("javascript", "python"))})
    [listed] = world.get("/api/0/organizations/acme/").json()["projects"]
    assert listed["firstEvent"] == "2026-03-04T05:06:07.000Z"
    assert listed["platforms"] == ["javascript", "python"]


def test_get_organization_statuses(world: World) -> None:
    assert world.http.get(ORG).status_code == 401
    assert world.get("/api/0/organizations/nope/").status_code == 404
    assert world.get(ORG, token=world.stranger_token).status_code == 403
    bound_elsewhere = world.rt.add_token(world.owner, ["org:read"], org=world.other)
    assert world.get(ORG, token=bound_elsewhere).status_code == 403


def test_update_organization_sends_the_given_fields(world: World) -> None:
    apply_org_commands(world)
    response = world.put(ORG, {"name": " Acme Inc ", "require2FA": True, "defaultRole": "admin",
                               "slug": "acme", "unknownField": 1})
    assert response.status_code == 200
    [command] = world.rt.bus.commands
    assert isinstance(command, c.UpdateOrganization)
    # The unchanged slug is no change; unknown fields are ignored as in Sentry.
    assert command.changes == {"name": "Acme Inc", "require_2fa": True, "default_role": "admin"}
    assert (response.json()["name"], response.json()["require2FA"]) == ("Acme Inc", True)


def test_a_new_slug_is_claimed_then_changed_then_the_old_one_released(world: World) -> None:
    apply_org_commands(world)
    response = world.put(ORG, {"name": "Acme", "slug": "acme-corp"})
    assert response.status_code == 200
    claim, update, release = world.rt.bus.sent
    assert isinstance(claim.command, c.ClaimOrganizationSlug)
    assert (claim.command.slug, claim.command.org_id, claim.statuses) == ("acme-corp", world.org.id, {"conflict": 409})
    assert isinstance(update.command, c.UpdateOrganization)
    assert update.command.changes == {"name": "Acme", "slug": "acme-corp"}
    assert isinstance(release.command, c.ReleaseOrganizationSlug)
    assert (release.command.slug, release.command.org_id) == ("acme", world.org.id)
    assert response.json()["slug"] == "acme-corp"


def test_a_taken_slug_changes_nothing(world: World) -> None:
    world.rt.bus.reject_next("conflict", "This slug is taken.")
    response = world.put(ORG, {"name": "Acme", "slug": "globex"})
    assert (response.status_code, detail(response)) == (409, "This slug is taken.")
    assert [type(x) for x in world.rt.bus.commands] == [c.ClaimOrganizationSlug]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "Invalid request body: Object missing required field `name`"),
        ({"name": " "}, "Invalid name: it must be 1 to 64 characters."),
        ({"name": "x" * 65}, "Invalid name: it must be 1 to 64 characters."),
        ({"name": "Acme", "defaultRole": "king"}, "Invalid defaultRole: 'king'"),
        ({"name": "Acme", "slug": "Bad Slug"}, INVALID_SLUG),
    ],
)
def test_update_organization_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.put(ORG, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_update_organization_needs_org_write(world: World) -> None:
    response = world.put(ORG, {"name": "x"}, token=world.member_token)
    assert response.status_code == 403
    assert world.rt.bus.sent == []


def test_create_organization_claims_its_slug_and_makes_the_user_owner(world: World) -> None:
    apply_org_commands(world)
    response = world.post(ORGS, {"name": "New Co"})
    assert response.status_code == 201
    claim, create = world.rt.bus.commands
    assert isinstance(claim, c.ClaimOrganizationSlug) and isinstance(create, c.CreateOrganization)
    assert claim.slug == create.slug == "new-co"
    assert claim.org_id == create.org_id
    assert (create.name, create.owner_user_id, create.owner_email) == ("New Co", world.owner.id, world.owner.email)
    assert world.rt.bus.sent[0].statuses is None  # a taken slug is the default 409
    assert (response.json()["slug"], response.json()["name"]) == ("new-co", "New Co")


def test_a_taken_slug_on_create_is_a_409_and_nothing_is_created(world: World) -> None:
    world.rt.bus.reject_next("conflict", "This slug is taken.")
    response = world.post(ORGS, {"name": "Acme"})
    assert (response.status_code, detail(response)) == (409, "This slug is taken.")
    assert len(world.rt.bus.sent) == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": ""}, "Invalid name: it must be 1 to 64 characters."),
        ({"name": "!!!"}, INVALID_SLUG),
        ({"name": "ok", "slug": "Bad"}, INVALID_SLUG),
        ({"slug": "ok"}, "Invalid request body: Object missing required field `name`"),
    ],
)
def test_create_organization_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.post(ORGS, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_create_organization_needs_an_unbound_token_with_org_write(world: World) -> None:
    read_only = world.rt.add_token(world.owner, ["org:read"])
    bound = world.rt.add_token(world.owner, ["org:write"], org=world.org)
    for token in (read_only, bound):
        response = world.post(ORGS, {"name": "x"}, token=token)
        assert (response.status_code, detail(response)) == (403, "You do not have permission to perform this action.")
    assert world.http.post(ORGS, json={"name": "x"}).status_code == 401
    assert world.rt.bus.sent == []
