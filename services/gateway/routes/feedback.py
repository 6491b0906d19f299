"""User feedback of a project (GET/POST) and the users seen in its events.

POST takes a bearer token or the project's DSN (`Authorization: DSN <dsn>`), as Sentry's
crash-report dialogs do. It is an ingestion write: answered once the feedback is durably on
Kafka, with the stored shape. Feedback on an event may be changed for 5 minutes, then 409.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from picket.gateway import render_events
from picket.gateway.access import project_access
from picket.gateway.errors import ApiError, bad_request, forbidden
from picket.gateway.pagination import paginate
from picket.gateway.publishing import publish
from picket.gateway.render import iso
from picket.gateway.runtime import runtime
from picket.gateway.validation import body
from picket.ingest.dsn_auth import dsn_public_key
from picket.store import entities, issues_read

FEEDBACK_READ = ("project:read", "project:write", "project:admin", "event:read")
FEEDBACK_WRITE = ("project:write", "project:admin", "event:write")
USERS_READ = ("event:read", "event:write", "event:admin", "project:read")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class FeedbackBody(msgspec.Struct):
    event_id: str
    name: str
    email: str
    comments: str


async def list_feedback(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, FEEDBACK_READ)
    rows = await rt.read(issues_read.feedback, project.id)
    page, link = paginate(request, rows)
    group_ids = sorted({f.group_id for f in page if f.group_id is not None})
    groups = await rt.read(issues_read.groups, [project.id], group_ids=group_ids) if group_ids else []
    issues = {g.id: render_events.issue(g, project, access.organization, rt.settings.public_url) for g in groups}
    for rendered in issues.values():
        rendered.pop("stats", None)
    return JSONResponse([render_events.feedback_item(f, issues.get(f.group_id or 0)) for f in page],
                        headers={"Link": link})


async def _project_for_dsn(request: Request):  # type: ignore[no-untyped-def]
    """The project in the path when the request carries that project's DSN, else None."""
    scheme, _, dsn = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "dsn":
        return None
    rt = runtime(request)
    key = await rt.keys.get(dsn_public_key(dsn.strip()) or "")
    if key is None or not key.is_active:
        raise ApiError(401, "Invalid DSN.")
    org = await rt.read(entities.first, "organization", id=key.org_id)
    project = await rt.read(entities.first, "project", org_id=key.org_id, id=key.project_id)
    if org is None or project is None or org.slug != request.path_params["organization_slug"] \
            or project.slug != request.path_params["project_slug"]:
        raise forbidden()
    return rt, org, project, key.id


async def create_feedback(request: Request) -> JSONResponse:
    via_dsn = await _project_for_dsn(request)
    if via_dsn is not None:
        rt, org, project, key_id = via_dsn
    else:
        rt, access, project, _ = await project_access(request, FEEDBACK_WRITE)
        org, key_id = access.organization, 0
    data = await body(request, FeedbackBody)
    event_id = data.event_id.replace("-", "").lower()
    if not _HEX32.match(event_id):
        raise bad_request("Invalid event_id: 32 hexadecimal characters expected.")
    if not data.comments.strip() or len(data.comments) > 4096:
        raise bad_request("Invalid comments: 1 to 4096 characters.")
    if len(data.name) > 128 or not _EMAIL.match(data.email) or len(data.email) > 75:
        raise bad_request("Invalid name or email.")
    now = datetime.now(timezone.utc)
    existing = await rt.read(issues_read.feedback, project.id, event_id)
    if existing and existing[0].created < now - timedelta(seconds=rt.settings.feedback_edit_window):
        raise ApiError(409, "Feedback for this event cannot be modified.")
    payload = msgspec.json.encode({"event_id": event_id, "name": data.name, "email": data.email,
                                   "comments": data.comments})
    item = IngestItem(item_type="user_report", project_id=project.id, org_id=org.id, key_id=key_id,
                      received=now, event_id=event_id, payload=payload, item_id=uuid.uuid4().hex)
    await publish(rt, [(t.INGEST_FEEDBACK, item)], [])
    return JSONResponse(render_events.feedback_item(issues_read.Feedback(
        event_id, event_id, data.name, data.email, data.comments, existing[0].created if existing else now, None)))


async def list_users(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, USERS_READ)
    rows = await rt.read(issues_read.users, project.id)
    query = request.query_params.get("query", "").strip()
    if query:
        key, _, value = query.partition(":")
        if not value or key not in ("id", "email", "username", "ip"):
            raise bad_request("Invalid query: use id:, email:, username: or ip: followed by a value.")
        rows = [r for r in rows if r[0].startswith(f"{key}:{value}")]
    page, link = paginate(request, rows)
    out = []
    for tag, email, first_seen in page:
        kind, _, value = tag.partition(":")
        out.append({
            "id": tag, "tagValue": tag, "dateCreated": iso(first_seen),
            "identifier": value if kind == "id" else None,
            "username": value if kind == "username" else None,
            "email": email or (value if kind == "email" else None),
            "name": value, "ipAddress": value if kind == "ip" else None, "avatarUrl": None,
        })
    return JSONResponse(out, headers={"Link": link})


routes = [
    Route("/api/0/projects/{organization_slug}/{project_slug}/user-feedback/", list_feedback, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/user-feedback/", create_feedback, methods=["POST"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/users/", list_users, methods=["GET"]),
]
