"""Reads of events and issues (groups) from ClickHouse. Parameters are bound, never interpolated.

An issue's counters are aggregates over its stored events (each event id counted once), so
they are right however often an event was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from picket.schemas.ingest import NormalizedEvent
from picket.store.client import Store

_event = msgspec.json.Decoder(NormalizedEvent)


@dataclass(frozen=True)
class Group:
    id: int
    project_id: int
    short_number: int
    type: str
    title: str
    culprit: str
    level: str
    logger: str
    platform: str
    metadata: dict[str, Any]
    first_release: str
    status: str
    substatus: str
    count: int
    user_count: int
    first_seen: datetime
    last_seen: datetime
    status_details: dict[str, Any] = field(default_factory=dict)
    assignee: str = ""  # "user:<id>", "team:<id>" or ""
    share_id: str = ""


_GROUPS = """
SELECT g.group_id, g.project_id, g.short_number, g.type, g.title, g.culprit, g.level, g.logger, g.platform,
       g.metadata, g.first_release, s.status, s.substatus, e.cnt, e.users, e.first_seen, e.last_seen,
       s.status_details, s.assignee, s.share_id
FROM (SELECT * FROM {db}.groups FINAL WHERE project_id IN {projects:Array(UInt64)} %(group_filter)s) AS g
INNER JOIN (
    SELECT group_id, count() AS cnt, uniqExactIf(user_tag, user_tag != '') AS users,
           min(timestamp) AS first_seen, max(timestamp) AS last_seen
    FROM {db}.events FINAL
    WHERE project_id IN {projects:Array(UInt64)} %(event_filter)s
    GROUP BY group_id
) AS e ON e.group_id = g.group_id
LEFT JOIN (
    -- An ignore whose time is up reads unresolved (the next event makes it so in the state too).
    SELECT group_id, if(stored = 'ignored' AND until > toDateTime64(0, 3, 'UTC') AND until <= now64(3), 'unresolved',
                        if(stored = '', 'unresolved', stored)) AS status,
           if(status != stored, 'ongoing', stored_substatus) AS substatus, status_details, assignee, share_id
    FROM (
        SELECT group_id, argMax(status, version) AS stored, argMax(substatus, version) AS stored_substatus,
               argMax(status_details, version) AS status_details, argMax(ignore_until, version) AS until,
               argMax(assignee, version) AS assignee, argMax(share_id, version) AS share_id
        FROM {db}.group_status WHERE project_id IN {projects:Array(UInt64)} GROUP BY group_id
    )
) AS s ON s.group_id = g.group_id
WHERE s.status NOT IN ('merged', 'deleted') %(status_filter)s
ORDER BY e.last_seen DESC, g.group_id DESC
"""


def groups(store: Store, project_ids: list[int], *, group_ids: list[int] | None = None,
           short_number: int | None = None, statuses: list[str] | None = None,
           since: datetime | None = None, text: str | None = None,
           environments: list[str] | None = None) -> list[Group]:
    """Issues with their counters over their stored events: those since `since`, in
    `environments` when given (an issue without such events is left out)."""
    params: dict[str, Any] = {"projects": project_ids}
    group_filter = ""
    if group_ids is not None:
        group_filter += " AND group_id IN {groups:Array(UInt64)}"
        params["groups"] = group_ids
    if short_number is not None:
        group_filter += " AND short_number = {number:UInt64}"
        params["number"] = short_number
    if text:
        group_filter += " AND (positionCaseInsensitiveUTF8(title, {text:String}) > 0" \
                        " OR positionCaseInsensitiveUTF8(culprit, {text:String}) > 0)"
        params["text"] = text
    event_filter = ""
    if since is not None:
        event_filter = " AND timestamp >= {since:DateTime64(3, 'UTC')}"
        params["since"] = since
    if environments:
        event_filter += " AND environment IN {envs:Array(String)}"
        params["envs"] = environments
    status_filter = ""
    if statuses:
        status_filter = " AND if(s.status = '', 'unresolved', s.status) IN {statuses:Array(String)}"
        params["statuses"] = statuses
    sql = _GROUPS % {"group_filter": group_filter, "event_filter": event_filter, "status_filter": status_filter}
    return [
        Group(id=r[0], project_id=r[1], short_number=r[2], type=r[3], title=r[4], culprit=r[5], level=r[6],
              logger=r[7], platform=r[8], metadata=msgspec.json.decode(r[9]) if r[9] else {},
              first_release=r[10], status=r[11] or "unresolved", substatus=r[12] or "", count=r[13],
              user_count=r[14], first_seen=r[15], last_seen=r[16],
              status_details=msgspec.json.decode(r[17]) if r[17] else {}, assignee=r[18] or "", share_id=r[19] or "")
        for r in store.query(sql, params)
    ]


def group_project(store: Store, group_id: int) -> int | None:
    rows = store.query("SELECT project_id FROM {db}.groups WHERE group_id = {g:UInt64} LIMIT 1", {"g": group_id})
    return rows[0][0] if rows else None


def hourly_counts(store: Store, project_ids: list[int], group_ids: list[int], since: datetime) -> dict[int, dict[int, int]]:
    """group id → {hour start (epoch seconds) → events} since `since`."""
    rows = store.query(
        "SELECT group_id, toUnixTimestamp(toStartOfHour(timestamp)) AS h, count() FROM {db}.events FINAL"
        " WHERE project_id IN {projects:Array(UInt64)} AND group_id IN {groups:Array(UInt64)}"
        " AND timestamp >= {since:DateTime64(3, 'UTC')} GROUP BY group_id, h",
        {"projects": project_ids, "groups": group_ids, "since": since},
    )
    out: dict[int, dict[int, int]] = {}
    for group_id, hour, count in rows:
        out.setdefault(group_id, {})[hour] = count
    return out


@dataclass(frozen=True)
class StoredEvent:
    event: NormalizedEvent
    group_id: int


@dataclass(frozen=True)
class Condition:
    """More of a WHERE clause over `events` (`picket.discover.conditions`), its parameters bound
    under names of their own."""

    sql: str
    params: dict[str, Any]


def events(store: Store, project_ids: list[int], *, event_id: str | None = None, group_id: int | None = None,
           limit: int = 100, offset: int = 0, oldest_first: bool = False,
           condition: Condition | None = None) -> list[StoredEvent]:
    where = "project_id IN {projects:Array(UInt64)}"
    params: dict[str, Any] = {"projects": project_ids, "limit": limit, "offset": offset}
    if condition is not None:
        where += f" AND {condition.sql}"
        params.update(condition.params)
    if event_id is not None:
        where += " AND event_id = {event_id:String}"
        params["event_id"] = event_id
    if group_id is not None:
        where += " AND group_id = {group_id:UInt64}"
        params["group_id"] = group_id
    order = "ASC" if oldest_first else "DESC"
    rows = store.query(
        f"SELECT body, group_id FROM {{db}}.events FINAL WHERE {where}"
        f" ORDER BY timestamp {order}, event_id {order} LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}",
        params,
    )
    return [StoredEvent(_event.decode(body), group_id) for body, group_id in rows]


def neighbours(store: Store, project_id: int, event: NormalizedEvent,
               group_id: int | None = None) -> tuple[str | None, str | None]:
    """(previous, next) event ids of the project, or of its issue `group_id`, around `event`, by
    time."""
    params: dict[str, Any] = {"p": project_id, "ts": event.timestamp, "id": event.event_id}
    scope = "project_id = {p:UInt64}"
    if group_id is not None:
        scope += " AND group_id = {g:UInt64}"
        params["g"] = group_id
    prev = store.query(
        f"SELECT event_id FROM {{db}}.events FINAL WHERE {scope} AND (timestamp, event_id) <"
        " ({ts:DateTime64(3, 'UTC')}, {id:String}) ORDER BY timestamp DESC, event_id DESC LIMIT 1", params)
    nxt = store.query(
        f"SELECT event_id FROM {{db}}.events FINAL WHERE {scope} AND (timestamp, event_id) >"
        " ({ts:DateTime64(3, 'UTC')}, {id:String}) ORDER BY timestamp ASC, event_id ASC LIMIT 1", params)
    return (prev[0][0] if prev else None, nxt[0][0] if nxt else None)


def hashes(store: Store, project_id: int, group_id: int) -> list[tuple[str, StoredEvent | None]]:
    """The grouping hashes of an issue, each with its latest event (None if it has none stored)."""
    rows = store.query(
        "SELECT h.hash, e.body FROM (SELECT hash FROM {db}.group_hashes FINAL"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}) AS h"
        " LEFT JOIN (SELECT hash, argMax(body, (timestamp, event_id)) AS body FROM {db}.events FINAL"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64} GROUP BY hash) AS e ON e.hash = h.hash"
        " ORDER BY h.hash",
        {"p": project_id, "g": group_id},
    )
    return [(h, StoredEvent(_event.decode(body), group_id) if body else None) for h, body in rows]


def users(store: Store, project_id: int) -> list[tuple[str, str, datetime]]:
    """(user tag, email, first seen) of every user seen in the project's events."""
    return store.query(
        "SELECT user_tag, any(user_email), min(timestamp) FROM {db}.events FINAL"
        " WHERE project_id = {p:UInt64} AND user_tag != '' GROUP BY user_tag ORDER BY min(timestamp)",
        {"p": project_id},
    )


@dataclass(frozen=True)
class Feedback:
    id: str
    event_id: str
    name: str
    email: str
    comments: str
    created: datetime
    group_id: int | None  # the issue of its event, once the event is stored


def feedback(store: Store, project_id: int, event_id: str | None = None) -> list[Feedback]:
    """The project's user feedback (about event `event_id` only, when given), newest first."""
    params: dict[str, Any] = {"p": project_id}
    about = ""
    if event_id is not None:
        about = " AND event_id = {e:String}"
        params["e"] = event_id
    rows = store.query(
        "SELECT f.feedback_id, f.event_id, f.name, f.email, f.comments, f.date_created, e.group_id"
        " FROM (SELECT * FROM {db}.feedback FINAL WHERE project_id = {p:UInt64}" + about + ") AS f"
        " LEFT JOIN (SELECT event_id, any(group_id) AS group_id FROM {db}.events FINAL"
        " WHERE project_id = {p:UInt64} AND event_id != ''" + about + " GROUP BY event_id) AS e"
        " ON e.event_id = f.event_id ORDER BY f.date_created DESC",
        params,
    )
    return [Feedback(*r[:5], utc(r[5]), r[6] or None) for r in rows]


def utc(dt: datetime) -> datetime:
    """ClickHouse answers naive datetimes for UTC columns: make them aware."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def group_tags(store: Store, project_id: int, group_id: int, top: int = 9) -> list[dict[str, Any]]:
    """Sentry's tag summary of an issue: each key with its distinct values and most common ones."""
    rows = store.query(
        "SELECT key, value, count() AS c FROM {db}.events FINAL"
        " ARRAY JOIN tags_key AS key, tags_value AS value"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}"
        " GROUP BY key, value ORDER BY key, c DESC, value",
        {"p": project_id, "g": group_id},
    )
    out: dict[str, dict[str, Any]] = {}
    for key, value, count in rows:
        entry = out.setdefault(key, {"key": key, "name": key, "totalValues": 0, "uniqueValues": 0, "topValues": []})
        entry["totalValues"] += count
        entry["uniqueValues"] += 1
        if len(entry["topValues"]) < top:
            entry["topValues"].append({"key": key, "name": value, "value": value, "count": count})
    return list(out.values())


@dataclass(frozen=True)
class TagValue:
    value: str
    count: int
    first_seen: datetime
    last_seen: datetime


TAG_VALUE_ORDERS = {"-last_seen": "last_seen DESC", "-first_seen": "first_seen DESC", "-count": "c DESC"}


def tag_values(store: Store, project_id: int, key: str, *, group_id: int | None = None, contains: str | None = None,
               environments: list[str] | None = None, order: str = "-last_seen", limit: int = 100,
               offset: int = 0) -> list[TagValue]:
    """The values tag `key` took on the project's events (or its issue `group_id`'s), each with how
    many events had it and when first and last; ordered by `order` (a key of TAG_VALUE_ORDERS)."""
    where = "project_id = {p:UInt64} AND key = {k:String}"
    params: dict[str, Any] = {"p": project_id, "k": key, "limit": limit, "offset": offset}
    if group_id is not None:
        where += " AND group_id = {g:UInt64}"
        params["g"] = group_id
    if contains:
        where += " AND positionCaseInsensitiveUTF8(value, {q:String}) > 0"
        params["q"] = contains
    if environments:
        where += " AND environment IN {envs:Array(String)}"
        params["envs"] = environments
    rows = store.query(
        "SELECT value, count() AS c, min(timestamp) AS first_seen, max(timestamp) AS last_seen"
        " FROM {db}.events FINAL ARRAY JOIN tags_key AS key, tags_value AS value"
        f" WHERE {where} GROUP BY value ORDER BY {TAG_VALUE_ORDERS[order]}, value"
        " LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        params,
    )
    return [TagValue(value, count, utc(first), utc(last)) for value, count, first, last in rows]


def tag_totals(store: Store, project_id: int, group_id: int, key: str) -> tuple[int, int]:
    """(events with tag `key`, distinct values) in issue `group_id`."""
    rows = store.query(
        "SELECT count(), uniqExact(value) FROM {db}.events FINAL ARRAY JOIN tags_key AS key, tags_value AS value"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64} AND key = {k:String}",
        {"p": project_id, "g": group_id, "k": key},
    )
    return (rows[0][0], rows[0][1]) if rows else (0, 0)


@dataclass(frozen=True)
class GroupStatus:
    """An issue's stored state: its newest status row."""

    group_id: int
    status: str
    substatus: str
    status_details: bytes
    assignee: str
    share_id: str
    merged_into: int
    version: int
    first_seen: datetime | None


@dataclass(frozen=True)
class SnoozeProgress:
    """What an ignored issue has seen since it was ignored (`since`): its events, the times of
    the latest `recent_n`, its users with the last time each was seen."""

    events: int
    recent: list[datetime]
    users: list[tuple[str, datetime]]


@dataclass(frozen=True)
class ProjectGrouping:
    """What the single writer of a project's issues needs to go on after a restart."""

    hashes: list[tuple[str, int]]  # (grouping hash, group id); group id 0: the issue was deleted
    statuses: list[GroupStatus]
    top_short_number: int  # 0 before the first issue


def project_grouping(store: Store, project_id: int) -> ProjectGrouping:
    hashes = store.query(
        "SELECT hash, group_id FROM {db}.group_hashes FINAL WHERE project_id = {p:UInt64}", {"p": project_id}
    )
    statuses = [GroupStatus(*row) for row in store.query(
        "SELECT s.group_id, s.status, s.substatus, s.status_details, s.assignee, s.share_id, s.merged_into,"
        " s.top_version, g.first_seen FROM ("
        " SELECT group_id, argMax(status, version) AS status, argMax(substatus, version) AS substatus,"
        " argMax(status_details, version) AS status_details, argMax(assignee, version) AS assignee,"
        " argMax(share_id, version) AS share_id, argMax(merged_into, version) AS merged_into,"
        " max(version) AS top_version FROM {db}.group_status WHERE project_id = {p:UInt64} GROUP BY group_id) AS s"
        " LEFT JOIN (SELECT group_id, first_seen FROM {db}.groups FINAL WHERE project_id = {p:UInt64}) AS g"
        " ON g.group_id = s.group_id", {"p": project_id},
    )]
    (top,) = store.query(
        "SELECT max(short_number) FROM {db}.groups WHERE project_id = {p:UInt64}", {"p": project_id}
    )[0]
    return ProjectGrouping([(h, g) for h, g in hashes], statuses, top or 0)


def snooze_progress(store: Store, project_id: int, group_id: int, since: datetime, recent_n: int,
                    user_since: datetime) -> SnoozeProgress:
    """An ignored issue's events after `since`: their count, the times of the latest `recent_n`,
    and its users seen since `user_since` (a user window's start, or `since`)."""
    params = {"p": project_id, "g": group_id, "since": since, "n": max(recent_n, 1), "us": max(since, user_since)}
    (count, recent), = store.query(
        "SELECT count(), arraySort(arraySlice(arrayReverseSort(groupArray(received)), 1, {n:UInt32}))"
        " FROM {db}.events FINAL WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}"
        " AND received > {since:DateTime64(3, 'UTC')}", params)
    users = store.query(
        "SELECT user_tag, max(received) FROM {db}.events FINAL WHERE project_id = {p:UInt64}"
        " AND group_id = {g:UInt64} AND user_tag != '' AND received > {us:DateTime64(3, 'UTC')}"
        " GROUP BY user_tag LIMIT 100000", params)
    return SnoozeProgress(count, list(recent) if recent_n else [], [(u, t) for u, t in users])


def group_redirect(store: Store, group_id: int) -> int | None:
    """The issue an issue was merged into, if it was."""
    rows = store.query(
        "SELECT argMax(merged_into, version) FROM {db}.group_status WHERE group_id = {g:UInt64}", {"g": group_id}
    )
    return rows[0][0] if rows and rows[0][0] else None


def latest_releases(store: Store, project_id: int, group_ids: list[int]) -> dict[int, str]:
    """Each issue's release of its latest event that has one."""
    rows = store.query(
        "SELECT group_id, argMax(release, timestamp) FROM {db}.events FINAL WHERE project_id = {p:UInt64}"
        " AND group_id IN {g:Array(UInt64)} AND release != '' GROUP BY group_id",
        {"p": project_id, "g": group_ids},
    )
    return dict(rows)


FLAGS = ("has_seen", "is_bookmarked", "is_subscribed")


def user_flags(store: Store, project_id: int, group_ids: list[int], user_id: int) -> dict[int, dict[str, bool]]:
    """group id → the flags `user_id` set on it (those never set are absent)."""
    rows = store.query(
        "SELECT group_id, flag, argMax(value, version) FROM {db}.group_user_flags WHERE project_id = {p:UInt64}"
        " AND group_id IN {g:Array(UInt64)} AND user_id = {u:UInt64} GROUP BY group_id, flag",
        {"p": project_id, "g": group_ids, "u": user_id},
    )
    out: dict[int, dict[str, bool]] = {}
    for group_id, flag, value in rows:
        out.setdefault(group_id, {})[flag] = bool(value)
    return out


def flagged_users(store: Store, project_id: int, group_id: int, flag: str) -> list[tuple[int, datetime]]:
    """(user id, when set) of the users whose `flag` is set on the issue, latest first."""
    return [(u, at) for u, at in store.query(
        "SELECT user_id, argMax(at, version) AS at FROM {db}.group_user_flags WHERE project_id = {p:UInt64}"
        " AND group_id = {g:UInt64} AND flag = {f:String} GROUP BY user_id HAVING argMax(value, version) = 1"
        " ORDER BY at DESC LIMIT 100",
        {"p": project_id, "g": group_id, "f": flag},
    )]


@dataclass(frozen=True)
class Activity:
    id: str
    type: str
    user_id: int
    data: dict[str, Any]
    at: datetime


def activity(store: Store, project_id: int, group_id: int, limit: int = 100) -> list[Activity]:
    """The issue's activity, newest first."""
    return [Activity(i, kind, user, msgspec.json.decode(data) if data else {}, at) for i, kind, user, data, at in store.query(
        "SELECT id, type, user_id, data, at FROM {db}.group_activity FINAL WHERE project_id = {p:UInt64}"
        " AND group_id = {g:UInt64} ORDER BY at DESC, id DESC LIMIT {n:UInt32}",
        {"p": project_id, "g": group_id, "n": limit},
    )]


def user_report_count(store: Store, project_id: int, group_id: int) -> int:
    """The user feedback about the issue's events."""
    rows = store.query(
        "SELECT count() FROM {db}.feedback FINAL WHERE project_id = {p:UInt64} AND event_id IN ("
        " SELECT event_id FROM {db}.events FINAL WHERE project_id = {p:UInt64} AND group_id = {g:UInt64})",
        {"p": project_id, "g": group_id},
    )
    return rows[0][0] if rows else 0
