"""Cron monitors and their check-ins.

Monitor writes and REST check-ins go through the monitors agent and answer with its verdict
once the projection has the change. Check-ins also accept the project's DSN
(`Authorization: DSN <dsn>`), answering only the check-in id, as Sentry does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import monitors as m
from picket.gateway import render, render_monitors
from picket.gateway.errors import ApiError, bad_request, forbidden, not_found
from picket.gateway.pagination import page_of, paginate, window
from picket.gateway.runtime import Runtime, runtime
from picket.gateway.validation import Id, body
from picket.ids import new_id
from picket.ingest.dsn_auth import dsn_public_key
from picket.monitors.schedule import ScheduleError, validate_config
from picket.store import monitors_read
from picket.tenancy.slugs import is_valid_slug, slugify

READ = ("project:read", "project:write", "project:admin", "org:read")
WRITE = ("project:write", "project:admin", "org:write", "org:admin")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _meta(rt: Runtime) -> m.MonitorCommandMeta:
    base = rt.bus.meta()
    return m.MonitorCommandMeta(command_id=base.command_id, at=base.issued_at, reply_to=base.reply_to)


class MonitorBody(msgspec.Struct):
    project: str | Id
    name: str
    type: str = "cron_job"
    config: dict[str, Any] = {}
    slug: str | None = None
    status: str = "active"
    alert_rule: dict[str, Any] | None = None


async def _monitor(rt: Runtime, org_id: int, slug: str) -> m.Monitor:
    found = await rt.read(monitors_read.monitor, org_id, slug)
    if found is None:
        raise not_found()
    return found


async def _project_by_ref(rt: Runtime, org_id: int, ref: str | int) -> Any:
    records = await rt.org_records(org_id, "project")
    ref = str(ref)
    project = next((p for p in records["project"] if p.slug == ref or str(p.id) == ref), None)
    if project is None:
        raise bad_request("Invalid project: no such project in this organization.")
    return project


def _validated(data: MonitorBody, base: m.MonitorConfig | None = None) -> m.MonitorConfig:
    if data.type != "cron_job":
        raise bad_request('Invalid type: only "cron_job" is supported.')
    if data.status not in ("active", "disabled"):
        raise bad_request('Invalid status: "active" or "disabled".')
    name = data.name.strip()
    if not name or len(name) > 128:
        raise bad_request("Invalid name: 1 to 128 characters.")
    try:
        return validate_config(data.config, partial_base=base)
    except ScheduleError as exc:
        raise bad_request(exc.detail) from None


async def _render(rt: Runtime, org_id: int, monitors: list[m.Monitor], access: Any) -> list[dict[str, Any]]:
    records = await rt.org_records(org_id, "team", "project")
    projects = {p.id: p for p in records["project"]}
    teams = {t.id: t for t in records["team"]}
    return [
        render_monitors.monitor(mon, render.project_created(projects[mon.project_id], teams, access.member, access.scopes))
        for mon in monitors if mon.project_id in projects
    ]


async def list_monitors(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    monitors = await rt.read(monitors_read.monitors, access.organization.id)
    project_ids = {int(v) for v in request.query_params.getlist("project") if v.isascii() and v.isdigit()}
    if project_ids:
        monitors = [x for x in monitors if x.project_id in project_ids]
    environments = set(request.query_params.getlist("environment"))
    if environments:
        monitors = [msgspec.structs.replace(x, environments={k: v for k, v in x.environments.items() if k in environments})
                    for x in monitors]
    page, link = paginate(request, monitors)
    return JSONResponse(await _render(rt, access.organization.id, page, access), headers={"Link": link})


async def create_monitor(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    data = await body(request, MonitorBody)
    config = _validated(data)
    project = await _project_by_ref(rt, access.organization.id, data.project)
    slug = data.slug if data.slug is not None else slugify(data.name)
    if not is_valid_slug(slug):
        raise bad_request("Invalid slug: lowercase letters, numbers, underscores or hyphens, not only digits.")
    await rt.bus.execute(m.UpsertMonitor(
        meta=_meta(rt), org_id=access.organization.id, slug=slug, monitor_id=new_id(), project_id=project.id,
        name=data.name.strip(), config=config, status=data.status, create_only=True,  # type: ignore[arg-type]
    ))
    created = await _monitor(rt, access.organization.id, slug)
    return JSONResponse((await _render(rt, access.organization.id, [created], access))[0], status_code=201)


async def get_monitor(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    found = await _monitor(rt, access.organization.id, request.path_params["monitor_slug"])
    environments = set(request.query_params.getlist("environment"))
    if environments:
        found = msgspec.structs.replace(found, environments={k: v for k, v in found.environments.items() if k in environments})
    return JSONResponse((await _render(rt, access.organization.id, [found], access))[0])


async def update_monitor(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    current = await _monitor(rt, access.organization.id, request.path_params["monitor_slug"])
    data = await body(request, MonitorBody)
    config = _validated(data, current.config)
    project = await _project_by_ref(rt, access.organization.id, data.project)
    if data.slug is not None and data.slug != current.slug:
        # Check-ins find their monitor by slug (the aggregate key), so a slug is for good.
        raise bad_request("A monitor's slug cannot be changed; create a new monitor instead.")
    await rt.bus.execute(m.UpsertMonitor(
        meta=_meta(rt), org_id=access.organization.id, slug=current.slug, monitor_id=current.id,
        project_id=project.id, name=data.name.strip(), config=config, status=data.status,  # type: ignore[arg-type]
    ))
    updated = await _monitor(rt, access.organization.id, current.slug)
    return JSONResponse((await _render(rt, access.organization.id, [updated], access))[0])


async def delete_monitor(request: Request) -> Response:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    current = await _monitor(rt, access.organization.id, request.path_params["monitor_slug"])
    await rt.bus.execute(m.DeleteMonitor(
        meta=_meta(rt), org_id=access.organization.id, slug=current.slug,
        environments=request.query_params.getlist("environment"),
    ))
    return Response(status_code=202)


class CheckInBody(msgspec.Struct):
    status: str | None = None
    duration: int | float | None = None
    environment: str | None = None
    monitor_config: dict[str, Any] | None = None
    contexts: dict[str, Any] | None = None


async def _check_in_access(request: Request) -> tuple[Runtime, int, m.Monitor | None, int | None]:
    """(runtime, org id, monitor or None, the DSN's project id when the caller used a DSN)."""
    rt = runtime(request)
    org_slug = request.path_params["organization_slug"]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "dsn":
        key = await rt.keys.get(dsn_public_key(value.strip()) or "")
        if key is None or not key.is_active:
            raise ApiError(401, "Invalid DSN.")
        org = await rt.auth.organization_by_slug(org_slug)
        if org is None or org.id != key.org_id:
            raise forbidden()
        found = await _checked_in_monitor(rt, org.id, request)
        if found is not None and found.project_id != key.project_id:
            raise forbidden()
        return rt, org.id, found, key.project_id
    access = await rt.auth.organization(request, org_slug, WRITE if request.method != "GET" else READ)
    return rt, access.organization.id, await _checked_in_monitor(rt, access.organization.id, request), None


async def _checked_in_monitor(rt: Runtime, org_id: int, request: Request) -> m.Monitor | None:
    """The monitor a check-in (or a list of them) names, from the gateway's short-lived cache:
    its id and project are what is used, and the decider has the last word on a write."""
    return await rt.monitors.get(org_id, request.path_params["monitor_slug"])


def _duration_ms(value: int | float | None) -> int | None:
    if value is None:
        return None
    if value < 0 or value > 2**31:
        raise bad_request("Invalid duration.")
    return int(value)


async def _record(request: Request, check_in_id: str, latest: bool) -> JSONResponse:
    rt, org_id, monitor, dsn_project = await _check_in_access(request)
    data = await body(request, CheckInBody)
    if data.status is not None and data.status not in ("in_progress", "ok", "error"):
        raise bad_request('Invalid status: "in_progress", "ok" or "error".')
    upsert = None
    if data.monitor_config is not None:
        try:
            upsert = validate_config(data.monitor_config)
        except ScheduleError as exc:
            raise bad_request(exc.detail) from None
    if monitor is None and upsert is None:
        raise not_found()
    if monitor is None and dsn_project is None:
        raise bad_request("A new monitor needs a project: create it first or check in with its DSN.")
    # The decider needs a project only to create a monitor or to keep a DSN to its own: a token's
    # check-in sends none, so a monitor moved since it was cached is not refused.
    project_id = dsn_project
    status = None if data.status in (None, "in_progress") else data.status
    environment = (data.environment or "production")[:64]
    slug = request.path_params["monitor_slug"]
    reply = await rt.bus.execute(m.RecordCheckIn(
        meta=_meta(rt), org_id=org_id, slug=slug, check_in_id=check_in_id, environment=environment,
        status=status, duration=_duration_ms(data.duration), latest=latest, project_id=project_id,  # type: ignore[arg-type]
        upsert_config=upsert,
    ))
    # Answered at decision with the check-in as decided (`picket.monitors.answers`); read back
    # only when the projection answered (an upsert, or a repeat of a command already decided).
    found = reply.check_in
    wanted = check_in_id if not latest else None
    if found is None and monitor is not None:  # read by id: one query fewer
        found = await rt.read(monitors_read.monitor_check_in, org_id, monitor.id, wanted)
    if found is None:  # a monitor this check-in's upsert created (anew, if deleted meanwhile)
        found = await rt.read(monitors_read.check_in, org_id, slug, wanted)
    if found is None:
        raise not_found()
    if dsn_project is not None:
        return JSONResponse({"id": found.id}, status_code=200 if latest else 201)
    return JSONResponse(render_monitors.check_in(found), status_code=200 if latest or request.method == "PUT" else 201)


async def create_check_in(request: Request) -> JSONResponse:
    return await _record(request, uuid.uuid4().hex, latest=False)


async def update_check_in(request: Request) -> JSONResponse:
    raw = request.path_params["checkin_id"]
    if raw == "latest":
        return await _record(request, "", latest=True)
    check_in_id = raw.replace("-", "").lower()
    if not _HEX32.match(check_in_id):
        raise not_found()
    return await _record(request, check_in_id, latest=False)


async def list_check_ins(request: Request) -> JSONResponse:
    rt, org_id, monitor, _ = await _check_in_access(request)
    if monitor is None:
        raise not_found()
    w = window(request)
    environments = sorted(set(request.query_params.getlist("environment")))
    fetched = await rt.read(monitors_read.check_ins, org_id, monitor.id, environments, w.offset, w.per_page + 1)
    page, link = page_of(request, w, fetched)
    return JSONResponse([render_monitors.check_in(c) for c in page], headers={"Link": link})


routes = [
    Route("/api/0/organizations/{organization_slug}/monitors/", list_monitors, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/monitors/", create_monitor, methods=["POST"]),
    Route("/api/0/organizations/{organization_slug}/monitors/{monitor_slug}/", get_monitor, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/monitors/{monitor_slug}/", update_monitor, methods=["PUT"]),
    Route("/api/0/organizations/{organization_slug}/monitors/{monitor_slug}/", delete_monitor, methods=["DELETE"]),
    Route("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", list_check_ins, methods=["GET"]),
    Route("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", create_check_in, methods=["POST"]),
    Route("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/{checkin_id}/", update_check_in, methods=["PUT"]),
]
