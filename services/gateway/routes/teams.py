"""Teams: list and create in an organization; details, update, scheduled delete; team projects."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import commands as c
from picket.gateway import render
from picket.gateway.access import team_access
from picket.gateway.auth import OrgAccess
from picket.gateway.errors import bad_request
from picket.gateway.pagination import paginate
from picket.gateway.runtime import Runtime, runtime
from picket.gateway.validation import body, checked_name, checked_slug
from picket.ids import new_id, new_key_pair
from picket.store import project_activity, releases_read

ORG_READ = ("org:read", "org:write", "org:admin")
TEAM_CREATE = ("org:write", "org:admin", "team:write", "team:admin")
TEAM_READ = ("team:read", "team:write", "team:admin")
TEAM_WRITE = ("team:write", "team:admin")
TEAM_ADMIN = ("team:admin",)
PROJECT_READ = ("project:read", "project:write", "project:admin")
PROJECT_CREATE = ("project:write", "project:admin")


async def list_teams(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], ORG_READ)
    rec = await rt.org_records(access.organization.id)
    teams = sorted(rec["team"], key=lambda t: t.slug)
    detailed = request.query_params.get("detailed", "1") != "0"
    page, link = paginate(request, teams)
    teams_by_id = {t.id: t for t in rec["team"]}
    out = []
    for t in page:
        item = render.team(t, rec["member"], access.member, access.scopes)
        if detailed:
            item["projects"] = [
                render.project_created(p, teams_by_id, access.member, access.scopes)
                for p in rec["project"]
                if t.id in p.team_ids
            ]
        out.append(item)
    return JSONResponse(out, headers={"Link": link})


class TeamCreate(msgspec.Struct):
    name: str | None = None
    slug: str | None = None
    idp_provisioned: bool = False


async def create_team(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], TEAM_CREATE)
    data = await body(request, TeamCreate)
    slug = checked_slug(data.slug, data.name, "Team")
    name = checked_name(data.name, "team") if data.name is not None else slug
    team_id = new_id()
    await rt.bus.execute(
        c.CreateTeam(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            team_id=team_id,
            slug=slug,
            name=name,
            creator_member_id=access.member.id,
        )
    )
    return await _render_team(rt, access, team_id, 201)


async def _render_team(rt: Runtime, access: OrgAccess, team_id: int, status: int) -> JSONResponse:
    rec = await rt.org_records(access.organization.id)
    team = next(t for t in rec["team"] if t.id == team_id)
    viewer = next((m for m in rec["member"] if m.id == access.member.id), access.member)
    out = render.team(team, rec["member"], viewer, access.scopes)
    out["organization"] = render.organization_nested(access.organization, rt.settings.public_url)
    out["projects"] = []
    return JSONResponse(out, status_code=status)


async def get_team(request: Request) -> JSONResponse:
    rt, access, team, rec = await team_access(request, TEAM_READ)
    return JSONResponse(
        render.team_detail(team, access.organization, rec["member"], access.member, access.scopes)
    )


class TeamUpdate(msgspec.Struct):
    name: str
    slug: str | msgspec.UnsetType = msgspec.UNSET


async def update_team(request: Request) -> JSONResponse:
    rt, access, team, _ = await team_access(request, TEAM_WRITE)
    data = await body(request, TeamUpdate)
    name = checked_name(data.name, "team")
    slug = msgspec.UNSET
    if data.slug is not msgspec.UNSET:
        slug = checked_slug(data.slug, None, "Team")
    await rt.bus.execute(
        c.UpdateTeam(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            team_id=team.id,
            name=name,
            slug=slug,
        ),
        {"conflict": 400},
    )
    rec = await rt.org_records(access.organization.id)
    team = next(t for t in rec["team"] if t.id == team.id)
    return JSONResponse(render.team(team, rec["member"], access.member, access.scopes))


async def delete_team(request: Request) -> Response:
    rt, access, team, _ = await team_access(request, TEAM_ADMIN)
    await rt.bus.execute(
        c.DeleteTeam(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id, team_id=team.id)
    )
    return Response(status_code=204)


async def list_team_projects(request: Request) -> JSONResponse:
    rt, access, team, rec = await team_access(request, PROJECT_READ)
    teams_by_id = {t.id: t for t in rec["team"]}
    projects = sorted((p for p in rec["project"] if team.id in p.team_ids), key=lambda p: p.slug)
    page, link = paginate(request, projects)
    seen = await rt.read(project_activity.activity, [p.id for p in page])
    latest = await rt.read(releases_read.latest_releases, access.organization.id, [p.id for p in page])
    return JSONResponse(
        [render.project_summary(p, teams_by_id, access.member, access.scopes, seen.get(p.id, project_activity.NONE),
                                latest[p.id].version if p.id in latest else None)
         for p in page],
        headers={"Link": link},
    )


class ProjectCreate(msgspec.Struct):
    name: str
    slug: str | None = None
    platform: str | None = None
    default_rules: bool = True


async def create_team_project(request: Request) -> JSONResponse:
    rt, access, team, _ = await team_access(request, PROJECT_CREATE)
    data = await body(request, ProjectCreate)
    name = checked_name(data.name, "project")
    slug = checked_slug(data.slug, name, "Project")
    if data.platform is not None and len(data.platform) > 64:
        raise bad_request("Invalid platform.")
    project_id = new_id()
    public, secret = new_key_pair()
    await rt.bus.execute(
        c.CreateProject(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            team_id=team.id,
            project_id=project_id,
            slug=slug,
            name=name,
            platform=data.platform,
            key_id=new_id(),
            key_public=public,
            key_secret=secret,
        )
    )
    rec = await rt.org_records(access.organization.id, "team", "project")
    project = next(p for p in rec["project"] if p.id == project_id)
    teams_by_id = {t.id: t for t in rec["team"]}
    return JSONResponse(
        render.project_created(project, teams_by_id, access.member, access.scopes), status_code=201
    )


routes = [
    Route("/api/0/organizations/{organization_slug}/teams/", list_teams, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/teams/", create_team, methods=["POST"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/", get_team, methods=["GET"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/", update_team, methods=["PUT"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/", delete_team, methods=["DELETE"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/projects/", list_team_projects, methods=["GET"]),
    Route("/api/0/teams/{organization_slug}/{team_slug}/projects/", create_team_project, methods=["POST"]),
]
