"""fold(state, events) -> state. Pure; an event not newer than the state (a re-delivery after a
crash) changes nothing."""

from __future__ import annotations

from typing import Any

import msgspec

from picket.artifacts.state import RECENT_COMMANDS, ArtifactState, dif_key
from picket.schemas.artifacts import (
    BundleRegistered,
    DebugFileCreated,
    DebugFileDeleted,
    ReleaseFileCreated,
    ReleaseFileDeleted,
    ReleaseFileUpdated,
)


def evolve(state: ArtifactState, event: Any) -> ArtifactState:
    if event.meta.version <= state.version:
        return state
    changes: dict[str, Any] = {
        "version": event.meta.version,
        "recent_commands": state.recent_commands.add(event.meta.command_id, RECENT_COMMANDS),
    }
    match event:
        case ReleaseFileCreated() | ReleaseFileUpdated():
            changes["release_files"] = {**state.release_files, event.release_file.id: event.release_file}
        case ReleaseFileDeleted():
            changes["release_files"] = {i: f for i, f in state.release_files.items() if i != event.release_file.id}
        case BundleRegistered():
            changes["bundle"] = event.bundle
        case DebugFileCreated():
            f = event.debug_file
            changes["debug_files"] = {**state.debug_files, f.id: f}
            changes["debug_file_keys"] = {**state.debug_file_keys, dif_key(f.file.sha1, f.debug_id): f.id}
        case DebugFileDeleted():
            f = event.debug_file
            changes["debug_files"] = {i: x for i, x in state.debug_files.items() if i != f.id}
            changes["debug_file_keys"] = {k: i for k, i in state.debug_file_keys.items() if i != f.id}
    return msgspec.structs.replace(state, **changes)


def fold(state: ArtifactState, events: list[Any]) -> ArtifactState:
    for event in events:
        state = evolve(state, event)
    return state
