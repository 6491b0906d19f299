"""Render events and issues in Sentry's JSON shapes. Pure."""

from __future__ import annotations

import html

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from picket.schemas.entities import Organization, Project
from picket.schemas.ingest import NormalizedEvent
from picket.gateway.render import iso
from picket.ingest.grouping import short_id
from picket.ingest.processed import as_datetime
from picket.gateway.render_issue_state import People, activity_item, assigned_to, status_details, user_ref
from picket.store.issues_read import Activity, Feedback, Group, ReleaseSeen

_to_builtins = msgspec.to_builtins


def _user(event: NormalizedEvent) -> dict[str, Any] | None:
    u = event.user
    if u is None:
        return None
    return {
        "id": u.id or "",
        "email": u.email,
        "username": u.username,
        "ip_address": u.ip_address,
        "name": u.name,
        "data": u.data or None,
    }


def _tags(event: NormalizedEvent) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in event.tags]


def event_summary(event: NormalizedEvent, group_id: int) -> dict[str, Any]:
    """An event in event lists (project events, issue events)."""
    return {
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": str(group_id),
        "title": event.title,
        "message": event.message,
        "platform": event.platform,
        "event.type": event.type,
        "dateCreated": iso(event.timestamp),
        "user": _user(event),
        "tags": _tags(event),
    }


def _context(frame: Any) -> list[list[Any]]:
    if frame.lineno is None or frame.context_line is None:
        return []
    start = frame.lineno - len(frame.pre_context)
    lines = [*frame.pre_context, frame.context_line, *frame.post_context]
    return [[start + i, line] for i, line in enumerate(lines)]


def _frame(f: Any) -> dict[str, Any]:
    # The reference types function/module/filename/lineNo/inApp as non-null: absent → empty.
    return {
        "function": f.function or "",
        "module": f.module or "",
        "filename": f.filename or "",
        "absPath": f.abs_path,
        "lineNo": f.lineno or 0,
        "colNo": f.colno,
        "inApp": bool(f.in_app),
        "context": _context(f),
        "vars": f.vars or None,
        "package": None,
        "platform": None,
        "instructionAddr": None,
        "symbolAddr": None,
        "symbol": None,
        "trust": None,
        "errors": None,
        **({"data": dict(f.data)} if f.data else {}),
    }


def _exception_entry(event: NormalizedEvent) -> dict[str, Any]:
    system = any(f.in_app is False for ex in event.exceptions for f in ex.frames)
    values = []
    for ex in event.exceptions:
        mechanism = ex.mechanism or None
        values.append({
            "type": ex.type or "Error",
            "value": ex.value or "",
            "module": ex.module,
            "mechanism": {"type": str(mechanism.get("type", "generic")), "handled": bool(mechanism.get("handled", True))}
            if mechanism else None,
            "stacktrace": {
                "frames": [_frame(f) for f in ex.frames],
                "framesOmitted": None,
                "registers": None,
                "hasSystemFrames": system,
            } if ex.frames else None,
            # the frames as sent, when source maps changed them (Sentry's raw stack trace)
            "rawStacktrace": {
                "frames": [_frame(f) for f in ex.raw_frames],
                "framesOmitted": None,
                "registers": None,
                "hasSystemFrames": system,
            } if ex.raw_frames else None,
            "threadId": None,
        })
    return {"type": "exception", "data": {"values": values, "hasSystemFrames": system, "excOmitted": None}}


def _breadcrumb(crumb: dict[str, Any], fallback: datetime) -> dict[str, Any]:
    ts = crumb.get("timestamp")
    when = as_datetime(ts, fallback)
    data = crumb.get("data")
    message = crumb.get("message")
    return {
        "type": str(crumb.get("type") or "default"),
        "category": str(crumb.get("category") or ""),
        "level": str(crumb.get("level") or "info"),
        "message": message if isinstance(message, str) else None,
        "data": data if isinstance(data, dict) else None,
        "timestamp": iso(when),
        "event_id": None,
    }


def _pairs(value: Any) -> list[list[str]]:
    """Headers, cookies and query strings as Sentry lists them: [[name, value], ...]."""
    if isinstance(value, dict):
        return [[str(k), str(v)] for k, v in value.items()]
    if isinstance(value, list):
        return [[str(p[0]), str(p[1])] for p in value if isinstance(p, (list, tuple)) and len(p) == 2]
    if isinstance(value, str) and value:
        return [[k, v] for k, _, v in (part.partition("=") for part in value.split("&")) if k]
    return []


def _request_entry(request: dict[str, Any]) -> dict[str, Any]:
    env = request.get("env")
    data = request.get("data")
    method = request.get("method")
    fragment = request.get("fragment")
    return {"type": "request", "data": {
        "url": str(request.get("url") or ""),
        "method": method if isinstance(method, str) else None,
        "headers": _pairs(request.get("headers")),
        "query": _pairs(request.get("query_string")),
        "cookies": _pairs(request.get("cookies")),
        "data": data if isinstance(data, dict) else None,
        "env": {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else None,
        "fragment": fragment if isinstance(fragment, str) else None,
        "inferredContentType": None,
    }}


def _entries(event: NormalizedEvent) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    if event.exceptions:
        entries.append(_exception_entry(event))
    if event.message:
        entries.append({"type": "message", "data": {"formatted": event.message}})
    if event.breadcrumbs:
        crumbs = [_breadcrumb(c, event.timestamp) for c in event.breadcrumbs if isinstance(c, dict)]
        entries.append({"type": "breadcrumbs", "data": {"values": crumbs}})
    if event.request:
        entries.append(_request_entry(event.request))
    return entries


def release_ref(seen: ReleaseSeen, project: Project) -> dict[str, Any]:
    """An event's release, from what the project's events say of it (no deploys or commits)."""
    return {
        "version": seen.version, "shortVersion": seen.version, "ref": None, "url": None,
        "dateCreated": iso(seen.first_event), "dateReleased": None, "data": {}, "owner": None,
        "firstEvent": iso(seen.first_event), "lastEvent": iso(seen.last_event), "newGroups": seen.new_groups,
        "commitCount": 0, "deployCount": 0, "authors": [], "lastCommit": None, "lastDeploy": None,
        "projects": [{"id": project.id, "slug": project.slug, "name": project.name,
                      "platform": project.platform, "platforms": [project.platform] if project.platform else []}],
    }


def event_detail(event: NormalizedEvent, group_id: int, previous: str | None = None,
                 next_: str | None = None, user_report: Feedback | None = None,
                 release: dict[str, Any] | None = None) -> dict[str, Any]:
    sdk = event.sdk or {}
    return {
        **event_summary(event, group_id),
        "type": event.type,
        "dist": event.dist,
        "userReport": None if user_report is None else feedback_item(user_report),
        "previousEventID": previous,
        "nextEventID": next_,
        "size": event.size,
        "errors": [
            {"type": str(e.get("type", "")), "message": str(e.get("name", e.get("type", ""))), "data": e}
            for e in event.errors
        ],
        "metadata": _event_metadata(event),
        "dateReceived": iso(event.received),
        "entries": _entries(event),
        "packages": event.modules,
        "sdk": {"name": str(sdk.get("name", "")), "version": str(sdk.get("version", ""))},
        "_meta": {"user": None, "context": None, "entries": {}, "contexts": None, "message": None,
                  "packages": None, "tags": {}, "sdk": None},
        "contexts": event.contexts,
        "fingerprints": event.fingerprint,
        "context": event.extra,
        "release": release,
        "culprit": event.culprit,
        "location": None,
    }


def _event_metadata(event: NormalizedEvent) -> dict[str, Any]:
    if event.exceptions:
        last = event.exceptions[-1]
        return {"type": last.type or "Error", "value": last.value or ""}
    return {"title": event.title}


def _project_ref(project: Project) -> dict[str, str]:
    return {"id": str(project.id), "name": project.name, "slug": project.slug}


def issue(group: Group, project: Project, org: Organization, public_url: str,
          stats: dict[int, int] | None = None, now: datetime | None = None,
          flags: dict[str, bool] | None = None, people: People | None = None) -> dict[str, Any]:
    """An issue as in issue lists (and the base of issue details); `flags`: the viewer's."""
    flags = flags or {}
    people = people or People()
    return {
        "id": str(group.id),
        "shortId": short_id(project.slug, group.short_number),
        "title": group.title,
        "culprit": group.culprit,
        "permalink": f"{public_url}/organizations/{org.slug}/issues/{group.id}/",
        "logger": group.logger or None,
        "level": group.level,
        "status": group.status,
        "statusDetails": status_details(group.status, group.status_details, people),
        "substatus": group.substatus or None,
        "isPublic": bool(group.share_id),
        "platform": group.platform,
        "project": _project_ref(project),
        "type": group.type,
        "metadata": group.metadata,
        "numComments": 0,
        "assignedTo": assigned_to(group.assignee, people),
        "isBookmarked": flags.get("is_bookmarked", False),
        "isSubscribed": flags.get("is_subscribed", False),
        "subscriptionDetails": {"reason": "unknown"} if flags.get("is_subscribed") else None,
        "hasSeen": flags.get("has_seen", False),
        "annotations": [],
        "shareId": group.share_id or None,
        "count": str(group.count),
        "userCount": group.user_count,
        "firstSeen": iso(group.first_seen),
        "lastSeen": iso(group.last_seen),
        "stats": {"24h": hourly_series(stats or {}, now)},
    }


def hourly_series(counts: dict[int, int], now: datetime | None = None, hours: int = 24) -> list[list[int]]:
    """`hours` buckets of one hour ending with the current one, zero-filled: [[epoch, count], ...]."""
    now = now or datetime.now(timezone.utc)
    top = int(now.replace(minute=0, second=0, microsecond=0).timestamp())
    return [[t, counts.get(t, 0)] for t in range(top - (hours - 1) * 3600, top + 1, 3600)]


@dataclass(frozen=True)
class IssuePage:
    """What an issue's detail shows besides the issue: read per request."""

    stats: dict[int, int]
    tags: list[dict[str, Any]]
    user_reports: int
    flags: dict[str, bool] = field(default_factory=dict)
    people: People = People()
    activity: list[Activity] = field(default_factory=list)
    seen_by: list[tuple[int, datetime]] = field(default_factory=list)
    participants: list[int] = field(default_factory=list)
    last_release: str = ""
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # version → as the issue shows it
    external_issues: list[Any] = field(default_factory=list)  # linked by Sentry apps


def issue_detail(group: Group, project: Project, org: Organization, public_url: str, page: IssuePage,
                 now: datetime | None = None) -> dict[str, Any]:
    stats, people = page.stats, page.people
    base = issue(group, project, org, public_url, stats, now, page.flags, people)
    days = hourly_series(stats, now, 24 * 30)
    daily: dict[int, int] = {}
    for t, c in days:
        day = t - t % 86400
        daily[day] = daily.get(day, 0) + c
    return {
        **base,
        "stats": {"24h": base["stats"]["24h"], "30d": [[d, c] for d, c in sorted(daily.items())][-30:]},
        "activity": [
            *(activity_item(a, people) for a in page.activity),
            {"id": "0", "type": "first_seen", "data": {}, "dateCreated": iso(group.first_seen), "user": None},
        ],
        # as Sentry's plugins show linked issues: a link per annotation, and the issue itself
        "annotations": [f'<a href="{html.escape(x.web_url)}">{html.escape(x.display_name)}</a>'
                        for x in page.external_issues],
        "firstRelease": page.releases.get(group.first_release),
        "lastRelease": page.releases.get(page.last_release),
        "participants": [user_ref(u, people) for u in page.participants],
        "pluginActions": [],
        "pluginContexts": [],
        "pluginIssues": [{"slug": x.service_type, "title": x.service_type,
                          "issue": {"issue_id": x.identifier, "url": x.web_url, "label": x.display_name}}
                         for x in page.external_issues],
        "seenBy": [{**user_ref(u, people), "lastSeen": iso(at)} for u, at in page.seen_by],
        "tags": page.tags,
        "userReportCount": page.user_reports,
    }


def feedback_item(f: Feedback, issue: dict[str, Any] | None = None) -> dict[str, Any]:
    """A user report, as feedback lists and an event's `userReport` show it (`issue`: its
    event's issue, rendered)."""
    return {
        "id": f.id,
        "eventID": f.event_id,
        "event": {"eventID": f.event_id, "id": f.event_id or None},
        "name": f.name,
        "email": f.email,
        "comments": f.comments,
        "dateCreated": iso(f.created),
        "issue": issue,
        "user": None,
    }


def since(stats_period: str) -> timedelta | None:
    """Sentry's `statsPeriod` ("24h", "14d", "30m", "2w") as a duration; None if malformed."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    number = stats_period[:-1]
    if not stats_period or stats_period[-1] not in units or not (number.isascii() and number.isdigit()):
        return None
    seconds = int(number) * units[stats_period[-1]]
    return timedelta(seconds=seconds) if seconds <= 100 * 365 * 86400 else None
