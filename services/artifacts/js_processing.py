"""Source maps applied to JavaScript events, as Sentry's processing does.

For each frame of an event's stack traces, the artifact that maps it is found by the debug id
the event's `debug_meta` gives the frame's file (`sourcemaps inject` + an artifact bundle), else
by the event's release and dist and the frame's URL (the minified file, the source map it names
through its `Sourcemap` header or `sourceMappingURL` comment); the frame is then mapped to the
original file, line, column, function and context lines (`picket.artifacts.sourcemaps.apply`).
The exception keeps the frames as sent (`raw_frames`); grouping sees the mapped ones.

`resolve` says why a frame did not resolve (a `DebugError`), which the source-map-debug
endpoint shows. Lookups and reads go through an `Artifacts` port, so this module holds no I/O.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from symbolic.sourcemap import SourceMapView, SourceView

from picket.artifacts import sourcemaps as sm
from picket.artifacts.bundles import normalize_debug_id
from picket.ingest.normalize import MAX_CULPRIT, generate_culprit, truncatechars
from picket.schemas.artifacts import FileRef
from picket.schemas.ingest import NormalizedEvent, StackFrame

JS_PLATFORMS = frozenset({"javascript", "node"})
MAX_FRAMES = 250  # frames mapped per event (each may need a lookup)


@dataclass(frozen=True)
class Artifact:
    """A file found for a frame: its type (`minified_source`, `source_map`...; "" for a
    release file), headers (lowercase names) and where its bytes are."""

    name: str
    type: str
    headers: Mapping[str, str]
    file: FileRef
    dist: str = ""


class Artifacts(Protocol):
    def by_debug_id(self, debug_id: str) -> list[Artifact]: ...
    def by_urls(self, release: str, dist: str | None, urls: list[str]) -> list[Artifact]: ...
    def read(self, ref: FileRef) -> bytes: ...


@dataclass(frozen=True)
class Resolution:
    """What maps a frame's file: the parsed map and minified source, and how it was found."""

    sourcemap: SourceMapView
    minified: SourceView | None
    sourcemap_url: str
    resolved_with: str  # debug-id, release


def is_js(event: NormalizedEvent) -> bool:
    return event.platform in JS_PLATFORMS and any(ex.frames for ex in event.exceptions)


def _view(artifacts: Artifacts, found: Artifact, limit: int) -> bytes | None:
    if found.file.size > limit:
        return None
    return artifacts.read(found.file)


def _inline_map(reference: str) -> bytes | None:
    """The bytes of a `data:` source map URL (base64 or plain)."""
    head, sep, payload = reference.partition(",")
    if not sep:
        return None
    if head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return None
    return urllib.parse.unquote_to_bytes(payload)


def resolve(artifacts: Artifacts, abs_path: Any, release: str | None, dist: str | None,
            debug_ids: Mapping[str, str]) -> Resolution | sm.DebugError:
    """How the frame's file maps, or why it does not."""
    if not isinstance(abs_path, str) or not abs_path or len(abs_path) > 4096:
        return sm.DebugError.of(sm.INVALID_ABS_PATH, {"absPath": abs_path if isinstance(abs_path, str) else None})
    debug_id = debug_ids.get(abs_path)
    if debug_id:
        found = artifacts.by_debug_id(debug_id)
        maps = [f for f in found if f.type == "source_map"]
        if maps:
            data = _view(artifacts, maps[0], sm.MAX_SOURCEMAP_SIZE)
            view = sm.load_sourcemap(data) if data is not None else None
            if view is not None:
                minified = next((f for f in found if f.type == "minified_source"), None)
                source = _view(artifacts, minified, sm.MAX_MINIFIED_SIZE) if minified else None
                # sources are named relative to where the map sits beside the frame's file
                reference = sm.sourcemap_reference(source, minified.headers) if minified and source else None
                map_url = sm.resolve_reference(abs_path, reference) if reference else abs_path
                if map_url.startswith("data:"):
                    map_url = abs_path
                return Resolution(view, _source_view(source), map_url, "debug-id")
        if not release:
            return sm.DebugError.of(sm.DEBUG_ID_NO_SOURCEMAP, {"debugId": debug_id, "absPath": abs_path})
    if not release:
        return sm.DebugError.of(sm.MISSING_RELEASE)
    candidates = sm.url_candidates(abs_path)
    if not candidates:
        return sm.DebugError.of(sm.URL_NOT_VALID, {"absPath": abs_path})
    # an event without a dist takes only files without one, as Sentry's
    found = [f for f in artifacts.by_urls(release, dist or "", candidates) if f.type != "source_map"]
    if not found:
        elsewhere = [f for f in artifacts.by_urls(release, None, candidates) if f.type != "source_map"]
        if elsewhere:
            return sm.DebugError.of(sm.DIST_MISMATCH, {"expectedDist": dist, "actualDist": elsewhere[0].dist or None})
        return sm.DebugError.of(sm.NO_URL_MATCH, {"absPath": abs_path, "urlPrefix": "~/"})
    minified_file = min(found, key=lambda f: candidates.index(f.name) if f.name in candidates else len(candidates))
    minified = _view(artifacts, minified_file, sm.MAX_MINIFIED_SIZE)
    if minified is None:
        return sm.DebugError.of(sm.UNKNOWN_ERROR, {"absPath": abs_path})
    reference = sm.sourcemap_reference(minified, minified_file.headers)
    if not reference:
        return sm.DebugError.of(sm.MISSING_SOURCEMAPPING_URL, {"absPath": abs_path})
    map_url = sm.resolve_reference(abs_path, reference)
    if map_url.startswith("data:"):
        data = _inline_map(map_url)
        map_url = abs_path
    else:
        maps = [f for f in artifacts.by_urls(release, dist or "", sm.url_candidates(map_url))
                if f.type in ("source_map", "")]
        if not maps:
            return sm.DebugError.of(sm.SOURCEMAP_NOT_FOUND, {"filename": map_url})
        data = _view(artifacts, maps[0], sm.MAX_SOURCEMAP_SIZE)
    view = sm.load_sourcemap(data) if data is not None else None
    if view is None:
        return sm.DebugError.of(sm.SOURCEMAP_NOT_FOUND, {"filename": map_url})
    return Resolution(view, _source_view(minified), map_url, "release")


def _source_view(data: bytes | None) -> SourceView | None:
    if data is None:
        return None
    try:
        return SourceView.from_bytes(data)
    except Exception:  # a minified file symbolic cannot read only loses function names
        return None


def _as_dict(frame: StackFrame) -> dict[str, Any]:
    return msgspec.to_builtins(frame)  # type: ignore[no-any-return]


def map_frame(frame: StackFrame, resolution: Resolution) -> StackFrame | None:
    mapped = sm.apply(_as_dict(frame), resolution.minified, resolution.sourcemap,
                      sourcemap_url=resolution.sourcemap_url)
    if mapped is None:
        return None
    fields = {k: mapped.get(k) for k in ("abs_path", "filename", "lineno", "colno", "function")}
    # the minified file's context lines never describe the original: without the map's, none
    context = {"context_line": mapped.get("context_line"), "pre_context": mapped.get("pre_context", []),
               "post_context": mapped.get("post_context", [])}
    out = msgspec.structs.replace(
        frame, **{k: v for k, v in fields.items() if v is not None}, **context,
        data={**frame.data, "sourcemap": resolution.sourcemap_url, "resolved_with": resolution.resolved_with,
              "symbolicated": True})
    return out


def debug_ids_of(event: NormalizedEvent) -> dict[str, str]:
    """The debug id of each minified file the event names (`debug_meta` sourcemap images)."""
    out = {}
    for image in event.debug_images:
        if image.type == "sourcemap" and image.code_file and image.debug_id:
            out[image.code_file] = normalize_debug_id(image.debug_id) or image.debug_id.lower()
    return out


class Resolver(Protocol):
    def __call__(self, abs_path: Any, release: str | None, dist: str | None,
                 debug_ids: Mapping[str, str]) -> Resolution | sm.DebugError: ...


def process(event: NormalizedEvent, resolver: Resolver) -> NormalizedEvent:
    """The event with its JavaScript frames mapped where artifacts map them (unchanged when none
    does, or when it is not a JavaScript event)."""
    if not is_js(event):
        return event
    debug_ids = debug_ids_of(event)
    budget = MAX_FRAMES
    exceptions = []
    changed = False
    for ex in event.exceptions:
        frames = []
        for frame in ex.frames:
            mapped = None
            if budget > 0 and frame.abs_path and frame.lineno:
                budget -= 1
                resolution = resolver(frame.abs_path, event.release, event.dist, debug_ids)
                if isinstance(resolution, Resolution):
                    mapped = map_frame(frame, resolution)
            frames.append(mapped or frame)
        if any(m is not f for m, f in zip(frames, ex.frames)):
            changed = True
            ex = msgspec.structs.replace(ex, frames=frames, raw_frames=list(ex.frames))
        exceptions.append(ex)
    if not changed:
        return event
    # a culprit derived from the frames is derived again from the mapped ones
    culprit = event.culprit
    if culprit == truncatechars(generate_culprit(event.exceptions, event.platform, event.request) or "", MAX_CULPRIT):
        culprit = truncatechars(generate_culprit(exceptions, event.platform, event.request) or "", MAX_CULPRIT) or culprit
    return msgspec.structs.replace(event, exceptions=exceptions, culprit=culprit)
