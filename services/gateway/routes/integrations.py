"""Service hooks, Sentry app installations and external issues (Sentry's shapes).

A hook's URL must be http(s) and, unless the operator allows it (`PICKET_HOOKS_ALLOW_PRIVATE`),
reach no private, loopback or link-local address; its events are Sentry's (`event.created`,
`event.alert`) or Picket's domain events by name (`picket.integrations.triggers.HOOK_EVENTS`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.gateway.access import EVENT_WRITE, PROJECT_READ, PROJECT_WRITE, project_access
from picket.gateway.errors import bad_request, forbidden, not_found
from picket.gateway.render import iso
from picket.gateway.runtime import Runtime, path_int, runtime
from picket.gateway.validation import Id, body
from picket.hooks.urls import check_url
from picket.ids import new_id
from picket.integrations.apps import APP_RESOURCES, new_app
from picket.integrations.triggers import HOOK_EVENTS
from picket.schemas import integrations as i
from picket.store import entities, hooks_read, integrations_read, issues_read

ORG_READ = ("org:read", "org:write", "org:admin", "org:integrations")
ORG_INTEGRATIONS = ("org:write", "org:admin", "org:integrations")
_HOOK_ID = re.compile(r"[0-9a-f]{32}")


def _allow_private(rt: Runtime) -> bool:
    return rt.settings.hooks_allow_private


def _hook(h: i.ServiceHook, failing: bool = False) -> dict[str, Any]:
    return {"id": h.id, "url": h.url, "events": list(h.events), "status": "failing" if failing else "active",
            "secret": h.secret, "dateCreated": iso(h.date_created)}


async def _rendered_hooks(rt: Runtime, hooks: list[i.ServiceHook]) -> list[dict[str, Any]]:
    health = await rt.read(hooks_read.last_attempts, [h.id for h in hooks]) if hooks else {}
    return [_hook(h, health.get(h.id) is False) for h in hooks]


class HookBody(msgspec.Struct):
    url: str | None = None
    events: list[str] | None = None


async def _checked(rt: Runtime, data: HookBody, *, required: bool) -> tuple[str | None, tuple[str, ...] | None]:
    if required and (data.url is None or data.events is None):
        raise bad_request("url and events are required.")
    url = data.url
    if url is not None:
        problem = await asyncio.to_thread(check_url, url, allow_private=_allow_private(rt))
        if problem is not None:
            raise bad_request(f"url: {problem}")
    events = None
    if data.events is not None:
        if not data.events:
            raise bad_request("events: name at least one event.")
        unknown = sorted(set(data.events) - set(HOOK_EVENTS))
        if unknown:
            raise bad_request(f"events: unknown {unknown[:5]}; use {', '.join(HOOK_EVENTS)}.")
        events = tuple(dict.fromkeys(data.events))
    return url, events


async def list_hooks(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_READ)
    hooks = await rt.read(integrations_read.hooks, access.organization.id, project.id)
    return JSONResponse(await _rendered_hooks(rt, hooks))


async def create_hook(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, PROJECT_WRITE)
    url, events = await _checked(rt, await body(request, HookBody), required=True)
    assert url is not None and events is not None
    hook = i.ServiceHook(id=uuid.uuid4().hex, org_id=access.organization.id, project_id=project.id, url=url,
                         events=events, secret=secrets.token_hex(32), date_created=datetime.now(timezone.utc))
    await rt.bus.execute(i.CreateHook(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                      hook=hook))
    return JSONResponse(_hook(hook), status_code=201)


async def _one_hook(request: Request, any_of: tuple[str, ...]) -> tuple[Runtime, Any, Any, i.ServiceHook]:
    rt, access, project, _ = await project_access(request, any_of)
    hook_id = request.path_params["hook_id"]
    found = next((h for h in await rt.read(integrations_read.hooks, access.organization.id, project.id)
                  if h.id == hook_id), None) if _HOOK_ID.fullmatch(hook_id) else None
    if found is None:
        raise not_found()
    return rt, access, project, found


async def get_hook(request: Request) -> JSONResponse:
    rt, _, _, hook = await _one_hook(request, PROJECT_READ)
    return JSONResponse((await _rendered_hooks(rt, [hook]))[0])


async def update_hook(request: Request) -> JSONResponse:
    rt, access, project, hook = await _one_hook(request, PROJECT_WRITE)
    url, events = await _checked(rt, await body(request, HookBody), required=False)
    await rt.bus.execute(i.UpdateHook(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                      project_id=project.id, hook_id=hook.id, url=url, events=events))
    changed = msgspec.structs.replace(hook, url=url or hook.url, events=events if events is not None else hook.events)
    return JSONResponse((await _rendered_hooks(rt, [changed]))[0])


async def delete_hook(request: Request) -> Response:
    rt, access, project, hook = await _one_hook(request, PROJECT_WRITE)
    await rt.bus.execute(i.DeleteHook(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                      project_id=project.id, hook_id=hook.id))
    return Response(status_code=204)


# --- Sentry apps ---

def _installation(inst: i.Installation, app: i.SentryApp, org_slug: str) -> dict[str, Any]:
    return {"app": {"uuid": app.uuid, "slug": app.slug}, "organization": {"slug": org_slug}, "uuid": inst.uuid,
            "status": inst.status, "dateCreated": iso(inst.date_created)}


async def list_installations(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], ORG_READ)
    found = await rt.read(integrations_read.installations, access.organization.id)
    return JSONResponse([_installation(inst, app, access.organization.slug) for inst, app in found])


class AppBody(msgspec.Struct):
    name: str | None = None
    organization: str | None = None
    webhookUrl: str | None = None
    events: list[str] = []
    isInternal: bool = True
    scopes: list[str] = []


async def create_app(request: Request) -> JSONResponse:
    """An internal integration, as Sentry's `POST /sentry-apps/` makes one (`isInternal`),
    installed in its organization at once."""
    rt = runtime(request)
    data = await body(request, AppBody)
    if not data.organization:
        raise bad_request("organization is required.")
    if not data.isInternal:
        raise bad_request("Only internal integrations can be made here (isInternal: true).")
    access = await rt.auth.organization(request, data.organization, ORG_INTEGRATIONS)
    made = await asyncio.to_thread(new_app, access.organization.id, data.name or "", data.webhookUrl or "",
                                   data.events or list(APP_RESOURCES), allow_private=_allow_private(rt))
    if isinstance(made, str):
        raise bad_request(made)
    app, installation = made
    await rt.bus.execute(i.CreateSentryApp(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                           app=app, installation=installation))
    return JSONResponse({
        "uuid": app.uuid, "slug": app.slug, "name": app.name, "status": "internal", "isInternal": True,
        "webhookUrl": app.webhook_url, "events": list(app.events), "clientId": app.client_id,
        "clientSecret": app.client_secret, "owner": {"slug": access.organization.slug},
        "installation": {"uuid": installation.uuid}, "dateCreated": iso(app.date_created),
    }, status_code=201)


class ExternalIssueBody(msgspec.Struct):
    issueId: Id
    webUrl: str
    project: str
    identifier: str


def external_issue(x: i.ExternalIssue) -> dict[str, Any]:
    return {"id": str(x.id), "issueId": str(x.group_id), "serviceType": x.service_type,
            "displayName": x.display_name, "webUrl": x.web_url}


async def _installation_access(request: Request) -> tuple[Runtime, Any, i.Installation]:
    """The installation of the path, for a caller who may write events in its organization
    (404 for an unknown uuid, 403 for another organization's)."""
    rt = runtime(request)
    uuid_text = request.path_params["uuid"]
    found = await rt.read(integrations_read.installation, uuid_text) if len(uuid_text) <= 64 else None
    if found is None:
        raise not_found()
    org = await rt.read(entities.first, "organization", id=found.org_id)
    if org is None:
        raise not_found()
    access = await rt.auth.organization(request, org.slug, EVENT_WRITE)
    if access.organization.id != found.org_id:
        raise forbidden()
    return rt, access, found


async def link_external_issue(request: Request) -> JSONResponse:
    rt, access, inst = await _installation_access(request)
    data = await body(request, ExternalIssueBody)
    for name, value, limit in (("webUrl", data.webUrl, 2048), ("project", data.project, 200),
                               ("identifier", data.identifier, 200)):
        if not value.strip() or len(value) > limit:
            raise bad_request(f"{name}: 1 to {limit} characters.")
    if not data.webUrl.startswith(("http://", "https://")):
        raise bad_request("webUrl: an http or https URL.")
    projects = [p.id for p in (await rt.org_records(access.organization.id, "project"))["project"]]
    groups = await rt.read(issues_read.groups, projects, group_ids=[data.issueId]) if projects else []
    if not groups:
        raise not_found("The issue does not exist in this organization.")
    group = groups[0]
    record = i.ExternalIssue(id=new_id(), org_id=inst.org_id, installation_uuid=inst.uuid,
                             service_type=inst.app_slug, group_id=group.id, project_id=group.project_id,
                             web_url=data.webUrl, project=data.project, identifier=data.identifier,
                             date_created=datetime.now(timezone.utc))
    await rt.bus.execute(i.LinkExternalIssue(meta=rt.bus.meta(access.principal.user.id), org_id=inst.org_id,
                                             external_issue=record))
    return JSONResponse(external_issue(record))


async def unlink_external_issue(request: Request) -> Response:
    rt, access, inst = await _installation_access(request)
    external_id = path_int(request.path_params["external_issue_id"])
    if external_id is None:
        raise not_found()
    await rt.bus.execute(i.UnlinkExternalIssue(meta=rt.bus.meta(access.principal.user.id), org_id=inst.org_id,
                                               installation_uuid=inst.uuid, external_issue_id=external_id))
    return Response(status_code=204)


_PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route(f"{_PROJECT}/hooks/", list_hooks, methods=["GET"]),
    Route(f"{_PROJECT}/hooks/", create_hook, methods=["POST"]),
    Route(f"{_PROJECT}/hooks/{{hook_id}}/", get_hook, methods=["GET"]),
    Route(f"{_PROJECT}/hooks/{{hook_id}}/", update_hook, methods=["PUT"]),
    Route(f"{_PROJECT}/hooks/{{hook_id}}/", delete_hook, methods=["DELETE"]),
    Route("/api/0/organizations/{organization_slug}/sentry-app-installations/", list_installations, methods=["GET"]),
    Route("/api/0/sentry-apps/", create_app, methods=["POST"]),
    Route("/api/0/sentry-app-installations/{uuid}/external-issues/", link_external_issue, methods=["POST"]),
    Route("/api/0/sentry-app-installations/{uuid}/external-issues/{external_issue_id}/", unlink_external_issue,
          methods=["DELETE"]),
]
