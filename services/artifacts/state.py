"""What the single writer of an artifacts aggregate knows. Pure.

Three kinds of aggregate share one state type, by key:
- `release-files:<org>:<version>`: the release's files, unique by name and dist;
- `bundle:<org>:<checksum>`: one artifact bundle (uploading it again names more projects);
- `debug-files:<org>:<project>`: the project's debug files, one per (checksum, debug id).
Each remembers the commands it decided lately (a redelivered command makes no new events).
"""

from __future__ import annotations

import msgspec

from picket.monitors.state import RecentIds
from picket.schemas.artifacts import ArtifactBundle, DebugFile, ReleaseFile

RECENT_COMMANDS = 256
_KINDS = ("release-files:", "bundle:", "debug-files:")


class ArtifactState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    release_files: dict[int, ReleaseFile] = {}
    bundle: ArtifactBundle | None = None
    debug_files: dict[int, DebugFile] = {}
    debug_file_keys: dict[str, int] = {}  # dif_key -> id
    recent_commands: RecentIds = RecentIds()


def initial_state(key: str) -> ArtifactState:
    if not key.startswith(_KINDS):
        raise KeyError(key)
    return ArtifactState()


def dif_key(sha1: str, debug_id: str) -> str:
    """What makes two debug files the same: the file's checksum and the object's debug id."""
    return f"{sha1}:{debug_id}"


def file_named(state: ArtifactState, name: str, dist: str | None) -> ReleaseFile | None:
    return next((f for f in state.release_files.values() if f.name == name and f.dist == dist), None)
