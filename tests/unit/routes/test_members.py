"""Members routes (services/gateway/routes/members.py) on a fake runtime."""

from __future__ import annotations

from picket.schemas import commands as c
from tests.support.gateway_world import World, detail


def member_url(member_id: object) -> str:
    return f"/api/0/organizations/acme/members/{member_id}/"


def test_get_member(world: World) -> None:
    response = world.get(member_url(world.owner_member.id))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["role"], body["name"]) == (
        str(world.owner_member.id), "owner@acme.test", "owner", "Olive Owner")


def test_me_is_the_callers_membership(world: World) -> None:
    response = world.get(member_url("me"))
    assert (response.status_code, response.json()["id"]) == (200, str(world.owner_member.id))


def test_an_invited_member_without_a_user_is_named_by_email(world: World) -> None:
    invited = world.rt.add_member(world.org, None, email="new@acme.test")
    response = world.get(member_url(invited.id))
    assert (response.status_code, response.json()["name"]) == (200, "new@acme.test")


def test_unknown_members_are_404(world: World) -> None:
    stranger_member = next(m for m in world.rt.records("member") if m.org_id == world.other.id)
    for raw in ("12345", "abc", "²", stranger_member.id):
        response = world.get(member_url(raw))
        assert (response.status_code, detail(response)) == (404, "The requested resource does not exist"), raw


def test_get_member_statuses(world: World) -> None:
    assert world.http.get(member_url("me")).status_code == 401
    assert world.get("/api/0/organizations/nope/members/me/").status_code == 404
    assert world.get(member_url("me"), token=world.stranger_token).status_code == 403
    assert world.get(member_url("me"), token=world.viewer_token).status_code == 403  # no member scope


def test_delete_member(world: World) -> None:
    target = world.rt.add_member(world.org, world.rt.add_user("leaving@acme.test"))
    response = world.delete(member_url(target.id))
    assert response.status_code == 204
    [command] = world.rt.bus.commands
    assert isinstance(command, c.RemoveMember)
    assert (command.org_id, command.member_id, command.meta.actor_user_id) == (world.org.id, target.id, world.owner.id)


def test_anyone_may_leave_without_a_member_scope(world: World) -> None:
    response = world.delete(member_url("me"), token=world.member_token)
    assert response.status_code == 204
    member = next(m for m in world.rt.records("member") if m.email == "member@acme.test")
    assert world.rt.bus.commands[0].member_id == member.id


def test_removing_someone_else_needs_member_admin(world: World) -> None:
    response = world.delete(member_url(world.owner_member.id), token=world.member_token)
    assert (response.status_code, detail(response)) == (403, "You do not have permission to perform this action.")
    assert world.rt.bus.sent == []


def test_only_an_owner_removes_an_owner(world: World) -> None:
    manager = world.rt.add_user("manager@acme.test")
    world.rt.add_member(world.org, manager, "manager")
    token = world.rt.add_token(manager, ["member:admin"])
    response = world.delete(member_url(world.owner_member.id), token=token)
    assert (response.status_code, detail(response)) == (403, "Only an owner can remove an owner.")
    assert world.rt.bus.sent == []


def test_the_last_owner_cannot_leave_when_the_agent_says_so(world: World) -> None:
    world.rt.bus.reject_next("invalid", "An organization needs an owner.")
    response = world.delete(member_url("me"))
    assert (response.status_code, detail(response)) == (400, "An organization needs an owner.")


def test_list_users_of_the_organization(world: World) -> None:
    world.rt.add_member(world.org, None, email="invited@acme.test")  # no user yet: not listed
    response = world.get("/api/0/organizations/acme/users/")
    assert response.status_code == 200
    assert [u["email"] for u in response.json()] == ["member@acme.test", "owner@acme.test", "viewer@acme.test"]


def test_list_users_of_a_project_are_its_teams_members(world: World) -> None:
    response = world.get("/api/0/organizations/acme/users/", params={"project": str(world.project.id)})
    assert [u["email"] for u in response.json()] == ["member@acme.test", "owner@acme.test"]
    everyone = world.get("/api/0/organizations/acme/users/", params=[("project", "-1"), ("project", "1")])
    assert len(everyone.json()) == 3


def test_list_users_statuses(world: World) -> None:
    assert world.http.get("/api/0/organizations/acme/users/").status_code == 401
    assert world.get("/api/0/organizations/nope/users/").status_code == 404
    assert world.get("/api/0/organizations/acme/users/", token=world.stranger_token).status_code == 403
