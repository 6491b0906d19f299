"""Reads of the artifacts projection: release files, artifact bundles and their index, debug
files, and where an upload's assembly stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec

from picket.schemas.artifacts import ArtifactBundle, BundleFile, DebugFile, ReleaseFile
from picket.store.client import Store

_release_file = msgspec.json.Decoder(ReleaseFile)
_bundle = msgspec.json.Decoder(ArtifactBundle)
_bundle_file = msgspec.json.Decoder(BundleFile)
_debug_file = msgspec.json.Decoder(DebugFile)


def release_files(store: Store, org_id: int, release: str) -> list[ReleaseFile]:
    """The release's files, by name."""
    rows = store.query("SELECT body FROM {db}.release_files FINAL WHERE org_id = {o:UInt64}"
                       " AND release = {r:String} AND deleted = 0 ORDER BY name, dist, file_id",
                       {"o": org_id, "r": release})
    return [_release_file.decode(b) for (b,) in rows]


def release_file(store: Store, org_id: int, release: str, file_id: int) -> ReleaseFile | None:
    rows = store.query("SELECT body FROM {db}.release_files FINAL WHERE org_id = {o:UInt64}"
                       " AND release = {r:String} AND file_id = {f:UInt64} AND deleted = 0",
                       {"o": org_id, "r": release, "f": file_id})
    return _release_file.decode(rows[0][0]) if rows else None


def bundle(store: Store, org_id: int, checksum: str) -> ArtifactBundle | None:
    rows = store.query("SELECT body FROM {db}.artifact_bundles FINAL WHERE org_id = {o:UInt64}"
                       " AND checksum = {c:String}", {"o": org_id, "c": checksum})
    return _bundle.decode(rows[0][0]) if rows else None


def debug_files_of_upload(store: Store, org_id: int, project_id: int, checksum: str) -> list[DebugFile]:
    """The debug files an upload (its checksum) made in the project, still there."""
    rows = store.query("SELECT body FROM {db}.debug_files FINAL WHERE org_id = {o:UInt64} AND project_id = {p:UInt64}"
                       " AND checksum = {c:String} AND deleted = 0 ORDER BY file_id",
                       {"o": org_id, "p": project_id, "c": checksum})
    return [_debug_file.decode(b) for (b,) in rows]


def debug_files(store: Store, org_id: int, project_id: int, *, query: str = "", ids: Sequence[int] = (),
                debug_ids: Sequence[str] = (), offset: int = 0, limit: int = 100) -> list[DebugFile]:
    """The project's debug files, newest first; `query`: part of the debug id, code id or object
    name (case-insensitive), `ids`: only those, `debug_ids`: only files of those debug ids."""
    where = ["org_id = {o:UInt64}", "project_id = {p:UInt64}", "deleted = 0"]
    params: dict[str, object] = {"o": org_id, "p": project_id, "n": limit, "off": offset}
    if query:
        where.append("(positionCaseInsensitiveUTF8(debug_id, {q:String}) > 0 OR positionCaseInsensitiveUTF8(code_id,"
                     " {q:String}) > 0 OR positionCaseInsensitiveUTF8(object_name, {q:String}) > 0)")
        params["q"] = query
    if ids:
        where.append("file_id IN {ids:Array(UInt64)}")
        params["ids"] = list(ids)
    if debug_ids:
        where.append("debug_id IN {dids:Array(String)}")
        params["dids"] = list(debug_ids)
    rows = store.query(f"SELECT body FROM {{db}}.debug_files FINAL WHERE {' AND '.join(where)}"
                       " ORDER BY date_created DESC, file_id DESC LIMIT {n:UInt32} OFFSET {off:UInt64}", params)
    return [_debug_file.decode(b) for (b,) in rows]


@dataclass(frozen=True)
class Status:
    state: str
    detail: str
    at: datetime


def assemble_status(store: Store, org_id: int, scope: str, checksum: str) -> Status | None:
    rows = store.query("SELECT argMax(state, at), argMax(detail, at), max(at) FROM {db}.assemble_status"
                       " WHERE org_id = {o:UInt64} AND scope = {s:String} AND checksum = {c:String}"
                       " GROUP BY org_id", {"o": org_id, "s": scope, "c": checksum})
    if not rows:
        return None
    state, detail, at = rows[0]
    return Status(state, detail, at if at.tzinfo else at.replace(tzinfo=timezone.utc))


@dataclass(frozen=True)
class Found:
    """An artifact an event's frame may use: a file of a bundle, or a release file."""

    url: str
    debug_id: str
    type: str  # the bundle file's; "" for a release file
    dist: str
    file: BundleFile | ReleaseFile


def by_debug_ids(store: Store, org_id: int, project_id: int, debug_ids: Sequence[str]) -> list[Found]:
    """Bundle files carrying these debug ids, in bundles of the project (newest bundle first)."""
    if not debug_ids:
        return []
    rows = store.query(
        "SELECT url, debug_id, type, dist, body FROM {db}.artifact_index WHERE org_id = {o:UInt64}"
        " AND debug_id IN {d:Array(String)} AND has(project_ids, {p:UInt64}) ORDER BY date_created DESC LIMIT 1000",
        {"o": org_id, "p": project_id, "d": list(debug_ids)})
    return [Found(u, d, ty, di, _bundle_file.decode(b)) for u, d, ty, di, b in rows]


def by_urls(store: Store, org_id: int, project_id: int, release: str, dist: str | None,
            urls: Sequence[str]) -> list[Found]:
    """Bundle files and release files of the release under these URLs, newest first: of the
    dist given (none: "" ), or of any dist when `dist` is None."""
    if not urls or not release:
        return []
    params = {"o": org_id, "p": project_id, "r": release, "dist": dist or "", "u": list(urls)}
    same_dist = "" if dist is None else " AND dist = {dist:String}"
    bundled = store.query(
        "SELECT url, debug_id, type, dist, body FROM {db}.artifact_index WHERE org_id = {o:UInt64}"
        f" AND release = {{r:String}}{same_dist} AND url IN {{u:Array(String)}} AND has(project_ids, {{p:UInt64}})"
        " ORDER BY date_created DESC LIMIT 1000", params)
    legacy = store.query(
        "SELECT name, dist, body FROM {db}.release_files FINAL WHERE org_id = {o:UInt64} AND release = {r:String}"
        f"{same_dist} AND name IN {{u:Array(String)}} AND deleted = 0 ORDER BY date_created DESC", params)
    return ([Found(u, d, ty, di, _bundle_file.decode(b)) for u, d, ty, di, b in bundled]
            + [Found(n, "", "", di, _release_file.decode(b)) for n, di, b in legacy])
