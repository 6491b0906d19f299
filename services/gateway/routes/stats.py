"""Aggregate queries: usage statistics over outcomes (`stats_v2`, and the legacy `stats/` of
organizations, teams and projects), release health (`sessions`) and Discover's table over
events (`error_events`), each one bound query."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.gateway.access import EVENT_READ, project_access, team_access
from picket.gateway.errors import bad_request, forbidden, not_found
from picket.discover import table
from picket.gateway.pagination import link, page_of, window
from picket.gateway.runtime import runtime
from picket.gateway.validation import query_lists
from picket.stats import legacy, sessions, stats_v2
from picket.stats.periods import InvalidParams
from picket.store.rollups import SESSIONS

READ = ("org:read", "org:write", "org:admin")


async def organization_stats_v2(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    records = await rt.org_records(access.organization.id, "project")
    try:
        query = stats_v2.parse(
            query_lists(request), org_id=access.organization.id,
            accessible_project_ids=[p.id for p in records["project"]], now=datetime.now(timezone.utc),
        )
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None
    except PermissionError:
        raise forbidden() from None
    sql, params = stats_v2.sql(query)
    rows = await rt.query(sql, params)
    return JSONResponse(stats_v2.response(query, rows))


async def organization_sessions(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    records = await rt.org_records(access.organization.id, "project")
    projects = records["project"]
    try:
        query = sessions.parse(
            query_lists(request), org_id=access.organization.id, accessible_project_ids=[p.id for p in projects],
            now=datetime.now(timezone.utc), project_slugs={p.slug: p.id for p in projects},
        )
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None
    except PermissionError:
        raise forbidden() from None
    rows = []
    if not query.empty:
        horizon = await rt.horizons.get(SESSIONS)
        sql, params = sessions.sql(query, horizon=horizon, now=datetime.now(timezone.utc))
        rows = await rt.query(sql, params)
    pages = sessions.cursors(query, rows)
    header = ", ".join(link(request, str(page["cursor"]), rel, bool(page["results"])) for rel, page in pages.items())
    return JSONResponse(sessions.response(query, rows), headers={"Link": header})


async def _legacy(request: Request, scope: legacy.Scope, org_id: int, project_ids: list[int]) -> JSONResponse:
    rt = runtime(request)
    try:
        query = legacy.parse(query_lists(request), scope=scope, now=datetime.now(timezone.utc))
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None
    if query.environment is not None:
        # As Sentry: an environment the organization never saw is an unknown resource.
        org_projects = [p.id for p in (await rt.org_records(org_id, "project"))["project"]]
        sql, params = legacy.environment_seen_sql(org_projects, query.environment)
        if not await rt.query(sql, params):
            raise not_found()
    keys = legacy.select_keys(query, org_id=org_id, project_ids=project_ids)
    if not keys:
        return JSONResponse([])
    sql, params = legacy.sql(query, keys)
    rows = await rt.query(sql, params)
    return JSONResponse(legacy.response(query, rows, keys))


async def organization_stats(request: Request) -> JSONResponse:
    """Deprecated in Sentry in favour of stats_v2, still served."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    records = await rt.org_records(access.organization.id, "project")
    return await _legacy(request, "organization", access.organization.id, [p.id for p in records["project"]])


async def team_stats(request: Request) -> JSONResponse:
    _, access, team, records = await team_access(request, ("team:read", "team:write", "team:admin"))
    project_ids = [p.id for p in records["project"] if team.id in p.team_ids]
    return await _legacy(request, "team", access.organization.id, project_ids)


async def project_stats(request: Request) -> JSONResponse:
    _, access, project, _ = await project_access(request, ("project:read", "project:write", "project:admin"))
    return await _legacy(request, "project", access.organization.id, [project.id])




async def organization_events(request: Request) -> JSONResponse:
    """Discover, table format (`picket.discover.table`)."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], EVENT_READ)
    records = await rt.org_records(access.organization.id, "project")
    page = window(request, default_per_page=50)
    try:
        query = table.parse(query_lists(request), accessible={p.id: p.slug for p in records["project"]},
                            now=datetime.now(timezone.utc), offset=page.offset, limit=page.per_page + 1)
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None
    except PermissionError:
        raise forbidden() from None
    rows, links = page_of(request, page, await rt.query(query.sql, query.params))
    return JSONResponse(table.response(query, rows), headers={"Link": links})


routes = [
    Route("/api/0/organizations/{organization_slug}/stats_v2/", organization_stats_v2, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/stats/", organization_stats, methods=["GET"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/stats/", team_stats, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/stats/", project_stats, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/sessions/", organization_sessions, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/events/", organization_events, methods=["GET"]),
]
