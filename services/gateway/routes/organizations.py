"""Organizations: list, details, update (with the slug-claim saga for a new slug)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.schemas import commands as c
from picket.gateway import render
from picket.gateway.errors import bad_request, forbidden
from picket.gateway.pagination import paginate
from picket.gateway.runtime import runtime
from picket.gateway.validation import body
from picket.store import entities, project_activity
from picket.tenancy.roles import ROLES
from picket.ids import new_id
from picket.tenancy.slugs import INVALID_SLUG, is_valid_slug, slugify

READ = ("org:read", "org:write", "org:admin")
WRITE = ("org:write", "org:admin")


async def list_organizations(request: Request) -> JSONResponse:
    rt = runtime(request)
    principal = await rt.auth.principal(request)
    members = await rt.read(entities.select, "member", parent_id=principal.user.id)
    org_ids = [m.org_id for m in members]
    if principal.token.org_id is not None:
        org_ids = [i for i in org_ids if i == principal.token.org_id]
    orgs = await rt.read(entities.select, "organization", ids=org_ids) if org_ids else []
    query = request.query_params.get("query", "").strip().lower()
    if query:
        orgs = [o for o in orgs if query in o.slug or query in o.name.lower()]
    orgs.sort(key=lambda o: o.name.lower())
    page, link = paginate(request, orgs)
    return JSONResponse([render.organization_summary(o) for o in page], headers={"Link": link})


async def _detail(request: Request, access) -> JSONResponse:  # type: ignore[no-untyped-def]
    rt = runtime(request)
    rec = await rt.org_records(access.organization.id)
    seen = await rt.read(project_activity.activity, [p.id for p in rec["project"]]) if rec["project"] else {}
    return JSONResponse(
        render.organization_detail(
            access.organization, access.scopes, access.member, rec["team"], rec["project"], rec["member"], seen
        )
    )


async def get_organization(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    return await _detail(request, access)


class OrganizationUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    name: str
    slug: str | msgspec.UnsetType = msgspec.UNSET
    open_membership: bool | msgspec.UnsetType = msgspec.UNSET
    default_role: str | msgspec.UnsetType = msgspec.UNSET
    require_2fa: bool | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="require2FA")
    allow_shared_issues: bool | msgspec.UnsetType = msgspec.UNSET
    enhanced_privacy: bool | msgspec.UnsetType = msgspec.UNSET
    data_scrubber: bool | msgspec.UnsetType = msgspec.UNSET
    data_scrubber_defaults: bool | msgspec.UnsetType = msgspec.UNSET
    sensitive_fields: list[str] | msgspec.UnsetType = msgspec.UNSET
    safe_fields: list[str] | msgspec.UnsetType = msgspec.UNSET
    scrub_ip_addresses: bool | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="scrubIPAddresses")
    scrape_javascript: bool | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="scrapeJavaScript")
    is_early_adopter: bool | msgspec.UnsetType = msgspec.UNSET


async def update_organization(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    update = await body(request, OrganizationUpdate)
    changes = {
        f: getattr(update, f)
        for f in update.__struct_fields__
        if getattr(update, f) is not msgspec.UNSET
    }
    name = changes["name"].strip()
    if not name or len(name) > 64:
        raise bad_request("Invalid name: it must be 1 to 64 characters.")
    changes["name"] = name
    if "default_role" in changes and changes["default_role"] not in ROLES:
        raise bad_request(f"Invalid defaultRole: {changes['default_role']!r}")
    org = access.organization
    uid = access.principal.user.id
    new_slug = changes.get("slug")
    if new_slug is not None and new_slug != org.slug:
        if not is_valid_slug(new_slug):
            raise bad_request(INVALID_SLUG)
        # The slug directory decides uniqueness first; the old slug is released only after
        # the organization took the new one.
        await rt.bus.execute(
            c.ClaimOrganizationSlug(meta=rt.bus.meta(uid), slug=new_slug, org_id=org.id),
            {"conflict": 409},
        )
    else:
        changes.pop("slug", None)
    await rt.bus.execute(c.UpdateOrganization(meta=rt.bus.meta(uid), org_id=org.id, changes=changes))
    if new_slug is not None and new_slug != org.slug:
        await rt.bus.execute(c.ReleaseOrganizationSlug(meta=rt.bus.meta(uid), slug=org.slug, org_id=org.id))
    access = await rt.auth.organization(request, changes.get("slug", org.slug), READ)
    return await _detail(request, access)


class OrganizationCreate(msgspec.Struct):
    name: str
    slug: str | None = None
    agreeTerms: bool = True


async def create_organization(request: Request) -> JSONResponse:
    """Sentry's `POST /api/0/organizations/`: the token's user becomes the owner."""
    rt = runtime(request)
    principal = await rt.auth.principal(request)
    if principal.token.org_id is not None or not principal.scopes & set(WRITE):
        raise forbidden()
    data = await body(request, OrganizationCreate)
    name = data.name.strip()
    if not name or len(name) > 64:
        raise bad_request("Invalid name: it must be 1 to 64 characters.")
    slug = data.slug if data.slug is not None else slugify(name)
    if not is_valid_slug(slug):
        raise bad_request(INVALID_SLUG)
    org_id = new_id()
    uid = principal.user.id
    await rt.bus.execute(c.ClaimOrganizationSlug(meta=rt.bus.meta(uid), slug=slug, org_id=org_id))
    await rt.bus.execute(
        c.CreateOrganization(
            meta=rt.bus.meta(uid), org_id=org_id, slug=slug, name=name, owner_user_id=uid,
            owner_email=principal.user.email, owner_member_id=new_id(),
        )
    )
    access = await rt.auth.organization(request, slug, READ)
    response = await _detail(request, access)
    response.status_code = 201
    return response


routes = [
    Route("/api/0/organizations/", list_organizations, methods=["GET"]),
    Route("/api/0/organizations/", create_organization, methods=["POST"]),
    Route("/api/0/organizations/{organization_slug}/", get_organization, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/", update_organization, methods=["PUT"]),
]
