"""Reads of the releases projection: releases, their commits and deploys, repositories, and what
the event stream says of releases (`release_seen`, `release_groups`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec

from picket.schemas.releases import Commit, Deploy, Release
from picket.store.client import Store

_release = msgspec.json.Decoder(Release)
_commit = msgspec.json.Decoder(Commit)
_deploy = msgspec.json.Decoder(Deploy)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ReleaseFilter:
    """Which of an organization's releases a list shows: `query` is a case-insensitive part of
    the version (Sentry's), `project_ids` any of the release's projects, `seen_in`: releases with
    events in those (project, environment) pairs' environments."""

    query: str = ""
    status: str | None = "open"  # None: any
    project_ids: tuple[int, ...] = ()
    environments: tuple[str, ...] = ()
    org_project_ids: tuple[int, ...] = ()  # where to look for events of `environments`


def _where(org_id: int, f: ReleaseFilter) -> tuple[str, dict[str, object]]:
    """The WHERE clause (and its bound parameters) of the releases `f` lets through."""
    where = ["org_id = {o:UInt64}", "deleted = 0"]
    params: dict[str, object] = {"o": org_id}
    if f.status is not None:
        where.append("status = {s:String}")
        params["s"] = f.status
    if f.query:
        where.append("positionCaseInsensitiveUTF8(version, {q:String}) > 0")
        params["q"] = f.query
    if f.project_ids:
        where.append("hasAny(project_ids, {ps:Array(UInt64)})")
        params["ps"] = list(f.project_ids)
    if f.environments:
        where.append("version IN (SELECT release FROM {db}.release_seen WHERE project_id IN {ops:Array(UInt64)}"
                     " AND environment IN {envs:Array(String)})")
        params["ops"] = list(f.org_project_ids)
        params["envs"] = list(f.environments)
    return " AND ".join(where), params


def releases(store: Store, org_id: int, f: ReleaseFilter, *, limit: int | None = None,
             offset: int = 0) -> list[Release]:
    """The releases of `f`, newest first; `limit` of them from `offset`, if given."""
    where, params = _where(org_id, f)
    page = ""
    if limit is not None:
        page = " LIMIT {lim:UInt64} OFFSET {off:UInt64}"
        params |= {"lim": limit, "off": offset}
    rows = store.query(f"SELECT body FROM {{db}}.releases FINAL WHERE {where} ORDER BY date_created DESC, version"
                       + page, params)
    return [_release.decode(b) for (b,) in rows]


def versions(store: Store, org_id: int, f: ReleaseFilter) -> list[str]:
    """The versions of the releases of `f`, newest first: what a sort made outside SQL orders,
    without reading every release whole."""
    where, params = _where(org_id, f)
    rows = store.query(f"SELECT version FROM {{db}}.releases FINAL WHERE {where} ORDER BY date_created DESC, version",
                       params)
    return [v for (v,) in rows]


def by_versions(store: Store, org_id: int, versions: Sequence[str]) -> list[Release]:
    """The releases of `versions`, in that order (one deleted meanwhile left out)."""
    if not versions:
        return []
    rows = store.query("SELECT body FROM {db}.releases FINAL WHERE org_id = {o:UInt64} AND version IN {vs:Array(String)}"
                       " AND deleted = 0", {"o": org_id, "vs": list(versions)})
    found = {x.version: x for x in (_release.decode(b) for (b,) in rows)}
    return [found[v] for v in versions if v in found]


def release(store: Store, org_id: int, version: str) -> Release | None:
    rows = store.query("SELECT body FROM {db}.releases FINAL WHERE org_id = {o:UInt64} AND version = {v:String}"
                       " AND deleted = 0", {"o": org_id, "v": version})
    return _release.decode(rows[0][0]) if rows else None


@dataclass(frozen=True)
class Seen:
    """What a project's events say of a release."""

    first_event: datetime | None = None
    last_event: datetime | None = None
    new_groups: int = 0


def seen(store: Store, project_ids: Sequence[int], versions: Sequence[str]) -> dict[tuple[str, int], Seen]:
    """(version, project id) → its first and last event and issues first seen in it."""
    if not project_ids or not versions:
        return {}
    params = {"ps": list(project_ids), "vs": list(versions)}
    times = store.query("SELECT release, project_id, min(first_event), max(last_event) FROM {db}.release_seen"
                        " WHERE project_id IN {ps:Array(UInt64)} AND release IN {vs:Array(String)}"
                        " GROUP BY release, project_id", params)
    groups = store.query("SELECT release, project_id, uniqExactMerge(groups) FROM {db}.release_groups"
                         " WHERE project_id IN {ps:Array(UInt64)} AND release IN {vs:Array(String)}"
                         " GROUP BY release, project_id", params)
    out = {(v, p): Seen(_utc(first), _utc(last)) for v, p, first, last in times}
    for v, p, n in groups:
        out[(v, p)] = Seen(out.get((v, p), Seen()).first_event, out.get((v, p), Seen()).last_event, int(n))
    return out


def commits(store: Store, org_id: int, version: str, commits_version: int) -> list[Commit]:
    """The release's commits (its set `commits_version`), newest first."""
    if not commits_version:
        return []
    rows = store.query("SELECT body FROM {db}.release_commits FINAL WHERE org_id = {o:UInt64} AND version = {v:String}"
                       " AND commits_version = {cv:UInt64} ORDER BY position",
                       {"o": org_id, "v": version, "cv": commits_version})
    return [_commit.decode(b) for (b,) in rows]


def deploys(store: Store, org_id: int, version: str, release_id: int) -> list[Deploy]:
    """The release's deploys, the latest finished first."""
    rows = store.query("SELECT body FROM {db}.deploys FINAL WHERE org_id = {o:UInt64} AND version = {v:String}"
                       " AND release_id = {r:UInt64} ORDER BY date_finished DESC, deploy_id DESC",
                       {"o": org_id, "v": version, "r": release_id})
    return [_deploy.decode(b) for (b,) in rows]


@dataclass(frozen=True)
class Repository:
    id: int
    name: str
    date_created: datetime


def repositories(store: Store, org_id: int) -> list[Repository]:
    rows = store.query("SELECT name, any(repository_id), min(date_created) FROM {db}.repositories"
                       " WHERE org_id = {o:UInt64} GROUP BY name ORDER BY name", {"o": org_id})
    return [Repository(int(i), n, _utc(at)) for n, i, at in rows]


def repository_commits(store: Store, org_id: int, repository: str, offset: int, limit: int) -> list[tuple[Commit, datetime]]:
    """A repository's commits with when each was first named, newest first."""
    rows = store.query("SELECT any(body), min(date_added) AS added FROM {db}.commits"
                       " WHERE org_id = {o:UInt64} AND repository = {r:String} GROUP BY commit_id"
                       " ORDER BY added DESC, commit_id LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
                       {"o": org_id, "r": repository, "limit": limit, "offset": offset})
    return [(_commit.decode(b), _utc(at)) for b, at in rows]


def with_health(store: Store, org_id: int, project_ids: Sequence[int], versions: Sequence[str]) -> set[tuple[str, int]]:
    """(version, project id) of the releases' projects that received sessions of them (the
    rollup holds sealed hours, `sessions` the rest)."""
    if not project_ids or not versions:
        return set()
    params = {"o": org_id, "ps": list(project_ids), "vs": list(versions)}
    where = "org_id = {o:UInt64} AND project_id IN {ps:Array(UInt64)} AND release IN {vs:Array(String)}"
    rows = store.query(f"SELECT DISTINCT release, project_id FROM {{db}}.sessions_hourly WHERE {where}"
                       f" UNION DISTINCT SELECT DISTINCT release, project_id FROM {{db}}.sessions WHERE {where}", params)
    return {(v, int(p)) for v, p in rows}


def has_health_data(store: Store, org_id: int, project_ids: Sequence[int], version: str) -> bool:
    """Whether sessions of the release were received (Sentry keeps such a release)."""
    return bool(with_health(store, org_id, project_ids, [version]))


def has_new_groups(store: Store, project_ids: Sequence[int], version: str) -> bool:
    """Whether issues were first seen in the release (Sentry keeps such a release)."""
    return any(s.new_groups for s in seen(store, project_ids, [version]).values())


def latest_releases(store: Store, org_id: int, project_ids: Sequence[int]) -> dict[int, Release]:
    """Each project's newest release (by creation), as a project's `latestRelease`."""
    if not project_ids:
        return {}
    rows = store.query(
        "SELECT p, argMax(body, (date_created, version)) FROM (SELECT body, date_created, version, project_ids"
        " FROM {db}.releases FINAL WHERE org_id = {o:UInt64} AND deleted = 0 AND hasAny(project_ids, {ps:Array(UInt64)}))"
        " ARRAY JOIN project_ids AS p WHERE p IN {ps:Array(UInt64)} GROUP BY p",
        {"o": org_id, "ps": list(project_ids)})
    return {int(p): _release.decode(b) for p, b in rows}
