"""Reads of events and issues (groups) from ClickHouse. Parameters are bound, never interpolated.

An issue's counters are aggregates over its stored events (each event id counted once), so
they are right however often an event was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from picket.schemas.ingest import NormalizedEvent
from picket.store.client import Store
from picket.store.rollup import horizon
from picket.store.rollups import GROUPS

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
    # {hour start (epoch seconds): events} from `series_from` on, when `groups` was asked for it
    hourly: dict[int, int] = field(default_factory=dict)


# Each issue's status now: an ignore whose time is up reads unresolved (the next event makes it so
# in the state too). `%(filter)s` narrows the rows read.
_STATUS = """
SELECT group_id, if(stored = 'ignored' AND until > toDateTime64(0, 3, 'UTC') AND until <= now64(3), 'unresolved',
                    if(stored = '', 'unresolved', stored)) AS status,
       if(status != stored, 'ongoing', stored_substatus) AS substatus, status_details, assignee, share_id
FROM (
    SELECT group_id, argMax(status, version) AS stored, argMax(substatus, version) AS stored_substatus,
           argMax(status_details, version) AS status_details, argMax(ignore_until, version) AS until,
           argMax(assignee, version) AS assignee, argMax(share_id, version) AS share_id
    FROM {db}.group_status WHERE project_id IN {projects:Array(UInt64)} %(filter)s GROUP BY group_id
)"""

# The issues that match, newest first: from when each was seen (by environment) and its status,
# never from its events: every issue's status read (`_MATCHING`), or first only the newest issues
# seen, whatever their status (`_CANDIDATES`, see `_newest_matching`).
_SEEN = """
SELECT group_id, min(first_seen) AS first, max(last_seen) AS last FROM {db}.group_seen
WHERE project_id IN {projects:Array(UInt64)} %(seen_filter)s
GROUP BY group_id %(having)s"""
_MATCHING = """
SELECT seen.group_id, seen.first, seen.last
FROM (%(seen)s) AS seen
WHERE seen.group_id IN (SELECT group_id FROM (%(status)s) WHERE status NOT IN ('merged', 'deleted') %(status_filter)s)
%(group_filter)s
ORDER BY seen.last DESC, seen.group_id DESC
%(limit)s"""
_CANDIDATES = """
SELECT seen.group_id, seen.first, seen.last FROM (%(seen)s) AS seen
WHERE 1 %(group_filter)s
ORDER BY seen.last DESC, seen.group_id DESC
LIMIT {candidates:UInt64}"""
# How many of the newest issues a page looks among first, per issue it shows: most of a project's
# recent issues are in the status a list asks for (unresolved), so one look mostly suffices.
CANDIDATES_PER_ROW = 4
MIN_CANDIDATES = 100

_GROUP_ROWS = """
SELECT group_id, project_id, short_number, type, title, culprit, level, logger, platform, metadata, first_release
FROM {db}.groups FINAL PREWHERE project_id IN {projects:Array(UInt64)} AND group_id IN {ids:Array(UInt64)}"""

# Counters of issues `ids` over sealed hours from the rollup and the rest from recent events.
# `{first_full}`: the first whole hour of the period (the period's start when it has none).
# `%(users)s` and `%(user_states)s` are the users' merge and states, or zeros when not wanted
# (merging exact user sets is most of the query's cost); `%(series)s` more aggregates. PREWHERE on
# key columns only (every version of a row shares them, so FINAL still sees them all): the other
# issues' rows of a granule are dropped before their user sets are read. Not on `error_events`,
# whose key has no issue (a moved event's copies differ in it).
_COUNTS = """
SELECT group_id, %(key)s, sum(c), %(users)s %(series)s FROM (
    SELECT group_id, hour, times_seen AS c, %(user_states)s AS u FROM {db}.group_hourly FINAL
    PREWHERE project_id IN {projects:Array(UInt64)} AND group_id IN {ids:Array(UInt64)}
    WHERE hour < {horizon:DateTime('UTC')} AND hour >= {first_full:DateTime('UTC')} %(env)s
    UNION ALL
    SELECT group_id, toStartOfHour(timestamp) AS hour, count() AS c, %(recent_user_states)s AS u
    FROM {db}.%(recent)s FINAL
    %(recent_by_issue)s project_id IN {projects:Array(UInt64)} AND group_id IN {ids:Array(UInt64)}
    %(recent_then)s timestamp >= {since:DateTime64(3, 'UTC')}
      AND (timestamp >= {horizon:DateTime('UTC')} OR timestamp < {first_full:DateTime('UTC')}) %(env)s
    GROUP BY group_id, hour
) GROUP BY group_id, %(key)s"""

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Recent events are kept two days: hours not sealed within this are read from all events.
RECENT_SPAN = timedelta(hours=36)


def groups(store: Store, project_ids: list[int], *, group_ids: list[int] | None = None,
           short_number: int | None = None, statuses: list[str] | None = None,
           since: datetime | None = None, text: str | None = None, environments: list[str] | None = None,
           limit: int | None = None, offset: int = 0, series_from: datetime | None = None) -> list[Group]:
    """Issues, most recently seen first (`limit` from `offset`): those seen since `since`, in
    `environments` when given, with their counters over that period and those environments, and
    with `series_from` (an hour start within the period) their events per hour from it on."""
    params: dict[str, Any] = {"projects": project_ids}
    seen_filter = group_filter = status_filter = having = limit_sql = ""
    status_rows = ""
    if group_ids is not None:
        seen_filter += " AND group_id IN {groups:Array(UInt64)}"
        status_rows = " AND group_id IN {groups:Array(UInt64)}"
        params["groups"] = group_ids
    if environments:
        seen_filter += " AND environment IN {envs:Array(String)}"
        params["envs"] = environments
    if since is not None:
        having = "HAVING last >= {since:DateTime64(3, 'UTC')}"
        params["since"] = since
    if statuses:
        status_filter = " AND status IN {statuses:Array(String)}"
        params["statuses"] = statuses
    if short_number is not None or text:
        conditions = []
        if short_number is not None:
            conditions.append("short_number = {number:UInt64}")
            params["number"] = short_number
        if text:
            conditions.append("(positionCaseInsensitiveUTF8(title, {text:String}) > 0"
                              " OR positionCaseInsensitiveUTF8(culprit, {text:String}) > 0)")
            params["text"] = text
        group_filter = ("AND seen.group_id IN (SELECT group_id FROM {db}.groups WHERE project_id IN"
                        " {projects:Array(UInt64)} AND " + " AND ".join(conditions) + ")")
    if limit is not None:
        limit_sql = "LIMIT {limit:UInt64} OFFSET {offset:UInt64}"
        params |= {"limit": limit, "offset": offset}
    seen = _SEEN % {"seen_filter": seen_filter, "having": having}
    found = _newest_matching(store, seen, group_filter, params, statuses, limit, offset) \
        if limit is not None and group_ids is None else None
    if found is None:
        status = _STATUS % {"filter": status_rows}
        matching = store.query(_MATCHING % {"seen": seen, "status": status, "status_filter": status_filter,
                                            "group_filter": group_filter, "limit": limit_sql}, params)
        status_of: dict[int, tuple[Any, ...]] = {}
    else:
        matching, status_of = found
    if not matching:
        return []
    ids = [r[0] for r in matching]
    ids_params = {"projects": project_ids, "ids": ids}
    if any(i not in status_of for i in ids):
        status_of = {r[0]: r for r in store.query(_STATUS % {"filter": " AND group_id IN {ids:Array(UInt64)}"},
                                                  ids_params)}
    details = {r[0]: r for r in store.query(_GROUP_ROWS, ids_params)}
    counts = counters(store, project_ids, ids, since, environments, series_from)
    out = []
    for group_id, first, last in matching:
        g = details.get(group_id)
        if g is None:  # its events and status arrived before its row (a moment, at most)
            continue
        r = g + status_of.get(group_id, (group_id, "", "", "", "", ""))[1:]
        count, users, hourly = counts.get(group_id, (0, 0, {}))
        out.append(Group(
            id=r[0], project_id=r[1], short_number=r[2], type=r[3], title=r[4], culprit=r[5], level=r[6],
            logger=r[7], platform=r[8], metadata=msgspec.json.decode(r[9]) if r[9] else {}, first_release=r[10],
            status=r[11] or "unresolved", substatus=r[12] or "", count=count, user_count=users,
            first_seen=first, last_seen=last, status_details=msgspec.json.decode(r[13]) if r[13] else {},
            assignee=r[14] or "", share_id=r[15] or "", hourly=hourly))
    return out


def _newest_matching(store: Store, seen: str, group_filter: str, params: dict[str, Any],
                     statuses: list[str] | None, limit: int,
                     offset: int) -> tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]]] | None:
    """The page among the newest issues seen (CANDIDATES_PER_ROW per row of the page and those
    before it), with their status rows (`_STATUS`), read for those only; None when they hold
    fewer matches than the page needs and older issues exist (the caller then reads every
    status)."""
    wanted = offset + limit
    count = max(MIN_CANDIDATES, CANDIDATES_PER_ROW * wanted)
    candidates = store.query(_CANDIDATES % {"seen": seen, "group_filter": group_filter},
                             params | {"candidates": count})
    if not candidates:
        return [], {}
    status_of = {r[0]: r for r in store.query(
        _STATUS % {"filter": " AND group_id IN {candidate_ids:Array(UInt64)}"},
        {"projects": params["projects"], "candidate_ids": [r[0] for r in candidates]})}
    kept = [r for r in candidates if r[0] in status_of and status_of[r[0]][1] not in ("merged", "deleted")
            and (not statuses or status_of[r[0]][1] in statuses)]
    if len(kept) < wanted and len(candidates) == count:
        return None
    return kept[offset:wanted], status_of


def _counts_sql(store: Store, project_ids: list[int], ids: list[int], since: datetime | None,
                environments: list[str] | None, key: str, *, users: bool = True,
                series: str = "") -> tuple[str, dict[str, Any]]:
    now = datetime.now(timezone.utc)
    top = horizon(store, GROUPS)
    since = utc(since) if since is not None else EPOCH
    # The first hour of the period whole when recent events hold its start, else the hour it
    # starts in (a period reaching past two days starts at the hour).
    floor = since.replace(minute=0, second=0, microsecond=0)
    first_full = floor + timedelta(hours=1) if since != floor and since >= now - RECENT_SPAN else floor
    # Unsealed hours beyond what recent events hold (a sealer far behind, before its first pass):
    # read from all events.
    recent = "events_recent" if top >= now - RECENT_SPAN else "error_events"
    params: dict[str, Any] = {"projects": project_ids, "ids": ids, "since": since, "first_full": first_full,
                              "horizon": top}
    env = ""
    if environments:
        env = " AND environment IN {envs:Array(String)}"
        params["envs"] = environments
    counted = {"users": "uniqExactMerge(u)", "user_states": "users",
               "recent_user_states": "uniqExactStateIf(user_tag, user_tag != '')"} if users else \
        {"users": "toUInt64(0)", "user_states": "toUInt8(0)", "recent_user_states": "toUInt8(0)"}
    by_issue = {"recent_by_issue": "PREWHERE", "recent_then": "WHERE"} if recent == "events_recent" else \
        {"recent_by_issue": "WHERE", "recent_then": "AND"}
    return _COUNTS % {"key": key, "env": env, "recent": recent, "series": series, **counted, **by_issue}, params


def counters(store: Store, project_ids: list[int], ids: list[int], since: datetime | None = None,
             environments: list[str] | None = None,
             series_from: datetime | None = None) -> dict[int, tuple[int, int, dict[int, int]]]:
    """group id → (events, users, {hour: events}) since `since` (all time without), in
    `environments`; the hours from `series_from` on (an hour start within the period: none
    without), read in the same pass."""
    series = ""
    params_extra: dict[str, Any] = {}
    if series_from is not None:
        if since is not None and utc(since) > utc(series_from):
            raise ValueError("the hourly series must start within the period")
        series = ", sumMapIf([toUnixTimestamp(hour)], [toUInt64(c)], hour >= {series_from:DateTime('UTC')})"
        params_extra["series_from"] = utc(series_from).replace(tzinfo=None)
    sql, params = _counts_sql(store, project_ids, ids, since, environments, "toUInt8(0)", series=series)
    out = {}
    for row in store.query(sql, params | params_extra):
        hours = dict(zip(*row[4])) if series else {}
        out[row[0]] = (row[2], row[3], hours)
    return out


def group_project(store: Store, group_id: int) -> int | None:
    rows = store.query("SELECT project_id FROM {db}.groups WHERE group_id = {g:UInt64} LIMIT 1", {"g": group_id})
    return rows[0][0] if rows else None


def hourly_counts(store: Store, project_ids: list[int], group_ids: list[int], since: datetime) -> dict[int, dict[int, int]]:
    """group id → {hour start (epoch seconds) → events} since `since`."""
    sql, params = _counts_sql(store, project_ids, group_ids, since, None, "toUnixTimestamp(hour)", users=False)
    out: dict[int, dict[int, int]] = {}
    for group_id, hour, count, _ in store.query(sql, params):
        out.setdefault(group_id, {})[hour] = count
    return out


@dataclass(frozen=True)
class StoredEvent:
    event: NormalizedEvent
    group_id: int


@dataclass(frozen=True)
class Condition:
    """More of a WHERE clause over `error_events` (`picket.discover.conditions`), its parameters bound
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
        f"SELECT body, group_id FROM {{db}}.error_events FINAL WHERE {where}"
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
        f"SELECT event_id FROM {{db}}.error_events FINAL WHERE {scope} AND (timestamp, event_id) <"
        " ({ts:DateTime64(3, 'UTC')}, {id:String}) ORDER BY timestamp DESC, event_id DESC LIMIT 1", params)
    nxt = store.query(
        f"SELECT event_id FROM {{db}}.error_events FINAL WHERE {scope} AND (timestamp, event_id) >"
        " ({ts:DateTime64(3, 'UTC')}, {id:String}) ORDER BY timestamp ASC, event_id ASC LIMIT 1", params)
    return (prev[0][0] if prev else None, nxt[0][0] if nxt else None)


def hashes(store: Store, project_id: int, group_id: int) -> list[tuple[str, StoredEvent | None]]:
    """The grouping hashes of an issue, each with its latest event (None if it has none stored)."""
    rows = store.query(
        "SELECT h.hash, e.body FROM (SELECT hash FROM {db}.group_hashes FINAL"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}) AS h"
        " LEFT JOIN (SELECT hash, argMax(body, (timestamp, event_id)) AS body FROM {db}.error_events FINAL"
        " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64} GROUP BY hash) AS e ON e.hash = h.hash"
        " ORDER BY h.hash",
        {"p": project_id, "g": group_id},
    )
    return [(h, StoredEvent(_event.decode(body), group_id) if body else None) for h, body in rows]


def users(store: Store, project_id: int) -> list[tuple[str, str, datetime]]:
    """(user tag, email, first seen) of every user seen in the project's events."""
    return store.query(
        "SELECT user_tag, any(user_email), min(timestamp) FROM {db}.error_events FINAL"
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
        " LEFT JOIN (SELECT event_id, any(group_id) AS group_id FROM {db}.error_events FINAL"
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
        "SELECT key, value, count() AS c FROM {db}.error_events FINAL"
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
        " FROM {db}.error_events FINAL ARRAY JOIN tags_key AS key, tags_value AS value"
        f" WHERE {where} GROUP BY value ORDER BY {TAG_VALUE_ORDERS[order]}, value"
        " LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        params,
    )
    return [TagValue(value, count, utc(first), utc(last)) for value, count, first, last in rows]


def tag_totals(store: Store, project_id: int, group_id: int, key: str) -> tuple[int, int]:
    """(events with tag `key`, distinct values) in issue `group_id`."""
    rows = store.query(
        "SELECT count(), uniqExact(value) FROM {db}.error_events FINAL ARRAY JOIN tags_key AS key, tags_value AS value"
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
        " FROM {db}.error_events FINAL WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}"
        " AND received > {since:DateTime64(3, 'UTC')}", params)
    users = store.query(
        "SELECT user_tag, max(received) FROM {db}.error_events FINAL WHERE project_id = {p:UInt64}"
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
    """Each issue's release of its latest event that has one (kept by a view of the events)."""
    rows = store.query(
        "SELECT group_id, argMaxMerge(last_release) FROM {db}.group_last_release WHERE project_id = {p:UInt64}"
        " AND group_id IN {g:Array(UInt64)} GROUP BY group_id",
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
        " SELECT event_id FROM {db}.error_events FINAL WHERE project_id = {p:UInt64} AND group_id = {g:UInt64})",
        {"p": project_id, "g": group_id},
    )
    return rows[0][0] if rows else 0


@dataclass(frozen=True)
class ReleaseSeen:
    """What a project's events say of one of its releases."""

    version: str
    first_event: datetime
    last_event: datetime
    new_groups: int  # issues first seen in it


def release_seen(store: Store, project_id: int, version: str) -> ReleaseSeen | None:
    rows = store.query(
        "SELECT min(timestamp), max(timestamp), count(),"
        " (SELECT count() FROM {db}.groups FINAL WHERE project_id = {p:UInt64} AND first_release = {v:String})"
        " FROM {db}.error_events PREWHERE project_id = {p:UInt64} AND release = {v:String}",
        {"p": project_id, "v": version},
    )
    if not rows or not rows[0][2]:
        return None
    first, last, _, new_groups = rows[0]
    return ReleaseSeen(version, utc(first), utc(last), new_groups)


def resolved_in(store: Store, project_id: int, version: str, next_after: list[str]) -> list[int]:
    """The project's issues resolved in release `version`: in it by name, or in the next release
    when the release current at resolution is one of `next_after` (those `version` follows)."""
    rows = store.query(
        "SELECT group_id FROM {db}.group_status FINAL WHERE project_id = {p:UInt64} AND status = 'resolved'"
        " AND (JSONExtractString(status_details, 'in_release') = {v:String}"
        " OR (JSONExtractBool(status_details, 'in_next_release')"
        " AND JSONExtractString(status_details, 'current_release') IN {after:Array(String)}))"
        " ORDER BY group_id",
        {"p": project_id, "v": version, "after": next_after},
    )
    return [g for (g,) in rows]
