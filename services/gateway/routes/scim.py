"""SCIM 2.0 provisioning (Sentry's `…/scim/v2/Users` and `…/scim/v2/Groups`).

Users are organization members (pending until they sign in; `active: false` removes the
member), Groups are teams (the slug of `displayName`; membership follows `members`). Every change
is a tenancy command, so it appears on `tenancy-events` like any other. The wire follows RFC
7644: `application/scim+json`, error bodies with `scimType`, 1-based `startIndex`, filters
parsed by a SCIM filter parser (`picket.scim`). Users need `member:admin`, Groups `team:admin`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.gateway.commands import CommandRejected
from picket.gateway.errors import ApiError
from picket.gateway.runtime import Runtime, path_int, runtime
from picket.gateway.validation import body
from picket.ids import new_id
from picket.schemas import commands as c
from picket.schemas.entities import Member, Team
from picket.scim import filters, requests, resources
from picket.scim.errors import ScimError
from picket.store import entities
from picket.tenancy.slugs import is_valid_slug, slugify

MEDIA = "application/scim+json"
USERS_SCOPES = ("member:admin",)
GROUPS_SCOPES = ("team:admin",)
USER_FILTERS = {"username": "userName", "emails.value": "userName", "emails": "userName", "id": "id",
                "active": "active", "sentryorgrole": "sentryOrgRole"}
GROUP_FILTERS = {"displayname": "displayName", "id": "id", "members.value": "members", "value": "members"}


def _scim(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status, media_type=MEDIA)


def scim_endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Every error of a SCIM endpoint as RFC 7644's error body (auth and bus errors too)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ScimError as exc:
            return _scim(exc.body(), exc.status)
        except ApiError as exc:
            scim_type = {409: "uniqueness"}.get(exc.status) or ("invalidValue" if exc.status == 400 else None)
            error = ScimError(exc.status, exc.detail, scim_type)
            return JSONResponse(error.body(), status_code=exc.status, media_type=MEDIA, headers=exc.headers)

    run.__name__ = handler.__name__
    return run


async def _access(request: Request, scopes: tuple[str, ...]) -> tuple[Runtime, Any]:
    rt = runtime(request)
    return rt, await rt.auth.organization(request, request.path_params["organization_slug"], scopes)


async def _records(rt: Runtime, org_id: int) -> dict[str, list[Any]]:
    return await rt.read(entities.select_many, ["member", "team"], org_id)


async def _execute(rt: Runtime, command: Any) -> None:
    try:
        await rt.bus.execute(command)
    except CommandRejected as exc:
        scim_type = {409: "uniqueness", 400: "invalidValue"}.get(exc.status)
        raise ScimError(exc.status, exc.detail, scim_type) from None


def _page(request: Request, found: list[dict[str, Any]]) -> dict[str, Any]:
    start, count = resources.paging(request.query_params)
    return resources.list_response(found[start - 1:start - 1 + count], start_index=start, total=len(found))


def _member(records: dict[str, list[Any]], member_id: str) -> Member:
    wanted = path_int(member_id)
    found = next((m for m in records["member"] if m.id == wanted), None)
    if found is None:
        raise ScimError(404, "User not found.")
    return found


def _team(records: dict[str, list[Any]], team_id: str) -> Team:
    wanted = path_int(team_id)
    found = next((t for t in records["team"] if t.id == wanted), None)
    if found is None:
        raise ScimError(404, "Group not found.")
    return found


# --- Users ---

@scim_endpoint
async def list_users(request: Request) -> Response:
    rt, access = await _access(request, USERS_SCOPES)
    records = await _records(rt, access.organization.id)
    found = [resources.user(m, access.organization.slug) for m in records["member"]]
    text = request.query_params.get("filter")
    if text:
        match = filters.parse(text, USER_FILTERS)
        found = [u for u in found if match({"userName": u["userName"], "id": u["id"], "active": u["active"],
                                            "sentryOrgRole": u.get("sentryOrgRole")})]
    return _scim(_page(request, found))


@scim_endpoint
async def create_user(request: Request) -> Response:
    rt, access = await _access(request, USERS_SCOPES)
    org = access.organization
    new = requests.new_user(await body(request, dict))
    records = await _records(rt, org.id)
    if any(m.email.lower() == new.user_name for m in records["member"]):
        raise ScimError(409, "User already exists in the database.", "uniqueness")
    user = await rt.read(entities.first, "user", org_id=0, slug=new.user_name)
    member_id = new_id()
    await _execute(rt, c.AddMember(meta=rt.bus.meta(access.principal.user.id), org_id=org.id, member_id=member_id,
                                   email=new.user_name, role=new.role or "member",
                                   user_id=user.id if user is not None else None))
    made = _member(await _records(rt, org.id), str(member_id))
    return _scim(resources.user(made, org.slug), 201)


@scim_endpoint
async def get_user(request: Request) -> Response:
    rt, access = await _access(request, USERS_SCOPES)
    member = _member(await _records(rt, access.organization.id), request.path_params["member_id"])
    return _scim(resources.user(member, access.organization.slug))


@scim_endpoint
async def patch_user(request: Request) -> Response:
    """`active: false` removes the member; `sentryOrgRole` changes the role (204 either way, as
    Sentry)."""
    rt, access = await _access(request, USERS_SCOPES)
    org = access.organization
    member = _member(await _records(rt, org.id), request.path_params["member_id"])
    change = requests.user_patch(await body(request, dict))
    meta = rt.bus.meta(access.principal.user.id)
    if change.active is False:
        await _execute(rt, c.RemoveMember(meta=meta, org_id=org.id, member_id=member.id))
        return Response(status_code=204)
    if change.role is not None:
        await _execute(rt, c.UpdateMember(meta=meta, org_id=org.id, member_id=member.id, role=change.role))
    return Response(status_code=204)  # as Sentry (and the reference) answers a PATCH


@scim_endpoint
async def delete_user(request: Request) -> Response:
    rt, access = await _access(request, USERS_SCOPES)
    member = _member(await _records(rt, access.organization.id), request.path_params["member_id"])
    await _execute(rt, c.RemoveMember(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                      member_id=member.id))
    return Response(status_code=204)


# --- Groups ---

def _group(team: Team, records: dict[str, list[Any]], with_members: bool, org_slug: str) -> dict[str, Any]:
    members = [m for m in records["member"] if team.id in m.team_ids]
    return resources.group(team, members, with_members=with_members, org_slug=org_slug)


def _with_members(request: Request) -> bool:
    excluded = request.query_params.get("excludedAttributes", "")
    return "members" not in {x.strip().lower() for x in excluded.split(",")}


@scim_endpoint
async def list_groups(request: Request) -> Response:
    rt, access = await _access(request, GROUPS_SCOPES)
    records = await _records(rt, access.organization.id)
    found = [_group(t, records, _with_members(request), access.organization.slug) for t in records["team"]]
    text = request.query_params.get("filter")
    if text:
        match = filters.parse(text, GROUP_FILTERS)
        found = [g for g, t in zip(found, records["team"]) if match({
            "displayName": g["displayName"], "id": g["id"],
            "members": [str(m.id) for m in records["member"] if t.id in m.team_ids]})]
    return _scim(_page(request, found))


def _slug(display_name: str) -> str:
    slug = slugify(display_name)
    if not is_valid_slug(slug) or not slug:
        raise ScimError(400, "displayName does not make a valid team slug.", "invalidValue")
    return slug


@scim_endpoint
async def create_group(request: Request) -> Response:
    rt, access = await _access(request, GROUPS_SCOPES)
    org = access.organization
    new = requests.new_group(await body(request, dict))
    slug = _slug(new.display_name)
    records = await _records(rt, org.id)
    if any(t.slug == slug for t in records["team"]):
        raise ScimError(409, "A team with this slug already exists.", "uniqueness")
    unknown = set(new.member_ids) - {m.id for m in records["member"]}
    if unknown:
        raise ScimError(400, f"Unknown members: {sorted(unknown)[:10]}.", "invalidValue")
    team_id = new_id()
    meta = rt.bus.meta(access.principal.user.id)
    await _execute(rt, c.CreateTeam(meta=meta, org_id=org.id, team_id=team_id, slug=slug, name=new.display_name))
    if new.member_ids:
        await _execute(rt, c.SetTeamMembers(meta=rt.bus.meta(access.principal.user.id), org_id=org.id,
                                            team_id=team_id, add=list(new.member_ids)))
    records = await _records(rt, org.id)
    return _scim(_group(_team(records, str(team_id)), records, True, org.slug), 201)


@scim_endpoint
async def get_group(request: Request) -> Response:
    rt, access = await _access(request, GROUPS_SCOPES)
    records = await _records(rt, access.organization.id)
    return _scim(_group(_team(records, request.path_params["team_id"]), records, _with_members(request),
                        access.organization.slug))


@scim_endpoint
async def patch_group(request: Request) -> Response:
    rt, access = await _access(request, GROUPS_SCOPES)
    org = access.organization
    records = await _records(rt, org.id)
    team = _team(records, request.path_params["team_id"])
    change = requests.group_patch(await body(request, dict))
    named = set(change.add) | set(change.remove) | set(change.replace_members or ())
    unknown = named - {m.id for m in records["member"]}
    if unknown:
        raise ScimError(400, f"Unknown members: {sorted(unknown)[:10]}.", "invalidValue")
    if change.display_name is not None:
        slug = _slug(change.display_name)
        if slug != team.slug:
            if any(t.slug == slug for t in records["team"]):
                raise ScimError(409, "A team with this slug already exists.", "uniqueness")
            await _execute(rt, c.UpdateTeam(meta=rt.bus.meta(access.principal.user.id), org_id=org.id, team_id=team.id,
                                            slug=slug, name=change.display_name))
    if named or change.replace_members is not None:
        await _execute(rt, c.SetTeamMembers(meta=rt.bus.meta(access.principal.user.id), org_id=org.id,
                                            team_id=team.id, add=list(change.add), remove=list(change.remove),
                                            replace=list(change.replace_members)
                                            if change.replace_members is not None else None))
    return Response(status_code=204)  # as Sentry (and the reference) answers a PATCH


@scim_endpoint
async def delete_group(request: Request) -> Response:
    rt, access = await _access(request, GROUPS_SCOPES)
    team = _team(await _records(rt, access.organization.id), request.path_params["team_id"])
    await _execute(rt, c.DeleteTeam(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                    team_id=team.id))
    return Response(status_code=204)


@scim_endpoint
async def unknown(request: Request) -> Response:
    """Anything else under the SCIM base: 404 in SCIM's shape; `POST /.search` (RFC 7644
    §3.4.3), which Sentry does not offer, 501 as the RFC says."""
    await _access(request, USERS_SCOPES)
    if request.method == "POST" and request.path_params["rest"].rstrip("/").endswith(".search"):
        raise ScimError(501, "Searching with POST is not supported; use GET with a filter.")
    raise ScimError(404, "The requested resource does not exist.")


_SCIM = "/api/0/organizations/{organization_slug}/scim/v2"

routes = [
    Route(f"{_SCIM}/Users", list_users, methods=["GET"]),
    Route(f"{_SCIM}/Users", create_user, methods=["POST"]),
    Route(f"{_SCIM}/Users/{{member_id}}", get_user, methods=["GET"]),
    Route(f"{_SCIM}/Users/{{member_id}}", patch_user, methods=["PATCH"]),
    Route(f"{_SCIM}/Users/{{member_id}}", delete_user, methods=["DELETE"]),
    Route(f"{_SCIM}/Groups", list_groups, methods=["GET"]),
    Route(f"{_SCIM}/Groups", create_group, methods=["POST"]),
    Route(f"{_SCIM}/Groups/{{team_id}}", get_group, methods=["GET"]),
    Route(f"{_SCIM}/Groups/{{team_id}}", patch_group, methods=["PATCH"]),
    Route(f"{_SCIM}/Groups/{{team_id}}", delete_group, methods=["DELETE"]),
    Route(f"{_SCIM}/{{rest:path}}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
]
