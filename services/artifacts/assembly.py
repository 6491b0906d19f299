"""Assembling an upload whose chunks are all there: the whole checked against its checksum, then
opened as an artifact bundle or as debug information files, and each file a bundle holds (each
debug file a zip holds) kept as a file of its own, so that lookups never open the archive again.
Synchronous I/O on the blob store and a scratch directory: the assembler runs it in a thread.
"""

from __future__ import annotations

import io
import tempfile
from datetime import datetime
from pathlib import Path

from picket.artifacts import bundles, difs, zips
from picket.blobs import files
from picket.blobs.store import BlobStore
from picket.ids import new_id
from picket.schemas.artifacts import (
    ArtifactBundle,
    AssembleBundle,
    AssembleDebugFile,
    BundleFile,
    DebugFile,
    FileRef,
)

# The largest upload assembled (what chunk-upload advertises as maxFileSize).
MAX_FILE_SIZE = 2 * 1024 * 1024 * 1024


class AssemblyFailed(Exception):
    """The upload cannot be assembled; `detail` is shown to the client (state `error`)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _whole(blobs: BlobStore, chunks: tuple[str, ...], checksum: str, dest: io.BufferedRandom) -> FileRef:
    try:
        return files.assemble(blobs, chunks, checksum, dest, max_size=MAX_FILE_SIZE)
    except files.MissingChunks:
        raise AssemblyFailed("Not all chunks available for assembling") from None
    except files.ChecksumMismatch:
        raise AssemblyFailed("Reported checksum mismatch") from None
    except files.BadChunk:
        raise AssemblyFailed("A chunk does not match its checksum") from None
    except files.FileTooLarge:
        raise AssemblyFailed(f"File exceeds maximum size ({MAX_FILE_SIZE} bytes)") from None


def assemble_bundle(blobs: BlobStore, job: AssembleBundle, workdir: Path, now: datetime) -> ArtifactBundle:
    with tempfile.TemporaryFile(dir=workdir) as tmp:
        whole = _whole(blobs, job.chunks, job.checksum, tmp)
        tmp.seek(0)
        try:
            with zips.open_zip(tmp) as zf:
                opened = bundles.open_bundle(zf)
                kept = []
                for f in opened.files:
                    data = bundles.read_file(zf, f)
                    ref = files.write_file(blobs, io.BytesIO(data), max_size=MAX_FILE_SIZE)
                    kept.append(BundleFile(path=f.path, type=f.type or "", url=f.url, debug_id=f.debug_id,
                                           headers=dict(f.headers), file=ref))
        except zips.BadArchive as exc:
            raise AssemblyFailed(f"Invalid bundle: {exc}") from None
    return ArtifactBundle(
        id=new_id(), org_id=job.org_id, checksum=job.checksum, project_ids=tuple(sorted(set(job.project_ids))),
        # the request names the release as Sentry's does; the manifest's is a fallback
        release=job.release or opened.release, dist=job.dist or opened.dist, debug_id=opened.debug_id,
        files=tuple(kept), file=whole, date_created=now,
    )


def assemble_debug_files(blobs: BlobStore, job: AssembleDebugFile, workdir: Path,
                         now: datetime) -> tuple[DebugFile, ...]:
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        path = Path(scratch) / "upload"
        with open(path, "w+b") as out:
            whole = _whole(blobs, job.chunks, job.checksum, out)  # type: ignore[arg-type]
        try:
            found = difs.inspect_upload(path, job.name, Path(scratch))
        except difs.BadDebugFile as exc:
            raise AssemblyFailed(str(exc)) from None
        kept = []
        for member, obj in found:
            ref = whole
            if member != path:  # one of several in a zip: a file of its own
                with open(member, "rb") as src:
                    ref = files.write_file(blobs, src, max_size=MAX_FILE_SIZE)
            kept.append(DebugFile(
                id=new_id(), org_id=job.org_id, project_id=job.project_id, debug_id=obj.debug_id,
                code_id=obj.code_id, cpu_name=obj.cpu_name, object_name=obj.object_name,
                file_format=obj.file_format, kind=obj.kind, features=tuple(obj.features), file=ref,
                date_created=now))
    return tuple(kept)
