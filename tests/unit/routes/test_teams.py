"""Teams routes (services/gateway/routes/teams.py) on a fake runtime."""

from __future__ import annotations

from typing import Any

import pytest

from picket.schemas import commands as c
from picket.schemas.entities import Project, Team
from picket.tenancy.slugs import INVALID_SLUG
from tests.support.fake_runtime import NOW, replaced
from tests.support.gateway_world import World, detail

TEAMS = "/api/0/organizations/acme/teams/"
TEAM = "/api/0/teams/acme/backend/"


def project_accepted(world: World) -> None:
    """Accepted team and project commands reach the records, as the projection has them before
    the real verdict comes."""

    def apply(command: Any) -> None:
        if isinstance(command, c.CreateTeam):
            world.rt.put(Team(id=command.team_id, org_id=command.org_id, slug=command.slug, name=command.name,
                              date_created=NOW))
        elif isinstance(command, c.UpdateTeam):
            team = next(t for t in world.rt.records("team") if t.id == command.team_id)
            changes = {"name": command.name, "slug": command.slug}
            world.rt.put(replaced(team, **{k: v for k, v in changes.items() if isinstance(v, str)}))
        elif isinstance(command, c.CreateProject):
            world.rt.put(Project(id=command.project_id, org_id=command.org_id, slug=command.slug, name=command.name,
                                 date_created=NOW, team_ids=[command.team_id], platform=command.platform))

    world.rt.bus.on_accepted = apply


def test_list_teams_gives_each_team_with_its_projects(world: World) -> None:
    world.rt.add_team(world.org, "alpha")
    response = world.get(TEAMS)
    assert response.status_code == 200
    body = response.json()
    assert [t["slug"] for t in body] == ["alpha", "backend"]
    assert body[0]["projects"] == []
    assert [p["slug"] for p in body[1]["projects"]] == ["api"]
    assert 'rel="next"; results="false"' in response.headers["Link"]


def test_list_teams_without_details_leaves_projects_out(world: World) -> None:
    response = world.get(TEAMS, params={"detailed": "0"})
    assert response.status_code == 200
    assert "projects" not in response.json()[0]


def test_list_teams_pages(world: World) -> None:
    for n in range(3):
        world.rt.add_team(world.org, f"team-{n}")
    response = world.get(TEAMS, params={"per_page": "2"})
    assert [t["slug"] for t in response.json()] == ["backend", "team-0"]
    assert 'rel="next"; results="true"; cursor="2:1:0"' in response.headers["Link"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"Authorization": "Basic abc"}, 401)],
)
def test_list_teams_needs_a_valid_token(world: World, headers: dict[str, str], status: int) -> None:
    response = world.http.get(TEAMS, headers=headers)
    assert response.status_code == status
    assert detail(response)


def test_teams_of_an_unknown_organization_are_404(world: World) -> None:
    response = world.get("/api/0/organizations/nope/teams/")
    assert response.status_code == 404
    assert detail(response) == "The requested resource does not exist"


def test_teams_of_an_organization_one_is_not_member_of_are_403(world: World) -> None:
    response = world.get(TEAMS, token=world.stranger_token)
    assert response.status_code == 403
    assert detail(response) == "You do not have permission to perform this action."


def test_create_team_sends_the_command_and_answers_the_new_team(world: World) -> None:
    project_accepted(world)
    response = world.post(TEAMS, {"name": "Platform Ops"})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert isinstance(command, c.CreateTeam)
    assert (command.org_id, command.slug, command.name) == (world.org.id, "platform-ops", "Platform Ops")
    assert command.creator_member_id == world.owner_member.id
    assert command.meta.actor_user_id == world.owner.id
    body = response.json()
    assert (body["id"], body["slug"], body["name"]) == (str(command.team_id), "platform-ops", "Platform Ops")
    assert body["organization"]["slug"] == "acme"
    assert body["projects"] == []


def test_create_team_with_a_slug_only_names_it_by_its_slug(world: World) -> None:
    project_accepted(world)
    response = world.post(TEAMS, {"slug": "ops"})
    assert response.status_code == 201
    assert (world.rt.bus.commands[0].slug, world.rt.bus.commands[0].name) == ("ops", "ops")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "Team name or slug is required."),
        ({"name": "   "}, "Team name or slug is required."),
        ({"name": "!!!"}, "Cannot derive a valid slug from this name; give a slug."),
        ({"name": "123"}, "Cannot derive a valid slug from this name; give a slug."),
        ({"slug": "Not A Slug"}, INVALID_SLUG),
        ({"name": "x" * 65, "slug": "x"}, "Invalid team name: it must be 1 to 64 characters."),
        ({"name": 5}, "Invalid request body: Expected `str | null`, got `int` - at `$.name`"),
    ],
)
def test_create_team_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.post(TEAMS, payload)
    assert response.status_code == 400
    assert detail(response) == message
    assert world.rt.bus.sent == []


def test_create_team_needs_a_write_scope(world: World) -> None:
    response = world.post(TEAMS, {"name": "x"}, token=world.viewer_token)
    assert response.status_code == 403
    assert world.rt.bus.sent == []


def test_a_taken_team_slug_is_a_409_with_the_agents_detail(world: World) -> None:
    world.rt.bus.reject_next("conflict", "A team with this slug already exists.")
    response = world.post(TEAMS, {"slug": "backend"})
    assert response.status_code == 409
    assert detail(response) == "A team with this slug already exists."


def test_get_team(world: World) -> None:
    response = world.get(TEAM)
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["slug"], body["organization"]["slug"]) == (str(world.team.id), "backend", "acme")


def test_an_unknown_team_is_404(world: World) -> None:
    for method in ("get", "put", "delete"):
        response = getattr(world, method)("/api/0/teams/acme/nope/")
        assert response.status_code == 404, method
        assert detail(response) == "The requested resource does not exist"
    assert world.rt.bus.sent == []


def test_get_team_needs_a_team_scope(world: World) -> None:
    assert world.get(TEAM, token=world.viewer_token).status_code == 403


def test_update_team_sends_name_and_slug_and_answers_the_team(world: World) -> None:
    project_accepted(world)
    response = world.put(TEAM, {"name": " Back End ", "slug": "back-end"})
    assert response.status_code == 200
    [sent] = world.rt.bus.sent
    assert isinstance(sent.command, c.UpdateTeam)
    assert (sent.command.team_id, sent.command.name, sent.command.slug) == (world.team.id, "Back End", "back-end")
    assert sent.statuses == {"conflict": 400}
    assert (response.json()["name"], response.json()["slug"]) == ("Back End", "back-end")


def test_update_team_without_a_slug_leaves_it_unset(world: World) -> None:
    response = world.put(TEAM, {"name": "Backend"})
    assert response.status_code == 200
    assert world.rt.bus.commands[0].slug is c.UNSET


def test_a_slug_conflict_on_update_is_a_400_as_in_sentry(world: World) -> None:
    world.rt.bus.reject_next("conflict", "Slug taken.")
    response = world.put(TEAM, {"name": "Backend", "slug": "alpha"})
    assert (response.status_code, detail(response)) == (400, "Slug taken.")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "Invalid request body: Object missing required field `name`"),
        ({"name": ""}, "Invalid team name: it must be 1 to 64 characters."),
        ({"name": "ok", "slug": "Bad Slug"}, INVALID_SLUG),
    ],
)
def test_update_team_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.put(TEAM, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_update_team_needs_team_write(world: World) -> None:
    assert world.put(TEAM, {"name": "x"}, token=world.member_token).status_code == 403


def test_delete_team(world: World) -> None:
    response = world.delete(TEAM)
    assert response.status_code == 204
    [command] = world.rt.bus.commands
    assert isinstance(command, c.DeleteTeam)
    assert (command.org_id, command.team_id) == (world.org.id, world.team.id)


def test_delete_team_needs_team_admin(world: World) -> None:
    response = world.delete(TEAM, token=world.member_token)
    assert response.status_code == 403
    assert world.rt.bus.sent == []


def test_list_team_projects(world: World) -> None:
    world.rt.add_project(world.org, "elsewhere")  # of no team
    world.rt.add_project(world.org, "aaa", [world.team])
    response = world.get(TEAM + "projects/")
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()] == ["aaa", "api"]


def test_create_team_project_sends_the_project_and_its_first_key(world: World) -> None:
    project_accepted(world)
    response = world.post(TEAM + "projects/", {"name": "Web App", "platform": "javascript"})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert isinstance(command, c.CreateProject)
    assert (command.team_id, command.slug, command.name, command.platform) == (
        world.team.id, "web-app", "Web App", "javascript")
    assert len(command.key_public) == 32 and command.key_secret and command.key_id
    body = response.json()
    assert (body["id"], body["slug"], body["platform"]) == (str(command.project_id), "web-app", "javascript")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": " "}, "Invalid project name: it must be 1 to 64 characters."),
        ({"name": "ok", "slug": "Bad Slug"}, INVALID_SLUG),
        ({"name": "ok", "platform": "p" * 65}, "Invalid platform."),
        ({"slug": "ok"}, "Invalid request body: Object missing required field `name`"),
    ],
)
def test_create_team_project_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.post(TEAM + "projects/", payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_create_team_project_needs_project_write(world: World) -> None:
    assert world.post(TEAM + "projects/", {"name": "x"}, token=world.member_token).status_code == 403
