"""Organization members and users: member details, member removal, users list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import commands as c
from picket.gateway import render
from picket.gateway.errors import forbidden, not_found
from picket.gateway.pagination import paginate
from picket.gateway.runtime import path_int, runtime
from picket.store import entities

MEMBER_READ = ("member:read", "member:write", "member:admin")
MEMBER_ADMIN = ("member:admin",)
USERS_READ = ("org:read", "org:write", "org:admin", "member:read")


async def _member(request: Request, any_of: tuple[str, ...], allow_self: bool = False):  # type: ignore[no-untyped-def]
    rt = runtime(request)
    slug = request.path_params["organization_slug"]
    raw_id = request.path_params["member_id"]
    # Leaving an organization needs no member scope, as in Sentry.
    access = await rt.auth.organization(request, slug, () if allow_self else any_of)
    rec = await rt.org_records(access.organization.id)
    if raw_id == "me":
        member = access.member
    else:
        member_id = path_int(raw_id)
        member = next((m for m in rec["member"] if m.id == member_id), None)
        if member is None:
            raise not_found()
    if allow_self and member.id != access.member.id and not access.scopes.intersection(any_of):
        raise forbidden()
    return rt, access, member, rec


async def get_member(request: Request) -> JSONResponse:
    rt, access, member, rec = await _member(request, MEMBER_READ)
    user = await rt.read(entities.first, "user", id=member.user_id) if member.user_id else None
    teams_by_id = {t.id: t for t in rec["team"]}
    return JSONResponse(render.member_detail(member, user, teams_by_id, rec["member"], access.member.role))


async def delete_member(request: Request) -> Response:
    rt, access, member, _ = await _member(request, MEMBER_ADMIN, allow_self=True)
    if member.role == "owner" and access.member.role != "owner":
        raise forbidden("Only an owner can remove an owner.")
    await rt.bus.execute(
        c.RemoveMember(
            meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id, member_id=member.id
        )
    )
    return Response(status_code=204)


async def list_users(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], USERS_READ)
    rec = await rt.org_records(access.organization.id, "member", "project")
    members = [m for m in rec["member"] if m.user_id]
    project_ids = {v for v in request.query_params.getlist("project") if v.lstrip("-").isdigit()}
    projects = rec["project"]
    if project_ids and "-1" not in project_ids:
        wanted = [p for p in projects if str(p.id) in project_ids]
        team_ids = {t for p in wanted for t in p.team_ids}
        members = [m for m in members if team_ids & set(m.team_ids)]
    users = {u.id: u for u in await rt.read(entities.select, "user", ids=[m.user_id for m in members])} if members else {}
    members = sorted((m for m in members if m.user_id in users), key=lambda m: m.email)
    page, link = paginate(request, members)
    return JSONResponse(
        [render.organization_user(m, users[m.user_id], projects) for m in page],  # type: ignore[index]
        headers={"Link": link},
    )


routes = [
    Route("/api/0/organizations/{organization_slug}/members/{member_id}/", get_member, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/members/{member_id}/", delete_member, methods=["DELETE"]),
    Route("/api/0/organizations/{organization_slug}/users/", list_users, methods=["GET"]),
]
