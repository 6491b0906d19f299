"""Client keys (DSNs) of a project: list, create, update (name, active, rate limit), delete."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import commands as c
from picket.schemas.entities import RateLimit
from picket.gateway import render
from picket.gateway.access import PROJECT_ADMIN, PROJECT_READ, PROJECT_WRITE, project_access
from picket.gateway.errors import bad_request, not_found
from picket.gateway.pagination import paginate
from picket.gateway.validation import Count, body
from picket.ids import new_id, new_key_pair
from picket.store import entities


class RateLimitBody(msgspec.Struct):
    window: Count | None = None
    count: Count | None = None


def _rate_limit(value: RateLimitBody | None) -> RateLimit | None:
    """Sentry clears the limit when either part is missing or zero."""
    if value is None or not value.window or not value.count:
        return None
    if not 0 < value.window <= 86400 or value.count < 0:
        raise bad_request("Invalid rateLimit: window must be 1..86400 seconds, count positive.")
    return RateLimit(window=value.window, count=value.count)


class KeyCreate(msgspec.Struct, rename="camel"):
    name: str | None = None
    rate_limit: RateLimitBody | None = None


class KeyUpdate(msgspec.Struct, rename="camel"):
    name: str | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    rate_limit: RateLimitBody | None | msgspec.UnsetType = msgspec.UNSET
    browser_sdk_version: str | msgspec.UnsetType = msgspec.UNSET


def _label(name: str | None) -> str:
    label = (name or "").strip()
    if len(label) > 64:
        raise bad_request("Invalid name: at most 64 characters.")
    return label or "Default"


async def list_keys(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_READ)
    keys = await rt.read(entities.select, "key", org_id=access.organization.id, parent_id=project.id)
    status = request.query_params.get("status")
    if status == "active":
        keys = [k for k in keys if k.is_active]
    elif status == "inactive":
        keys = [k for k in keys if not k.is_active]
    page, link = paginate(request, keys)
    url = rt.settings.public_url
    return JSONResponse([render.project_key(k, url) for k in page], headers={"Link": link})


async def create_key(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_WRITE)
    data = await body(request, KeyCreate)
    key_id = new_id()
    public, secret = new_key_pair()
    await rt.bus.execute(
        c.CreateKey(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            project_id=project.id,
            key_id=key_id,
            label=_label(data.name),
            public=public,
            secret=secret,
            rate_limit=_rate_limit(data.rate_limit),
        )
    )
    key = await rt.read(entities.first, "key", org_id=access.organization.id, id=key_id)
    return JSONResponse(render.project_key(key, rt.settings.public_url), status_code=201)


async def _key(rt, access, project, key_id: str):  # type: ignore[no-untyped-def]
    key = await rt.read(entities.first, "key", org_id=access.organization.id, slug=key_id)
    if key is None or key.project_id != project.id:
        raise not_found()
    return key


async def update_key(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_WRITE)
    key = await _key(rt, access, project, request.path_params["key_id"])
    data = await body(request, KeyUpdate)
    await rt.bus.execute(
        c.UpdateKey(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            project_id=project.id,
            key_id=key.id,
            label=_label(data.name) if data.name is not msgspec.UNSET else msgspec.UNSET,
            is_active=data.is_active,
            rate_limit=_rate_limit(data.rate_limit) if data.rate_limit is not msgspec.UNSET else msgspec.UNSET,
            browser_sdk_version=data.browser_sdk_version,
        )
    )
    key = await rt.read(entities.first, "key", org_id=access.organization.id, id=key.id)
    return JSONResponse(render.project_key(key, rt.settings.public_url))


async def delete_key(request: Request) -> Response:
    rt, access, project, _ = await project_access(request, PROJECT_ADMIN)
    key = await _key(rt, access, project, request.path_params["key_id"])
    await rt.bus.execute(
        c.DeleteKey(
            meta=rt.bus.meta(access.principal.user.id),
            org_id=access.organization.id,
            project_id=project.id,
            key_id=key.id,
        )
    )
    return Response(status_code=204)


routes = [
    Route("/api/0/projects/{organization_slug}/{project_slug}/keys/", list_keys, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/keys/", create_key, methods=["POST"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/", update_key, methods=["PUT"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/", delete_key, methods=["DELETE"]),
]
