"""Projects routes (services/gateway/routes/projects.py) on a fake runtime."""

from __future__ import annotations

from typing import Any

import pytest

from picket.schemas import commands as c
from picket.tenancy.slugs import INVALID_SLUG
from tests.support.fake_runtime import replaced
from tests.support.gateway_world import World, detail

PROJECTS = "/api/0/organizations/acme/projects/"
PROJECT = "/api/0/projects/acme/api/"


def apply_updates(world: World) -> None:
    def apply(command: Any) -> None:
        if isinstance(command, c.UpdateProject):
            project = next(p for p in world.rt.records("project") if p.id == command.project_id)
            world.rt.put(replaced(project, **command.changes))

    world.rt.bus.on_accepted = apply


def test_list_org_projects_sorted_by_slug(world: World) -> None:
    world.rt.add_project(world.org, "zeta", name="Zeta Service")
    world.rt.add_project(world.org, "alpha")
    world.rt.add_project(world.other, "not-mine")
    response = world.get(PROJECTS)
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()] == ["alpha", "api", "zeta"]
    assert response.json()[1]["teams"][0]["slug"] == "backend"


@pytest.mark.parametrize(
    ("query", "slugs"),
    [("slug:zeta", ["zeta"]), ("service", ["zeta"]), ("ALP", ["alpha"]), ("slug:nope", [])],
)
def test_list_org_projects_filters_by_query(world: World, query: str, slugs: list[str]) -> None:
    world.rt.add_project(world.org, "zeta", name="Zeta Service")
    world.rt.add_project(world.org, "alpha")
    response = world.get(PROJECTS, params={"query": query})
    assert [p["slug"] for p in response.json()] == slugs


def test_list_org_projects_by_id(world: World) -> None:
    response = world.get(PROJECTS, params={"query": f"id:{world.project.id}"})
    assert [p["id"] for p in response.json()] == [str(world.project.id)]


def test_list_org_projects_statuses(world: World) -> None:
    assert world.http.get(PROJECTS).status_code == 401
    assert world.get("/api/0/organizations/nope/projects/").status_code == 404
    assert world.get(PROJECTS, token=world.stranger_token).status_code == 403


def test_list_org_projects_refuses_a_bad_cursor(world: World) -> None:
    response = world.get(PROJECTS, params={"cursor": "oops"})
    assert (response.status_code, detail(response)) == (400, "Invalid cursor parameter.")


def test_list_all_projects_spans_the_users_organizations(world: World) -> None:
    world.rt.add_member(world.other, world.owner, "member")
    world.rt.add_project(world.other, "site")
    response = world.get("/api/0/projects/")
    assert response.status_code == 200
    assert [(p["organization"]["slug"], p["slug"]) for p in response.json()] == [("acme", "api"), ("globex", "site")]


def test_list_all_projects_with_an_org_bound_token_stays_in_that_org(world: World) -> None:
    world.rt.add_member(world.other, world.owner, "member")
    world.rt.add_project(world.other, "site")
    token = world.rt.add_token(world.owner, ["project:read"], org=world.other)
    response = world.get("/api/0/projects/", token=token)
    assert [p["slug"] for p in response.json()] == ["site"]


def test_list_all_projects_of_a_user_in_no_organization_is_empty(world: World) -> None:
    loner = world.rt.add_user("loner@example.test")
    response = world.get("/api/0/projects/", token=world.rt.add_token(loner, ["project:read"]))
    assert (response.status_code, response.json()) == (200, [])


def test_list_all_projects_needs_a_token(world: World) -> None:
    response = world.http.get("/api/0/projects/")
    assert (response.status_code, detail(response)) == (401, "Authentication credentials were not provided.")


def test_get_project(world: World) -> None:
    response = world.get(PROJECT)
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["slug"], body["organization"]["slug"], body["team"]["slug"]) == (
        str(world.project.id), "api", "acme", "backend")


@pytest.mark.parametrize("url", ["/api/0/projects/acme/nope/", "/api/0/projects/nope/api/"])
def test_an_unknown_project_or_organization_is_404(world: World, url: str) -> None:
    for method in ("get", "put", "delete"):
        response = getattr(world, method)(url)
        assert (response.status_code, detail(response)) == (404, "The requested resource does not exist"), method
    assert world.rt.bus.sent == []


def test_a_project_of_another_organization_is_not_found_under_this_one(world: World) -> None:
    world.rt.add_project(world.other, "site")
    assert world.get("/api/0/projects/acme/site/").status_code == 404


def test_get_project_needs_a_project_scope(world: World) -> None:
    response = world.get(PROJECT, token=world.viewer_token)
    assert (response.status_code, detail(response)) == (403, "You do not have permission to perform this action.")


def test_update_project_sends_only_the_given_fields_renamed(world: World) -> None:
    apply_updates(world)
    response = world.put(PROJECT, {
        "name": " API Server ", "slug": "api-server", "platform": None, "isBookmarked": True,
        "resolveAge": 24, "scrapeJavaScript": False, "scrubIPAddresses": True, "allowedDomains": ["a.test"],
        "digestsMinDelay": 60,  # accepted, no effect
    })
    assert response.status_code == 200
    [sent] = world.rt.bus.sent
    assert isinstance(sent.command, c.UpdateProject)
    assert sent.command.project_id == world.project.id
    assert sent.command.changes == {
        "name": "API Server", "slug": "api-server", "platform": None, "is_bookmarked": True, "resolve_age": 24,
        "scrape_javascript": False, "scrub_ip_addresses": True, "allowed_domains": ["a.test"],
    }
    assert sent.statuses == {"conflict": 400}
    body = response.json()
    assert (body["name"], body["slug"], body["isBookmarked"]) == ("API Server", "api-server", True)


def test_update_project_with_nothing_to_change_sends_nothing(world: World) -> None:
    response = world.put(PROJECT, {"digestsMaxDelay": 300})
    assert response.status_code == 200
    assert response.json()["slug"] == "api"
    assert world.rt.bus.sent == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": ""}, "Invalid project name: it must be 1 to 64 characters."),
        ({"slug": "No Slug"}, INVALID_SLUG),
        ({"platform": "p" * 65}, "Invalid platform."),
        ({"resolveAge": -1}, "Invalid request body: Expected `int` >= 0 - at `$.resolveAge`"),
        ({"resolveAge": 2**31}, "Invalid request body: Expected `int` <= 2147483647 - at `$.resolveAge`"),
        ({"isBookmarked": "yes"}, "Invalid request body: Expected `bool`, got `str` - at `$.isBookmarked`"),
    ],
)
def test_update_project_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.put(PROJECT, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_update_project_refuses_malformed_json(world: World) -> None:
    response = world.http.put(PROJECT, content=b"{nope", headers={"Authorization": f"Bearer {world.owner_token}"})
    assert (response.status_code, detail(response)) == (400, "Malformed JSON in request body.")


def test_a_slug_conflict_on_project_update_is_a_400(world: World) -> None:
    world.rt.bus.reject_next("conflict", "A project with this slug already exists.")
    response = world.put(PROJECT, {"slug": "taken"})
    assert (response.status_code, detail(response)) == (400, "A project with this slug already exists.")


def test_update_project_needs_project_write(world: World) -> None:
    response = world.put(PROJECT, {"name": "x"}, token=world.member_token)
    assert response.status_code == 403
    assert world.rt.bus.sent == []


def test_delete_project(world: World) -> None:
    response = world.delete(PROJECT)
    assert response.status_code == 204
    [sent] = world.rt.bus.sent
    assert isinstance(sent.command, c.DeleteProject)
    assert (sent.command.org_id, sent.command.project_id, sent.statuses) == (world.org.id, world.project.id, None)


def test_delete_project_needs_project_admin(world: World) -> None:
    assert world.delete(PROJECT, token=world.member_token).status_code == 403
    assert world.rt.bus.sent == []


def test_a_rejected_delete_answers_the_agents_status(world: World) -> None:
    world.rt.bus.reject_next("not_found", "No such project.")
    response = world.delete(PROJECT)
    assert (response.status_code, detail(response)) == (404, "No such project.")
