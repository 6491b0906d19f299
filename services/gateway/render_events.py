"""Render events and issues in Sentry's JSON shapes. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from schemas.entities import Organization, Project
from schemas.ingest import NormalizedEvent
from services.gateway.render import iso
from services.ingest.grouping import short_id
from services.store.issues_read import Group

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


def _entries(event: NormalizedEvent) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    if event.exceptions:
        entries.append({"type": "exception", "data": {"values": [
            {
                "type": ex.type,
                "value": ex.value,
                "module": ex.module,
                "mechanism": ex.mechanism,
                "stacktrace": {"frames": [
                    {
                        "function": f.function, "module": f.module, "filename": f.filename,
                        "absPath": f.abs_path, "lineNo": f.lineno, "colNo": f.colno, "inApp": f.in_app,
                        "context": _context(f), "vars": f.vars or None,
                    }
                    for f in ex.frames
                ]} if ex.frames else None,
            }
            for ex in event.exceptions
        ], "hasSystemFrames": any(f.in_app is False for ex in event.exceptions for f in ex.frames)}})
    if event.message:
        entries.append({"type": "message", "data": {"formatted": event.message}})
    if event.breadcrumbs:
        entries.append({"type": "breadcrumbs", "data": {"values": event.breadcrumbs}})
    if event.request:
        entries.append({"type": "request", "data": event.request})
    return entries


def _context(frame: Any) -> list[list[Any]]:
    if frame.lineno is None or frame.context_line is None:
        return []
    start = frame.lineno - len(frame.pre_context)
    lines = [*frame.pre_context, frame.context_line, *frame.post_context]
    return [[start + i, line] for i, line in enumerate(lines)]


def event_detail(event: NormalizedEvent, group_id: int, previous: str | None = None,
                 next_: str | None = None) -> dict[str, Any]:
    sdk = event.sdk or {}
    return {
        **event_summary(event, group_id),
        "type": event.type,
        "dist": event.dist,
        "userReport": None,
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
        "sdk": {"name": str(sdk.get("name", "")), "version": str(sdk.get("version", ""))} if sdk else None,
        "_meta": {"user": None, "context": None, "entries": {}, "contexts": None, "message": None,
                  "packages": None, "tags": {}, "sdk": None},
        "contexts": event.contexts,
        "fingerprints": event.fingerprint,
        "context": event.extra,
        "release": None,
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
          stats: dict[int, int] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """An issue as in issue lists (and the base of issue details)."""
    return {
        "id": str(group.id),
        "shortId": short_id(project.slug, group.short_number),
        "title": group.title,
        "culprit": group.culprit,
        "permalink": f"{public_url}/organizations/{org.slug}/issues/{group.id}/",
        "logger": group.logger or None,
        "level": group.level,
        "status": group.status,
        "statusDetails": {},
        "substatus": group.substatus or None,
        "isPublic": False,
        "platform": group.platform,
        "project": _project_ref(project),
        "type": group.type,
        "metadata": group.metadata,
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "isSubscribed": False,
        "subscriptionDetails": None,
        "hasSeen": False,
        "annotations": [],
        "shareId": None,
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


def issue_detail(group: Group, project: Project, org: Organization, public_url: str,
                 stats: dict[int, int], tags: list[dict[str, Any]], user_reports: int,
                 now: datetime | None = None) -> dict[str, Any]:
    base = issue(group, project, org, public_url, stats, now)
    days = hourly_series(stats, now, 24 * 30)
    daily: dict[int, int] = {}
    for t, c in days:
        day = t - t % 86400
        daily[day] = daily.get(day, 0) + c
    return {
        **base,
        "stats": {"24h": base["stats"]["24h"], "30d": [[d, c] for d, c in sorted(daily.items())][-30:]},
        "activity": [{"id": "0", "type": "first_seen", "data": {}, "dateCreated": iso(group.first_seen), "user": None}],
        "firstRelease": None,
        "lastRelease": None,
        "participants": [],
        "pluginActions": [],
        "pluginContexts": [],
        "pluginIssues": [],
        "seenBy": [],
        "tags": tags,
        "userReportCount": user_reports,
    }


def feedback_item(row: tuple[Any, ...]) -> dict[str, Any]:
    feedback_id, event_id, name, email, comments, created = row
    return {
        "id": feedback_id,
        "eventID": event_id,
        "event": {"eventID": event_id, "id": event_id or None},
        "name": name,
        "email": email,
        "comments": comments,
        "dateCreated": iso(created),
        "issue": None,
        "user": None,
    }


def since(stats_period: str) -> timedelta | None:
    """Sentry's `statsPeriod` ("24h", "14d", "30m", "2w") as a duration; None if malformed."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if len(stats_period) < 2 or stats_period[-1] not in units or not stats_period[:-1].isdigit():
        return None
    return timedelta(seconds=int(stats_period[:-1]) * units[stats_period[-1]])
