"""Uploads: the chunk-upload protocol sentry-cli speaks (options, chunks, assembly of artifact
bundles and debug files), release files and debug files (`files/dsyms/`).

Bytes go to the blob store (`picket.blobs`) from here, never through Kafka: a release file or a
dSYM is streamed to disk as it arrives, then cut into chunks; chunks are checked against their
names. What the upload becomes is decided elsewhere: release files by the artifacts context
(a command), bundles and debug files by the assembler (a job), whose verdict the assemble
endpoints and the dSYM upload read back from the store.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from picket.artifacts import assembly, js_processing, ownership, sourcemaps
from picket.artifacts.resolver import StoreArtifacts
from picket.blobs import files
from picket.bus.publisher import PublishFailed
from picket.gateway import render_artifacts
from picket.gateway.access import EVENT_READ, project_access
from picket.gateway.errors import ApiError, bad_request, not_found
from picket.gateway.pagination import page_of, paginate, window
from picket.gateway.publishing import topics_of
from picket.gateway.routes.releases import READ, WRITE
from picket.gateway.runtime import Runtime, path_int, runtime
from picket.gateway.uploads import Form, read_form
from picket.gateway.validation import body
from picket.ids import new_id
from picket.releases.versions import validate_version
from picket.schemas import artifacts as a
from picket.schemas import topics as t
from picket.store import artifacts_read, issues_read, releases_read

# What chunk-upload offers (Sentry's defaults but the concurrency: each request holds one chunk
# in memory at a time, so 4 parallel requests stay within 40 MiB).
CHUNK_SIZE = files.CHUNK_SIZE
CHUNKS_PER_REQUEST = 64
MAX_REQUEST_SIZE = 32 * 1024 * 1024
MAX_FILE_SIZE = assembly.MAX_FILE_SIZE
CONCURRENCY = 4
MAX_WAIT = 60  # seconds sentry-cli waits for an assembly with --wait
MAX_CHUNKS = MAX_FILE_SIZE // CHUNK_SIZE + 1
# An upload that failed to assemble answers `error` this long, then may be tried again.
ERROR_KEPT = timedelta(minutes=10)
# A job sent for an upload is not sent again by this gateway for this long (the client polls).
RESUBMIT_AFTER = 30.0
MAX_ASSEMBLE_ENTRIES = 1000
_SHA1 = re.compile(r"[0-9a-f]{40}")
# Sentry refuses these in release file names and header values.
_SPECIAL_WHITESPACE = re.compile(r"[\n\t\r\f\v\\]")


def _sha1(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA1.fullmatch(value):
        raise bad_request(f"Invalid {what}: expected 40 lowercase hexadecimal characters.")
    return value


def _chunks(values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_CHUNKS:
        raise bad_request(f"Too many chunks: a file has at most {MAX_CHUNKS}.")
    return tuple(_sha1(c, "chunk checksum") for c in values)


# --- chunk upload ---

async def chunk_upload_options(request: Request) -> JSONResponse:
    rt = runtime(request)
    slug = request.path_params["organization_slug"]
    await rt.auth.organization(request, slug, READ)
    return JSONResponse({
        "url": f"/api/0/organizations/{slug}/chunk-upload/",
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxFileSize": MAX_FILE_SIZE,
        "maxRequestSize": MAX_REQUEST_SIZE,
        "maxWait": MAX_WAIT,
        "concurrency": CONCURRENCY,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ["debug_files", "release_files", "pdbs", "portablepdbs", "sources", "bcsymbolmaps",
                   "il2cpp", "artifact_bundles", "artifact_bundles_v2"],
    })


def _inflate(data: bytes) -> bytes:
    """A gzip chunk's bytes, never more than a chunk may hold."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, CHUNK_SIZE + 1)
    except zlib.error as exc:
        raise bad_request(f"A chunk is not valid gzip ({exc}).") from None
    if len(out) > CHUNK_SIZE or inflater.unconsumed_tail:
        raise bad_request(f"A chunk is larger than {CHUNK_SIZE} bytes.")
    return out


async def upload_chunks(request: Request) -> Response:
    """Store the chunks of the request (parts `file`, or `file_gzip` compressed), each named by
    the SHA-1 of its uncompressed bytes; a chunk whose bytes do not match its name is a 400 and
    nothing of the request is kept as the organization's."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    form = await read_form(request, max_body=MAX_REQUEST_SIZE + 1024 * 1024, max_parts=CHUNKS_PER_REQUEST,
                           spool_dir=_spool_dir(rt))
    try:
        parts = [(p, False) for p in form.files("file")] + [(p, True) for p in form.files("file_gzip")]
        stored: list[str] = []
        for part, gzipped in parts:
            name = _sha1(part.filename, "chunk name")
            assert part.file is not None
            raw = part.file.read(MAX_REQUEST_SIZE + 1)
            data = _inflate(raw) if gzipped else raw
            if len(data) > CHUNK_SIZE:
                raise bad_request(f"A chunk is larger than {CHUNK_SIZE} bytes.")
            try:
                files.verify_chunk(name, data)
            except files.BadChunk:
                raise bad_request(f"Checksum mismatch: the chunk named {name} has other bytes.") from None
            await asyncio.to_thread(rt.blobs.put, name, data)
            stored.append(name)
        await asyncio.to_thread(ownership.claim, rt.blobs, access.organization.id, stored)
    finally:
        form.close()
    return Response(status_code=200)


# --- assembly ---

class BundleAssembleBody(msgspec.Struct):
    checksum: str
    chunks: list[str]
    projects: list[str] = []
    version: str | None = None
    dist: str | None = None


class DifAssembleEntry(msgspec.Struct):
    name: str
    chunks: list[str]
    debug_id: str | None = None


_submitted: dict[tuple[int, str, str], float] = {}


async def _submit(rt: Runtime, job: a.AssemblyJob, scope: str) -> str:
    """Send the assembly job (at most once per RESUBMIT_AFTER from this gateway): the state to
    answer."""
    key = (job.org_id, scope, job.checksum)
    now = time.monotonic()
    for stale in [k for k, at in _submitted.items() if now - at > RESUBMIT_AFTER]:
        del _submitted[stale]
    if key in _submitted:
        return "assembling"
    topics = topics_of(rt)
    try:
        await rt.publisher.publish([topics.record(t.ARTIFACTS_ASSEMBLY, job)], rt.settings.reply_timeout, atomic=False)
    except PublishFailed:
        raise ApiError(503, "The command bus is unavailable; try again.", {"Retry-After": "1"}) from None
    _submitted[key] = now
    return "created"


async def _recent_error(rt: Runtime, org_id: int, scope: str, checksum: str) -> str | None:
    status = await rt.read(artifacts_read.assemble_status, org_id, scope, checksum)
    if status is not None and status.state == "error" and status.at >= datetime.now(timezone.utc) - ERROR_KEPT:
        return status.detail
    return None


def _state(state: str, missing: list[str] | None = None, detail: str | None = None, **more: Any) -> dict[str, Any]:
    return {"state": state, "missingChunks": missing or [], "detail": detail, **more}


async def assemble_bundle(request: Request) -> JSONResponse:
    """An artifact bundle uploaded in chunks: `not_found` with the chunks to upload, then
    `created`/`assembling` until the assembler is done, `ok` or `error` with a detail."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    org_id = access.organization.id
    data = await body(request, BundleAssembleBody)
    checksum = _sha1(data.checksum, "checksum")
    chunks = _chunks(data.chunks)
    if data.version is not None and data.version != "" and (problem := validate_version(data.version)):
        raise bad_request(problem)
    if data.dist is not None and len(data.dist) > 64:
        raise bad_request("Invalid dist: at most 64 characters.")
    projects = {p.slug: p.id for p in (await rt.org_records(org_id, "project"))["project"]}
    if not data.projects:
        raise bad_request("You need to specify at least one project")
    if any(slug not in projects for slug in data.projects):
        raise bad_request("One or more projects are invalid")
    project_ids = tuple(sorted({projects[s] for s in data.projects}))
    known = await rt.read(artifacts_read.bundle, org_id, checksum)
    if known is not None and set(project_ids) <= set(known.project_ids):
        return JSONResponse(_state("ok"))
    if (detail := await _recent_error(rt, org_id, "bundle", checksum)) is not None:
        return JSONResponse(_state("error", detail=detail))
    missing = await asyncio.to_thread(ownership.missing, rt.blobs, org_id, chunks)
    if missing:
        return JSONResponse(_state("not_found", missing))
    job = a.AssembleBundle(org_id=org_id, checksum=checksum, chunks=chunks, requested_at=datetime.now(timezone.utc),
                           actor_user_id=access.principal.user.id, project_ids=project_ids,
                           release=data.version or None, dist=data.dist or None)
    return JSONResponse(_state(await _submit(rt, job, "bundle")))


async def assemble_difs(request: Request) -> JSONResponse:
    """Debug files uploaded in chunks, each under its checksum, states as for bundles; `ok`
    carries the debug file made (`dif`)."""
    rt, access, project, _ = await project_access(request, WRITE)
    org_id = access.organization.id
    entries = await body(request, dict[str, DifAssembleEntry])
    if len(entries) > MAX_ASSEMBLE_ENTRIES:
        raise bad_request(f"Too many files: at most {MAX_ASSEMBLE_ENTRIES} per request.")
    scope = f"dif:{project.id}"
    out: dict[str, Any] = {}
    for checksum, entry in entries.items():
        _sha1(checksum, "checksum")
        chunks = _chunks(entry.chunks)
        if not entry.name or len(entry.name) > 1000:
            raise bad_request("Invalid name: 1 to 1000 characters.")
        made = await rt.read(artifacts_read.debug_files_of_upload, org_id, project.id, checksum)
        if made:
            out[checksum] = _state("ok", dif=render_artifacts.debug_file(made[0]))
            continue
        if (detail := await _recent_error(rt, org_id, scope, checksum)) is not None:
            out[checksum] = _state("error", detail=detail)
            continue
        missing = await asyncio.to_thread(ownership.missing, rt.blobs, org_id, chunks)
        if missing:
            out[checksum] = _state("not_found", missing)
            continue
        job = a.AssembleDebugFile(org_id=org_id, checksum=checksum, chunks=chunks,
                                  requested_at=datetime.now(timezone.utc), actor_user_id=access.principal.user.id,
                                  project_id=project.id, name=entry.name, debug_id=entry.debug_id)
        out[checksum] = _state(await _submit(rt, job, scope))
    return JSONResponse(out)


# --- release files ---

def _spool_dir(rt: Runtime) -> Any:
    path = rt.settings.data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _release(request: Request, any_of: tuple[str, ...]) -> tuple[Runtime, Any, str]:
    """(runtime, access, version) of a release path, organization or project level; 404 for a
    release that is not there (or not the project's)."""
    version = request.path_params["version"]
    if "project_slug" in request.path_params:
        rt, access, project, _ = await project_access(request, any_of)
    else:
        rt = runtime(request)
        access = await rt.auth.organization(request, request.path_params["organization_slug"], any_of)
        project = None
    found = await rt.read(releases_read.release, access.organization.id, version)
    if found is None or (project is not None and project.id not in found.project_ids):
        raise not_found()
    return rt, access, found.version


async def list_release_files(request: Request) -> JSONResponse:
    rt, access, version = await _release(request, READ)
    found = await rt.read(artifacts_read.release_files, access.organization.id, version)
    query = request.query_params.get("query", "").lower()
    if query:
        found = [f for f in found if query in f.name.lower()]
    page, link = paginate(request, [render_artifacts.release_file(f) for f in found])
    return JSONResponse(page, headers={"Link": link})


def _headers(form: Form, content_type: str | None) -> dict[str, str]:
    headers: dict[str, str] = {"Content-Type": content_type} if content_type else {}
    for value in form.values("header"):
        key, sep, rest = value.partition(":")
        if not sep or not key.strip():
            raise bad_request("header value was not formatted correctly")
        if _SPECIAL_WHITESPACE.search(rest) or _SPECIAL_WHITESPACE.search(key):
            raise bad_request("header value must not contain special whitespace characters")
        headers[key.strip()] = rest.strip()
    return headers


async def upload_release_file(request: Request) -> JSONResponse:
    """A release file (multipart: `file`, `name`, `dist`, `header` "Key: Value" repeated): 201,
    409 when the release has a file of that name and dist."""
    rt, access, version = await _release(request, WRITE)
    form = await read_form(request, max_body=MAX_FILE_SIZE + 1024 * 1024, spool_dir=_spool_dir(rt))
    try:
        uploaded = form.files("file")
        if not uploaded:
            raise bad_request("Missing uploaded file")
        part = uploaded[0]
        name = form.value("name") or part.filename or ""
        if not name or name == "file":
            raise bad_request("File name must be specified")
        if _SPECIAL_WHITESPACE.search(name) or len(name) > 2000:
            raise bad_request("File name must not contain special whitespace characters")
        dist = form.value("dist") or None
        if dist is not None and (len(dist) > 64 or _SPECIAL_WHITESPACE.search(dist)):
            raise bad_request("Invalid dist: at most 64 characters, no special whitespace.")
        headers = _headers(form, part.content_type)
        assert part.file is not None
        try:
            ref = await asyncio.to_thread(files.write_file, rt.blobs, part.file, max_size=MAX_FILE_SIZE)
        except files.FileTooLarge:
            raise ApiError(413, "Request body too large.") from None
    finally:
        form.close()
    record = a.ReleaseFile(id=new_id(), org_id=access.organization.id, release=version, name=name, dist=dist,
                           headers=headers, file=ref, date_created=datetime.now(timezone.utc))
    await rt.bus.execute(a.CreateReleaseFile(meta=rt.bus.meta(access.principal.user.id),
                                             org_id=access.organization.id, release_file=record))
    return JSONResponse(render_artifacts.release_file(record), status_code=201)


async def _release_file(request: Request, any_of: tuple[str, ...]) -> tuple[Runtime, Any, a.ReleaseFile]:
    rt, access, version = await _release(request, any_of)
    file_id = path_int(request.path_params["file_id"])
    found = None if file_id is None else await rt.read(artifacts_read.release_file, access.organization.id,
                                                        version, file_id)
    if found is None:
        raise not_found()
    return rt, access, found


def _download(rt: Runtime, ref: a.FileRef, filename: str) -> StreamingResponse:
    """The file's bytes as they are read from the blob store, a chunk at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        for sha1 in ref.chunks:
            yield await asyncio.to_thread(rt.blobs.get, sha1)

    safe = re.sub(r'[^A-Za-z0-9._-]', "_", filename.rsplit("/", 1)[-1]) or "file"
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers={
        "Content-Length": str(ref.size), "Content-Disposition": f'attachment; filename="{safe}"'})


async def get_release_file(request: Request) -> Response:
    rt, _, found = await _release_file(request, READ)
    if request.query_params.get("download") in ("1", "true"):
        return _download(rt, found.file, found.name)
    return JSONResponse(render_artifacts.release_file(found))


class ReleaseFileChange(msgspec.Struct):
    name: str | None = None
    dist: str | None | msgspec.UnsetType = msgspec.UNSET  # absent: unchanged; null or "": none


async def update_release_file(request: Request) -> JSONResponse:
    rt, access, found = await _release_file(request, WRITE)
    change = await body(request, ReleaseFileChange)
    if not change.name or not change.name.strip():
        raise bad_request("name: This field is required.")
    if len(change.name) > 200 or _SPECIAL_WHITESPACE.search(change.name):
        raise bad_request("name: at most 200 characters, no special whitespace.")
    dist = found.dist if change.dist is msgspec.UNSET else (change.dist or None)
    if dist is not None and (len(dist) > 64 or _SPECIAL_WHITESPACE.search(dist)):
        raise bad_request("dist: at most 64 characters, no special whitespace.")
    await rt.bus.execute(a.UpdateReleaseFile(
        meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id, release=found.release,
        file_id=found.id, name=change.name, dist=dist, clear_dist=dist is None))
    changed = msgspec.structs.replace(found, name=change.name, dist=dist)
    return JSONResponse(render_artifacts.release_file(changed))


async def delete_release_file(request: Request) -> Response:
    rt, access, found = await _release_file(request, WRITE)
    await rt.bus.execute(a.DeleteReleaseFile(meta=rt.bus.meta(access.principal.user.id),
                                             org_id=access.organization.id, release=found.release, file_id=found.id))
    return Response(status_code=204)


# --- debug files ---

async def list_debug_files(request: Request) -> Response:
    """The project's debug files (`query`: part of a debug id, code id or name); `?id=` downloads
    one, as Sentry's."""
    rt, access, project, _ = await project_access(request, READ)
    org_id = access.organization.id
    wanted = request.query_params.get("id")
    if wanted is not None:
        file_id = path_int(wanted)
        found = [] if file_id is None else await rt.read(artifacts_read.debug_files, org_id, project.id, ids=[file_id])
        if not found:
            raise not_found()
        return _download(rt, found[0].file, found[0].object_name)
    query = request.query_params.get("query", "").strip()[:200]
    debug_ids = [d.lower() for d in request.query_params.getlist("debug_id")][:100]
    w = window(request)
    fetched = await rt.read(artifacts_read.debug_files, org_id, project.id, query=query, debug_ids=debug_ids,
                            offset=w.offset, limit=w.per_page + 1)
    page, link = page_of(request, w, fetched)
    return JSONResponse([render_artifacts.debug_file(f) for f in page], headers={"Link": link})


async def upload_debug_files(request: Request) -> JSONResponse:
    """A debug information file, or a zip of several (multipart `file`): kept, assembled by the
    worker like a chunked upload, answered once done (201 with the files made) or refused (400)."""
    rt, access, project, _ = await project_access(request, WRITE)
    org_id = access.organization.id
    form = await read_form(request, max_body=MAX_FILE_SIZE + 1024 * 1024, spool_dir=_spool_dir(rt))
    try:
        uploaded = form.files("file")
        if not uploaded:
            raise bad_request("Missing uploaded file")
        part = uploaded[0]
        assert part.file is not None
        try:
            ref = await asyncio.to_thread(files.write_file, rt.blobs, part.file, max_size=MAX_FILE_SIZE)
        except files.FileTooLarge:
            raise ApiError(413, "Request body too large.") from None
    finally:
        form.close()
    if not ref.chunks:
        raise bad_request("The uploaded file is empty.")
    scope = f"dif:{project.id}"
    made = await rt.read(artifacts_read.debug_files_of_upload, org_id, project.id, ref.sha1)
    if not made:
        job = a.AssembleDebugFile(org_id=org_id, checksum=ref.sha1, chunks=ref.chunks,
                                  requested_at=datetime.now(timezone.utc), actor_user_id=access.principal.user.id,
                                  project_id=project.id, name=(part.filename or "file").rsplit("/", 1)[-1][:1000])
        _submitted.pop((org_id, scope, ref.sha1), None)
        await _submit(rt, job, scope)
        made = await _await_assembly(rt, org_id, project.id, scope, ref.sha1, job.requested_at)
    return JSONResponse([render_artifacts.debug_file(f) for f in made], status_code=201)


async def _await_assembly(rt: Runtime, org_id: int, project_id: int, scope: str, checksum: str,
                          since: datetime) -> list[a.DebugFile]:
    deadline = time.monotonic() + rt.settings.reply_timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        made = await rt.read(artifacts_read.debug_files_of_upload, org_id, project_id, checksum)
        if made:
            return made
        status = await rt.read(artifacts_read.assemble_status, org_id, scope, checksum)
        if status is not None and status.state == "error" and status.at >= since - timedelta(seconds=1):
            raise bad_request(status.detail)
    raise ApiError(504, "Timed out waiting for the debug file to be processed.")


async def delete_debug_file(request: Request) -> Response:
    rt, access, project, _ = await project_access(request, WRITE)
    file_id = path_int(request.query_params.get("id", ""))
    if file_id is None:
        raise not_found()
    found = await rt.read(artifacts_read.debug_files, access.organization.id, project.id, ids=[file_id])
    if not found:
        raise not_found()
    await rt.bus.execute(a.DeleteDebugFiles(meta=rt.bus.meta(access.principal.user.id), org_id=access.organization.id,
                                            project_id=project.id, ids=(file_id,)))
    return Response(status_code=204)


# --- source map debugging ---

def _index(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        raise bad_request(f"Query parameter '{name}' is required")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise bad_request(f"Query parameter '{name}' must be a non-negative integer")
    return int(raw)


def _explain(rt: Runtime, org_id: int, project_id: int, event: Any, exception_idx: int,
             frame_idx: int) -> list[dict[str, Any]]:
    """Why the frame was not mapped (nothing when it was, or would be now)."""
    exceptions = event.exceptions
    if exception_idx >= len(exceptions):
        raise bad_request("Query parameter 'exception_idx' is out of range")
    ex = exceptions[exception_idx]
    frames = ex.raw_frames or ex.frames
    if frame_idx >= len(frames):
        raise bad_request("Query parameter 'frame_idx' is out of range")
    if ex.raw_frames and ex.frames[frame_idx].data.get("symbolicated"):
        return []
    frame = frames[frame_idx]
    artifacts = StoreArtifacts(rt.store, rt.blobs, org_id, project_id)
    found = js_processing.resolve(artifacts, frame.abs_path, event.release, event.dist,
                                  js_processing.debug_ids_of(event))
    if isinstance(found, js_processing.Resolution):
        if js_processing.map_frame(frame, found) is not None:
            return []  # an artifact uploaded since the event maps it now
        found = sourcemaps.DebugError.of(sourcemaps.UNKNOWN_ERROR, {"absPath": frame.abs_path,
                                                                      "lineno": frame.lineno, "colno": frame.colno})
    return [{"type": found.type, "message": found.message, "data": found.data}]


async def source_map_debug(request: Request) -> JSONResponse:
    """Why a frame of an event's exception was not mapped by a source map, with Sentry's error
    types (`errors` empty when it was)."""
    rt, access, project, _ = await project_access(request, EVENT_READ)
    frame_idx, exception_idx = _index(request, "frame_idx"), _index(request, "exception_idx")
    event_id = request.path_params["event_id"].replace("-", "").lower()
    if not _HEX32.fullmatch(event_id):
        raise not_found()
    found = await rt.read(issues_read.events, [project.id], event_id=event_id, limit=1)
    if not found:
        raise not_found()
    errors = await asyncio.to_thread(_explain, rt, access.organization.id, project.id, found[0].event,
                                     exception_idx, frame_idx)
    return JSONResponse({"errors": errors})


_HEX32 = re.compile(r"[0-9a-f]{32}")
_ORG = "/api/0/organizations/{organization_slug}"
_PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route(f"{_ORG}/chunk-upload/", chunk_upload_options, methods=["GET"]),
    Route(f"{_ORG}/chunk-upload/", upload_chunks, methods=["POST"]),
    Route(f"{_ORG}/artifactbundle/assemble/", assemble_bundle, methods=["POST"]),
    Route(f"{_PROJECT}/files/difs/assemble/", assemble_difs, methods=["POST"]),
    Route(f"{_PROJECT}/files/dsyms/", list_debug_files, methods=["GET"]),
    Route(f"{_PROJECT}/files/dsyms/", upload_debug_files, methods=["POST"]),
    Route(f"{_PROJECT}/files/dsyms/", delete_debug_file, methods=["DELETE"]),
    Route(f"{_PROJECT}/events/{{event_id}}/source-map-debug/", source_map_debug, methods=["GET"]),
    *(Route(f"{base}/releases/{{version}}/files/", list_release_files, methods=["GET"]) for base in (_ORG, _PROJECT)),
    *(Route(f"{base}/releases/{{version}}/files/", upload_release_file, methods=["POST"]) for base in (_ORG, _PROJECT)),
    *(Route(f"{base}/releases/{{version}}/files/{{file_id}}/", get_release_file, methods=["GET"])
      for base in (_ORG, _PROJECT)),
    *(Route(f"{base}/releases/{{version}}/files/{{file_id}}/", update_release_file, methods=["PUT"])
      for base in (_ORG, _PROJECT)),
    *(Route(f"{base}/releases/{{version}}/files/{{file_id}}/", delete_release_file, methods=["DELETE"])
      for base in (_ORG, _PROJECT)),
]
