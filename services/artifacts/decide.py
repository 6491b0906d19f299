"""decide(key, state, command) -> Accepted(events) | Rejected(outcome, detail). Pure.

Release files are unique by name and dist within their release (Sentry answers a second upload
409); a deleted release's files go with it, but not those of a release made again since; a
bundle registered again only adds the projects it did not name; a debug file the project
has already (same checksum and debug id) is not added twice.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.artifacts.state import ArtifactState, dif_key, file_named
from picket.decisions import Accepted, Decision, Emitter, Rejected
from picket.schemas.artifacts import (
    ArtifactEventMeta,
    BundleRegistered,
    CreateReleaseFile,
    DebugFileCreated,
    DebugFileDeleted,
    DeleteDebugFiles,
    DeleteReleaseFile,
    DeleteReleaseFiles,
    RegisterBundle,
    RegisterDebugFiles,
    ReleaseFileCreated,
    ReleaseFileDeleted,
    ReleaseFileUpdated,
    UpdateReleaseFile,
)

NOT_FOUND = "The requested resource does not exist"
NAME_TAKEN = "A file matching this name already exists for the given release"


def decide(key: str, state: ArtifactState, command: Any) -> Decision:
    if command.meta.command_id in state.recent_commands:
        return Accepted([], duplicate=True)
    emit = Emitter(command, key, state.version, ArtifactEventMeta, command.meta.issued_at)
    match command:
        case CreateReleaseFile():
            new = command.release_file
            if file_named(state, new.name, new.dist) is not None:
                return Rejected("conflict", NAME_TAKEN)
            emit(ReleaseFileCreated, release_file=new)
        case UpdateReleaseFile():
            found = state.release_files.get(command.file_id)
            if found is None:
                return Rejected("not_found", NOT_FOUND)
            dist = None if command.clear_dist else (command.dist if command.dist is not None else found.dist)
            changed = msgspec.structs.replace(found, name=command.name or found.name, dist=dist)
            other = file_named(state, changed.name, changed.dist)
            if other is not None and other.id != found.id:
                return Rejected("conflict", NAME_TAKEN)
            if changed != found:
                emit(ReleaseFileUpdated, release_file=changed)
        case DeleteReleaseFile():
            found = state.release_files.get(command.file_id)
            if found is None:
                return Rejected("not_found", NOT_FOUND)
            emit(ReleaseFileDeleted, release_file=found)
        case DeleteReleaseFiles():
            for f in sorted(state.release_files.values(), key=lambda f: f.id):
                if f.date_created <= command.before:
                    emit(ReleaseFileDeleted, release_file=f)
        case RegisterBundle():
            bundle = command.bundle
            if state.bundle is not None:
                added = tuple(p for p in bundle.project_ids if p not in state.bundle.project_ids)
                if not added:
                    return Accepted([])
                bundle = msgspec.structs.replace(state.bundle, project_ids=tuple(sorted(
                    (*state.bundle.project_ids, *added))))
            emit(BundleRegistered, bundle=bundle)
        case RegisterDebugFiles():
            seen: set[str] = set()
            for f in command.files:
                k = dif_key(f.file.sha1, f.debug_id)
                if k not in state.debug_file_keys and k not in seen:
                    seen.add(k)
                    emit(DebugFileCreated, debug_file=f, checksum=command.checksum)
        case DeleteDebugFiles():
            found = [state.debug_files[i] for i in dict.fromkeys(command.ids) if i in state.debug_files]
            if not found:
                return Rejected("not_found", NOT_FOUND)
            for f in found:
                emit(DebugFileDeleted, debug_file=f)
        case _:
            return Rejected("invalid", f"{type(command).__name__} does not apply to artifacts.")
    return emit.done()
