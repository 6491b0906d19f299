"""Usage statistics and sessions routes (services/gateway/routes/stats.py) on a fake runtime: what
each route asks of the store, and how it answers bad parameters and access. The queries
themselves are tested against ClickHouse in tests/integration."""

from __future__ import annotations

import pytest

from tests.support.gateway_world import World, detail

STATS_V2 = "/api/0/organizations/acme/stats_v2/"
SESSIONS_URL = "/api/0/organizations/acme/sessions/"
V2_PARAMS = {"field": "sum(quantity)", "groupBy": "project", "category": "error", "statsPeriod": "1d",
             "interval": "1d"}


def test_stats_v2_queries_the_organizations_projects(world: World) -> None:
    web = world.rt.add_project(world.org, "web")
    world.rt.query_rows = lambda sql, params: [(world.project.id, 7, 2), (web.id, 5, 5)]
    response = world.get(STATS_V2, params=V2_PARAMS)
    assert response.status_code == 200
    body = response.json()
    assert [(g["by"], g["totals"]) for g in body["groups"]] == [
        ({"project": world.project.id}, {"sum(quantity)": 7}), ({"project": web.id}, {"sum(quantity)": 5})]
    [(_, params)] = world.rt.queries
    assert (params["org_id"], sorted(params["project_ids"])) == (world.org.id, sorted([world.project.id, web.id]))


def test_stats_v2_refuses_invalid_params(world: World) -> None:
    response = world.get(STATS_V2, params={**V2_PARAMS, "field": "max(quantity)"})
    assert (response.status_code, detail(response)) == (400, 'Invalid field: "max(quantity)"')
    response = world.get(STATS_V2, params={"statsPeriod": "1d"})
    assert (response.status_code, detail(response)) == (400, 'At least one "field" is required.')
    assert world.rt.queries == []


def test_stats_v2_of_a_project_the_caller_cannot_see_is_403(world: World) -> None:
    elsewhere = world.rt.add_project(world.other, "site")
    response = world.get(STATS_V2, params={**V2_PARAMS, "project": str(elsewhere.id)})
    assert (response.status_code, detail(response)) == (403, "You do not have permission to perform this action.")
    assert world.rt.queries == []


@pytest.mark.parametrize("url", [STATS_V2, SESSIONS_URL, "/api/0/organizations/acme/stats/"])
def test_organization_stats_statuses(world: World, url: str) -> None:
    assert world.http.get(url).status_code == 401
    assert world.get(url.replace("/acme/", "/nope/")).status_code == 404
    assert world.get(url, token=world.stranger_token).status_code == 403
    assert world.get(url, token=world.rt.add_token(world.owner, ["project:read"])).status_code == 403
    assert world.rt.queries == []


def test_sessions_reads_up_to_the_rollups_horizon(world: World) -> None:
    response = world.get(SESSIONS_URL, params={"field": "sum(session)", "statsPeriod": "1d", "interval": "1d"})
    assert response.status_code == 200
    assert [g["totals"] for g in response.json()["groups"]] == [{"sum(session)": 0}]
    [(_, params)] = world.rt.queries
    assert params["horizon"] == world.rt.horizons.value.replace(tzinfo=None)
    assert params["org_id"] == world.org.id and list(params["project_ids"]) == [world.project.id]
    assert 'rel="previous"' in response.headers["Link"] and 'rel="next"' in response.headers["Link"]


def test_sessions_refuses_invalid_params(world: World) -> None:
    response = world.get(SESSIONS_URL, params={"statsPeriod": "1d"})
    assert (response.status_code, detail(response)) == (400, 'Request is missing a "field"')
    assert world.rt.queries == []


def test_sessions_of_a_project_the_caller_cannot_see_is_403(world: World) -> None:
    elsewhere = world.rt.add_project(world.other, "site")
    response = world.get(SESSIONS_URL, params={"field": "sum(session)", "statsPeriod": "1d",
                                               "project": str(elsewhere.id)})
    assert response.status_code == 403


def test_project_stats(world: World) -> None:
    response = world.get("/api/0/projects/acme/api/stats/")
    assert response.status_code == 200
    series = response.json()
    assert len(series) == 24 and all(count == 0 for _, count in series)
    [(_, params)] = world.rt.queries
    assert params["keys"] == [world.project.id]


def test_project_stats_statuses(world: World) -> None:
    assert world.http.get("/api/0/projects/acme/api/stats/").status_code == 401
    assert world.get("/api/0/projects/acme/nope/stats/").status_code == 404
    assert world.get("/api/0/projects/acme/api/stats/", token=world.viewer_token).status_code == 403
    response = world.get("/api/0/projects/acme/api/stats/", params={"stat": "nope"})
    assert (response.status_code, detail(response)) == (400, "Invalid stat: nope")
    assert world.rt.queries == []


def test_team_stats_cover_the_teams_projects(world: World) -> None:
    world.rt.add_project(world.org, "teamless")
    response = world.get("/api/0/teams/acme/backend/stats/")
    assert response.status_code == 200
    [(_, params)] = world.rt.queries
    assert params["keys"] == [world.project.id]


def test_team_stats_statuses(world: World) -> None:
    assert world.get("/api/0/teams/acme/nope/stats/").status_code == 404
    assert world.get("/api/0/teams/acme/backend/stats/", token=world.viewer_token).status_code == 403


def test_organization_stats_by_project(world: World) -> None:
    response = world.get("/api/0/organizations/acme/stats/", params={"group": "project"})
    assert response.status_code == 200
    assert list(response.json()) == [str(world.project.id)]


def test_an_environment_the_organization_never_saw_is_404(world: World) -> None:
    response = world.get("/api/0/projects/acme/api/stats/", params={"stat": "generated", "environment": "mars"})
    assert response.status_code == 404
    [(_, params)] = world.rt.queries  # only the check that the environment exists
    assert "keys" not in params


def test_a_known_environment_is_counted(world: World) -> None:
    world.rt.query_rows = lambda sql, params: [(1,)] if "keys" not in params else []
    response = world.get("/api/0/projects/acme/api/stats/", params={"stat": "generated", "environment": "prod"})
    assert response.status_code == 200
    assert len(world.rt.queries) == 2
