"""Projects: organization and cross-organization lists; details, update, scheduled delete."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import commands as c
from picket.gateway import render
from picket.gateway.errors import bad_request
from picket.gateway.pagination import paginate
from picket.gateway.access import PROJECT_ADMIN, PROJECT_READ, PROJECT_WRITE, project_access
from picket.gateway.runtime import runtime
from picket.gateway.validation import Count, body, checked_name, checked_slug
from picket.gateway.routes import releases
from picket.store import entities, project_activity, releases_read

ORG_READ = ("org:read", "org:write", "org:admin")


async def list_org_projects(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], ORG_READ)
    rec = await rt.org_records(access.organization.id, "team", "project")
    projects = sorted(rec["project"], key=lambda p: p.slug)
    query = request.query_params.get("query", "").strip()
    for term in query.split():
        key, _, value = term.partition(":")
        if value and key == "slug":
            projects = [p for p in projects if p.slug == value]
        elif value and key == "id":
            projects = [p for p in projects if str(p.id) == value]
        else:
            projects = [p for p in projects if term.lower() in p.slug or term.lower() in p.name.lower()]
    teams_by_id = {t.id: t for t in rec["team"]}
    page, link = paginate(request, projects)
    seen = await rt.read(project_activity.activity, [p.id for p in page])
    latest = await rt.read(releases_read.latest_releases, access.organization.id, [p.id for p in page])
    return JSONResponse(
        [render.project_summary(p, teams_by_id, access.member, access.scopes, seen.get(p.id, project_activity.NONE),
                                latest[p.id].version if p.id in latest else None)
         for p in page],
        headers={"Link": link},
    )


async def list_all_projects(request: Request) -> JSONResponse:
    """Every project in every organization the token's user belongs to."""
    rt = runtime(request)
    principal = await rt.auth.principal(request)
    members = await rt.read(entities.select, "member", parent_id=principal.user.id)
    if principal.token.org_id is not None:
        members = [m for m in members if m.org_id == principal.token.org_id]
    by_org = {m.org_id: m for m in members}
    orgs = {o.id: o for o in await rt.read(entities.select, "organization", ids=list(by_org))} if by_org else {}
    projects = await rt.read(entities.select, "project", org_ids=list(orgs)) if orgs else []
    projects.sort(key=lambda p: (orgs[p.org_id].slug, p.slug))
    page, link = paginate(request, projects)
    seen = await rt.read(project_activity.activity, [p.id for p in page])
    return JSONResponse(
        [render.project_in_list(p, orgs[p.org_id], by_org.get(p.org_id), seen.get(p.id, project_activity.NONE))
         for p in page],
        headers={"Link": link},
    )


async def _latest_release(rt: Any, org_id: int, project_id: int) -> dict[str, Any] | None:
    latest = (await rt.read(releases_read.latest_releases, org_id, [project_id])).get(project_id)
    return None if latest is None else (await releases.rendered(rt, org_id, [latest]))[0]


async def get_project(request: Request) -> JSONResponse:
    rt, access, project, rec = await project_access(request, PROJECT_READ)
    teams_by_id = {t.id: t for t in rec["team"]}
    seen = (await rt.read(project_activity.activity, [project.id])).get(project.id, project_activity.NONE)
    return JSONResponse(render.project_detail(project, access.organization, teams_by_id, access.member, seen,
                                              await _latest_release(rt, access.organization.id, project.id)))


class ProjectUpdate(msgspec.Struct, rename="camel"):
    name: str | msgspec.UnsetType = msgspec.UNSET
    slug: str | msgspec.UnsetType = msgspec.UNSET
    platform: str | None | msgspec.UnsetType = msgspec.UNSET
    is_bookmarked: bool | msgspec.UnsetType = msgspec.UNSET
    digests_min_delay: Count | msgspec.UnsetType = msgspec.UNSET
    digests_max_delay: Count | msgspec.UnsetType = msgspec.UNSET
    subject_prefix: str | msgspec.UnsetType = msgspec.UNSET
    subject_template: str | msgspec.UnsetType = msgspec.UNSET
    resolve_age: Count | msgspec.UnsetType = msgspec.UNSET  # hours; never negative
    scrape_java_script: bool | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="scrapeJavaScript")
    data_scrubber: bool | msgspec.UnsetType = msgspec.UNSET
    scrub_ip_addresses: bool | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="scrubIPAddresses")
    sensitive_fields: list[str] | msgspec.UnsetType = msgspec.UNSET
    safe_fields: list[str] | msgspec.UnsetType = msgspec.UNSET
    allowed_domains: list[str] | msgspec.UnsetType = msgspec.UNSET


# Body fields that are accepted but have no stored effect yet (digests are not sent).
_IGNORED = {"digests_min_delay", "digests_max_delay"}
_RENAMED = {"scrape_java_script": "scrape_javascript"}


async def update_project(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_WRITE)
    data = await body(request, ProjectUpdate)
    changes = {
        _RENAMED.get(f, f): getattr(data, f)
        for f in data.__struct_fields__
        if getattr(data, f) is not msgspec.UNSET and f not in _IGNORED
    }
    if "name" in changes:
        changes["name"] = checked_name(changes["name"], "project")
    if "slug" in changes:
        changes["slug"] = checked_slug(changes["slug"], None, "Project")
    if changes.get("platform") is not None and len(changes["platform"]) > 64:
        raise bad_request("Invalid platform.")
    if changes:
        await rt.bus.execute(
            c.UpdateProject(
                meta=rt.bus.meta(access.principal.user.id),
                org_id=access.organization.id,
                project_id=project.id,
                changes=changes,
            ),
            {"conflict": 400},
        )
    rec = await rt.org_records(access.organization.id)
    project = next(p for p in rec["project"] if p.id == project.id)
    teams_by_id = {t.id: t for t in rec["team"]}
    seen = (await rt.read(project_activity.activity, [project.id])).get(project.id, project_activity.NONE)
    return JSONResponse(render.project_detail(project, access.organization, teams_by_id, access.member, seen,
                                              await _latest_release(rt, access.organization.id, project.id)))


async def delete_project(request: Request) -> Response:
    rt, access, project, _ = await project_access(request, PROJECT_ADMIN)
    await rt.bus.execute(
        c.DeleteProject(
            meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id, project_id=project.id
        )
    )
    return Response(status_code=204)


routes = [
    Route("/api/0/organizations/{organization_slug}/projects/", list_org_projects, methods=["GET"]),
    Route("/api/0/projects/", list_all_projects, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/", get_project, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/", update_project, methods=["PUT"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/", delete_project, methods=["DELETE"]),
]
