"""The artifacts JavaScript processing reads: lookups in the artifacts projection, bytes from the
blob store, and a cache of resolutions, so that the many events of one release parse its source
maps once. Synchronous: the events consumer calls it in a thread.

A resolution (or the reason there is none) is kept for `TTL` seconds: an artifact uploaded after
an event of its release arrived maps the events of the next minute, not that one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from picket.artifacts.js_processing import Artifact, Resolution, resolve
from picket.artifacts.sourcemaps import DebugError
from picket.blobs import files
from picket.blobs.store import BlobMissing, BlobStore
from picket.schemas.artifacts import FileRef
from picket.store import artifacts_read
from picket.store.client import Store

TTL = 60.0
KEEP = 64  # resolutions held (each holds a parsed source map)


class StoreArtifacts:
    """The `Artifacts` port over the projection and the blob store, for one project."""

    def __init__(self, store: Store, blobs: BlobStore, org_id: int, project_id: int) -> None:
        self._store = store
        self._blobs = blobs
        self._org_id = org_id
        self._project_id = project_id

    def by_debug_id(self, debug_id: str) -> list[Artifact]:
        return [_artifact(f) for f in artifacts_read.by_debug_ids(self._store, self._org_id, self._project_id, [debug_id])]

    def by_urls(self, release: str, dist: str | None, urls: list[str]) -> list[Artifact]:
        found = artifacts_read.by_urls(self._store, self._org_id, self._project_id, release, dist, urls)
        return [_artifact(f) for f in found]

    def read(self, ref: FileRef) -> bytes:
        """The file's bytes; empty when a chunk is gone (deleted meanwhile): it maps nothing."""
        try:
            return b"".join(files.read_file(self._blobs, ref))
        except BlobMissing:
            return b""


def _artifact(found: artifacts_read.Found) -> Artifact:
    f = found.file
    headers = {k.lower(): v for k, v in f.headers.items()}
    return Artifact(name=found.url, type=found.type, headers=headers, file=f.file, dist=found.dist)


class CachedResolver:
    """Resolutions per project, release, dist and file (or debug id), kept a while."""

    def __init__(self, store: Store, blobs: BlobStore, ttl: float = TTL, keep: int = KEEP) -> None:
        self._store = store
        self._blobs = blobs
        self._ttl = ttl
        self._keep = keep
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, Resolution | DebugError]] = OrderedDict()

    def for_project(self, org_id: int, project_id: int) -> Any:
        artifacts = StoreArtifacts(self._store, self._blobs, org_id, project_id)

        def resolver(abs_path: Any, release: str | None, dist: str | None,
                     debug_ids: Mapping[str, str]) -> Resolution | DebugError:
            key = (project_id, release, dist, abs_path, debug_ids.get(abs_path) if isinstance(abs_path, str) else None)
            now = time.monotonic()
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                self._cache.move_to_end(key)
                return hit[1]
            result = resolve(artifacts, abs_path, release, dist, debug_ids)
            self._cache[key] = (now, result)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
            return result

        return resolver
