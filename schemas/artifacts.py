"""Artifacts: files kept as content-addressed chunks (`FileRef`), release files, artifact bundles
and debug information files; the commands that make and remove them and the events they cause."""

from __future__ import annotations

from datetime import datetime

import msgspec

from picket.schemas.commands import CommandMeta


class FileRef(msgspec.Struct, kw_only=True, frozen=True):
    """A file kept in the blob store: its SHA-1 and size, and the SHA-1s of its chunks in order
    (each chunk is a blob named by its SHA-1). Commands and events carry this, never the bytes."""

    sha1: str
    size: int
    chunks: tuple[str, ...]


# --- records ---

class ReleaseFile(msgspec.Struct, kw_only=True, frozen=True):
    """A file of a release (legacy source map upload): unique by `name` and `dist` in it."""

    id: int
    org_id: int
    release: str
    name: str
    dist: str | None = None
    headers: dict[str, str] = {}
    file: FileRef
    date_created: datetime


class BundleFile(msgspec.Struct, kw_only=True, frozen=True):
    """One file of an artifact bundle, kept as its own blob so events find it by URL or debug id."""

    path: str
    type: str
    url: str | None = None
    debug_id: str | None = None
    headers: dict[str, str] = {}
    file: FileRef


class ArtifactBundle(msgspec.Struct, kw_only=True, frozen=True):
    """An uploaded bundle of source files and source maps (`sentry-cli sourcemaps upload`),
    named by its checksum within the organization."""

    id: int
    org_id: int
    checksum: str
    project_ids: tuple[int, ...] = ()
    release: str | None = None
    dist: str | None = None
    debug_id: str | None = None
    files: tuple[BundleFile, ...] = ()
    file: FileRef
    date_created: datetime


class DebugFile(msgspec.Struct, kw_only=True, frozen=True):
    """One object of an uploaded debug information file (a fat binary has several)."""

    id: int
    org_id: int
    project_id: int
    debug_id: str
    code_id: str | None = None
    cpu_name: str
    object_name: str
    file_format: str
    kind: str | None = None
    features: tuple[str, ...] = ()
    file: FileRef
    date_created: datetime


# --- assembly jobs (topic artifacts-assembly, internal, key = <org id>:<checksum>) ---

class _Job(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    org_id: int
    checksum: str
    chunks: tuple[str, ...]
    requested_at: datetime
    actor_user_id: int | None = None


class AssembleBundle(_Job, tag="assemble_bundle"):
    project_ids: tuple[int, ...] = ()
    release: str | None = None
    dist: str | None = None


class AssembleDebugFile(_Job, tag="assemble_debug_file"):
    project_id: int
    name: str
    debug_id: str | None = None


AssemblyJob = AssembleBundle | AssembleDebugFile


def assembly_key(job: AssemblyJob) -> str:
    scope = f"dif:{job.project_id}" if isinstance(job, AssembleDebugFile) else "bundle"
    return f"{job.org_id}:{scope}:{job.checksum}"


# --- commands (topic artifacts-commands, internal, key = the aggregate) ---

class _ArtifactCommand(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: CommandMeta
    org_id: int


class CreateReleaseFile(_ArtifactCommand, tag="create_release_file"):
    """Add a file to a release; a file of the same name and dist is a conflict (409)."""

    release_file: ReleaseFile


class UpdateReleaseFile(_ArtifactCommand, tag="update_release_file"):
    """Rename a release file or change its dist (None: unchanged; `clear_dist`: no dist)."""

    release: str
    file_id: int
    name: str | None = None
    dist: str | None = None
    clear_dist: bool = False


class DeleteReleaseFile(_ArtifactCommand, tag="delete_release_file"):
    release: str
    file_id: int


class DeleteReleaseFiles(_ArtifactCommand, tag="delete_release_files"):
    """Delete the files of a release that was deleted: those created up to `before`, the time of
    its deletion (files of a release made again under the same version since then stay). Sent by
    `picket.agents.release_cleanup`, never refused: a release without files is nothing to do."""

    release: str
    before: datetime


class RegisterBundle(_ArtifactCommand, tag="register_bundle"):
    """Keep an assembled bundle; one registered already gains the projects not yet named."""

    bundle: ArtifactBundle


class RegisterDebugFiles(_ArtifactCommand, tag="register_debug_files"):
    """Keep the objects of an assembled debug file; an object the project has already (same
    checksum and debug id) is kept once."""

    project_id: int
    checksum: str
    files: tuple[DebugFile, ...]


class DeleteDebugFiles(_ArtifactCommand, tag="delete_debug_files"):
    project_id: int
    ids: tuple[int, ...]


ArtifactCommand = (CreateReleaseFile | UpdateReleaseFile | DeleteReleaseFile | DeleteReleaseFiles
                   | RegisterBundle | RegisterDebugFiles | DeleteDebugFiles)


def release_files_key(org_id: int, release: str) -> str:
    return f"release-files:{org_id}:{release}"


def bundle_key(org_id: int, checksum: str) -> str:
    return f"bundle:{org_id}:{checksum}"


def debug_files_key(org_id: int, project_id: int) -> str:
    return f"debug-files:{org_id}:{project_id}"


def command_key(command: ArtifactCommand) -> str:
    match command:
        case CreateReleaseFile():
            return release_files_key(command.org_id, command.release_file.release)
        case UpdateReleaseFile() | DeleteReleaseFile() | DeleteReleaseFiles():
            return release_files_key(command.org_id, command.release)
        case RegisterBundle():
            return bundle_key(command.org_id, command.bundle.checksum)
        case _:
            return debug_files_key(command.org_id, command.project_id)


# --- domain events (topic artifacts-events, public, key = the aggregate) ---

class ArtifactEventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str  # unique and stable: `<command id>:<n>`
    aggregate: str
    version: int
    timestamp: datetime
    command_id: str
    reply_to: str | None = None


class _ArtifactEvent(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: ArtifactEventMeta


class ReleaseFileCreated(_ArtifactEvent, tag="release_file_created"):
    release_file: ReleaseFile


class ReleaseFileUpdated(_ArtifactEvent, tag="release_file_updated"):
    release_file: ReleaseFile  # as it is after the change


class ReleaseFileDeleted(_ArtifactEvent, tag="release_file_deleted"):
    release_file: ReleaseFile  # as it was


class BundleRegistered(_ArtifactEvent, tag="bundle_registered"):
    bundle: ArtifactBundle  # as it is after the event (projects added by a later upload)


class DebugFileCreated(_ArtifactEvent, tag="debug_file_created"):
    debug_file: DebugFile
    checksum: str  # of the upload it came from (a zip of several: the zip's)


class DebugFileDeleted(_ArtifactEvent, tag="debug_file_deleted"):
    debug_file: DebugFile  # as it was


ArtifactEvent = (ReleaseFileCreated | ReleaseFileUpdated | ReleaseFileDeleted | BundleRegistered
                 | DebugFileCreated | DebugFileDeleted)
