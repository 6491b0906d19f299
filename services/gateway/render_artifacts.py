"""Release files and debug files as Sentry's API shows them."""

from __future__ import annotations

from typing import Any

from picket.gateway.render import iso
from picket.schemas.artifacts import DebugFile, ReleaseFile


def release_file(f: ReleaseFile) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "name": f.name,
        "dist": f.dist,
        "headers": dict(f.headers),
        "size": f.file.size,
        "sha1": f.file.sha1,
        "dateCreated": iso(f.date_created),
    }


def debug_file(f: DebugFile) -> dict[str, Any]:
    """Sentry's debug file: `uuid` is the debug id without its age (the Mach-O UUID)."""
    data: dict[str, Any] = {"features": list(f.features)}
    if f.kind:
        data["type"] = f.kind
    return {
        "id": str(f.id),
        "uuid": f.debug_id[:36],
        "debugId": f.debug_id,
        "codeId": f.code_id,
        "cpuName": f.cpu_name,
        "objectName": f.object_name,
        "symbolType": f.file_format,
        "headers": {"Content-Type": "application/octet-stream"},
        "size": f.file.size,
        "sha1": f.file.sha1,
        "dateCreated": iso(f.date_created),
        "data": data,
    }
