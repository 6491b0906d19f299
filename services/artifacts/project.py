"""project(event) -> rows of the artifact tables, by table. Pure.

- `release_files`, `debug_files`: the record after each event (ReplacingMergeTree on the
  aggregate version); a deleted one keeps a row with `deleted` = 1.
- `artifact_bundles` and `artifact_index` (each file of a bundle, by release/dist/URL and by
  debug id): what source map processing looks up.
- `blob_refs`: which record holds which chunks; `blob_gc`: the chunks of deleted records, which
  the sweeper (`picket.agents.blob_sweeper`) removes once no record holds them.
- `assemble_status`: an assembled upload is `ok` once its records are projected.
Projecting an event twice writes the same rows.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas.artifacts import (
    ArtifactBundle,
    BundleRegistered,
    DebugFile,
    DebugFileCreated,
    DebugFileDeleted,
    FileRef,
    ReleaseFile,
    ReleaseFileDeleted,
)
from picket.schemas.rows import (
    ArtifactBundleRow,
    ArtifactIndexRow,
    AssembleStatusRow,
    BlobGcRow,
    BlobRefRow,
    DebugFileRow,
    ReleaseFileRow,
)

_json = msgspec.json.Encoder()

# In the order they are written: a bundle is listed (and an upload `ok`) only once what finds
# its files is there, and chunks are held (blob_refs) before anything says the record exists.
COLUMNS: dict[str, tuple[str, ...]] = {
    "blob_refs": BlobRefRow._fields,
    "blob_gc": BlobGcRow._fields,
    "artifact_index": ArtifactIndexRow._fields,
    "artifact_bundles": ArtifactBundleRow._fields,
    "release_files": ReleaseFileRow._fields,
    "debug_files": DebugFileRow._fields,
    "assemble_status": AssembleStatusRow._fields,
}

Rows = dict[str, list[tuple[Any, ...]]]


def _refs(record: str, files: list[FileRef], deleted: bool, at: Any) -> Rows:
    chunks = sorted({c for f in files for c in f.chunks})
    rows: Rows = {"blob_refs": [BlobRefRow(sha1=c, record=record, deleted=int(deleted), at=at) for c in chunks]}
    if deleted:
        rows["blob_gc"] = [BlobGcRow(sha1=c, at=at) for c in chunks]
    return rows


def _release_file(event: Any, f: ReleaseFile, deleted: bool) -> Rows:
    return {
        "release_files": [ReleaseFileRow(
            org_id=f.org_id, release=f.release, file_id=f.id, agg_version=event.meta.version, deleted=int(deleted),
            name=f.name, dist=f.dist or "", sha1=f.file.sha1, size=f.file.size, date_created=f.date_created,
            body=_json.encode(f).decode())],
        **_refs(f"release_file:{f.id}", [f.file], deleted, event.meta.timestamp),
    }


def _bundle(event: Any, b: ArtifactBundle) -> Rows:
    at = event.meta.timestamp
    return {
        "artifact_bundles": [ArtifactBundleRow(
            org_id=b.org_id, checksum=b.checksum, bundle_id=b.id, agg_version=event.meta.version,
            project_ids=list(b.project_ids), release=b.release or "", dist=b.dist or "", date_created=b.date_created,
            body=_json.encode(b).decode())],
        "artifact_index": [ArtifactIndexRow(
            org_id=b.org_id, bundle_id=b.id, checksum=b.checksum, project_ids=list(b.project_ids),
            release=b.release or "", dist=b.dist or "", url=f.url or "", debug_id=f.debug_id or "", type=f.type,
            path=f.path, date_created=b.date_created, body=_json.encode(f).decode()) for f in b.files],
        **_refs(f"bundle:{b.id}", [b.file, *(f.file for f in b.files)], False, at),
        "assemble_status": [AssembleStatusRow(org_id=b.org_id, scope="bundle", checksum=b.checksum, state="ok",
                                              detail="", at=at)],
    }


def _debug_file(event: Any, f: DebugFile, deleted: bool, checksum: str) -> Rows:
    rows: Rows = {
        "debug_files": [DebugFileRow(
            org_id=f.org_id, project_id=f.project_id, file_id=f.id, agg_version=event.meta.version,
            deleted=int(deleted), debug_id=f.debug_id, code_id=f.code_id or "", object_name=f.object_name,
            cpu_name=f.cpu_name, file_format=f.file_format, checksum=checksum, sha1=f.file.sha1, size=f.file.size,
            date_created=f.date_created, body=_json.encode(f).decode())],
        **_refs(f"debug_file:{f.id}", [f.file], deleted, event.meta.timestamp),
    }
    if not deleted:
        rows["assemble_status"] = [AssembleStatusRow(
            org_id=f.org_id, scope=f"dif:{f.project_id}", checksum=checksum, state="ok", detail="",
            at=event.meta.timestamp)]
    return rows


def project(event: Any) -> Rows:
    match event:
        case BundleRegistered():
            return _bundle(event, event.bundle)
        case DebugFileCreated():
            return _debug_file(event, event.debug_file, False, event.checksum)
        case DebugFileDeleted():
            return _debug_file(event, event.debug_file, True, "")
        case _:
            return _release_file(event, event.release_file, isinstance(event, ReleaseFileDeleted))
