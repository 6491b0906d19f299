"""Who may reach a team or project of an organization: the scopes project operations accept, and
the lookup of the record named in the path behind the organization check.

Statuses are `Authenticator.organization`'s (401 no or unknown token, 404 unknown organization,
403 not a member or no accepted scope), then 404 when the organization has no such record.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from picket.gateway.errors import not_found
from picket.gateway.runtime import runtime

PROJECT_READ = ("project:read", "project:write", "project:admin")
PROJECT_WRITE = ("project:write", "project:admin")
PROJECT_ADMIN = ("project:admin",)
EVENT_READ = ("event:read", "event:write", "event:admin")
EVENT_WRITE = ("event:write", "event:admin")
EVENT_ADMIN = ("event:admin",)


async def org_resource(request: Request, any_of: tuple[str, ...], kind: str, param: str) -> tuple[Any, ...]:
    """(runtime, org access, the `kind` record whose slug is path parameter `param`, the org's
    records) — 404 when the organization or the record does not exist."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], any_of)
    records = await rt.org_records(access.organization.id)
    slug = request.path_params[param]
    found = next((r for r in records[kind] if r.slug == slug), None)
    if found is None:
        raise not_found()
    return rt, access, found, records


async def project_access(request: Request, any_of: tuple[str, ...]) -> tuple[Any, ...]:
    """`org_resource` of the project in `{project_slug}`."""
    return await org_resource(request, any_of, "project", "project_slug")


async def team_access(request: Request, any_of: tuple[str, ...]) -> tuple[Any, ...]:
    """`org_resource` of the team in `{team_slug}`."""
    return await org_resource(request, any_of, "team", "team_slug")
