"""JavaScript processing: how `resolve` finds what maps a frame (by debug id, else by release,
dist and URL: the minified file, then the source map it names) or says why not, and how
`process` maps the frames of a normalized event. Artifacts come from an in-memory fake of the
`Artifacts` port holding the terser-made fixture of tests/fixtures/sourcemaps, where the minified
position 1:86 is src/app.js line 8 in `lineTotal` and 1:198 is line 16 in `orderTotal`."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import pytest

from picket.artifacts import js_processing, sourcemaps
from picket.artifacts.js_processing import Artifact, Resolution, process, resolve
from picket.artifacts.sourcemaps import DebugError
from picket.ingest.normalize import normalize_event
from picket.schemas.artifacts import FileRef
from picket.schemas.ingest import NormalizedEvent

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps" / "dist"
MINIFIED = (FIXTURE / "app.min.js").read_bytes()
SOURCE_MAP = (FIXTURE / "app.min.js.map").read_bytes()
COMMENT = b"//# sourceMappingURL=app.min.js.map"
BARE_MINIFIED = MINIFIED.replace(COMMENT, b"")  # the same code, naming no source map

URL = "http://example.com/static/app.min.js"
MAP_URL = "http://example.com/static/app.min.js.map"
ORIGINAL_URL = "http://example.com/src/app.js"  # `../src/app.js` beside the map
RELEASE = "shop@1.0.0"
DEBUG_ID = "c2d9a2b4-8f3e-4b7a-9d61-0e5f3a7b1c42"

# (colno on line 1 of app.min.js, minified name) -> (line, column, name) in src/app.js
THROW = (86, "t")
ORDER = (198, "r")
STACK = [(318, "Object.<anonymous>"), (260, "e"), ORDER, THROW]  # oldest first, as SDKs send
MAPPED = {86: (8, 11, "lineTotal"), 198: (16, 17, "orderTotal"), 260: (22, 17, "checkout"),
          318: (27, 1, "Object.<anonymous>")}


class FakeArtifacts:
    """The `Artifacts` port in memory: artifacts with their bytes by SHA-1, the debug id of each,
    and every lookup and read made."""

    def __init__(self) -> None:
        self.items: list[tuple[Artifact, str | None]] = []
        self.blobs: dict[str, bytes] = {}
        self.reads: list[str] = []
        self.lookups: list[tuple[Any, ...]] = []

    def add(self, name: str, type: str, data: bytes, *, headers: Mapping[str, str] | None = None,
            dist: str = "", debug_id: str | None = None, size: int | None = None) -> Artifact:
        sha1 = hashlib.sha1(data + name.encode() + dist.encode()).hexdigest()
        self.blobs[sha1] = data
        ref = FileRef(sha1=sha1, size=len(data) if size is None else size, chunks=(sha1,))
        found = Artifact(name=name, type=type, headers=dict(headers or {}), file=ref, dist=dist)
        self.items.append((found, debug_id))
        return found

    def by_debug_id(self, debug_id: str) -> list[Artifact]:
        self.lookups.append(("debug_id", debug_id))
        return [a for a, d in self.items if d is not None and d == debug_id]

    def by_urls(self, release: str, dist: str | None, urls: list[str]) -> list[Artifact]:
        self.lookups.append(("urls", release, dist, tuple(urls)))
        return [a for a, _ in self.items if a.name in urls and (dist is None or a.dist == dist)]

    def read(self, ref: FileRef) -> bytes:
        self.reads.append(ref.sha1)
        return self.blobs[ref.sha1]


def _release_artifacts(minified_name: str = "~/static/app.min.js", map_name: str = "~/static/app.min.js.map",
                       *, minified: bytes = MINIFIED, dist: str = "") -> FakeArtifacts:
    fake = FakeArtifacts()
    fake.add(minified_name, "minified_source", minified, dist=dist)
    fake.add(map_name, "source_map", SOURCE_MAP, dist=dist)
    return fake


def _resolve(fake: FakeArtifacts, abs_path: Any = URL, release: str | None = RELEASE, dist: str | None = None,
             debug_ids: Mapping[str, str] | None = None) -> Resolution | DebugError:
    return resolve(fake, abs_path, release, dist, debug_ids or {})


def _frame(colno: int | None = THROW[0], function: str = THROW[1], abs_path: str = URL,
           lineno: int | None = 1, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"abs_path": abs_path, "function": function, "lineno": lineno, "in_app": True, **extra}
    if colno is not None:
        frame["colno"] = colno
    return frame


def _event(frames: list[dict[str, Any]] | None = None, *, platform: str = "javascript",
           release: str | None = RELEASE, dist: str | None = None, images: list[dict[str, Any]] | None = None,
           exceptions: list[list[dict[str, Any]]] | None = None, **extra: Any) -> NormalizedEvent:
    """An event as a browser SDK sends it (frames oldest first), normalized."""
    stacks = exceptions if exceptions is not None else [frames if frames is not None else
                                                        [_frame(c, f) for c, f in STACK]]
    raw: dict[str, Any] = {
        "event_id": "9f0c6b1ad3c84e0d8c1b6f2a7e5d4c3b",
        "platform": platform,
        "exception": {"values": [{"type": "TypeError", "value": "Invalid price for ink",
                                  "stacktrace": {"frames": stack}} for stack in stacks]},
        **extra,
    }
    if release is not None:
        raw["release"] = release
    if dist is not None:
        raw["dist"] = dist
    if images is not None:
        raw["debug_meta"] = {"images": images}
    return normalize_event(raw, project_id=1, received=datetime.now(timezone.utc))


class CountingResolver:
    def __init__(self, fake: FakeArtifacts) -> None:
        self.fake = fake
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, abs_path: Any, release: str | None, dist: str | None,
                 debug_ids: Mapping[str, str]) -> Resolution | DebugError:
        self.calls.append((abs_path, release, dist, dict(debug_ids)))
        return resolve(self.fake, abs_path, release, dist, debug_ids)


def _mapped(resolution: Resolution | DebugError, colno: int = THROW[0], function: str = THROW[1],
            **extra: Any) -> Any:
    assert isinstance(resolution, Resolution), resolution
    frame = _event([_frame(colno, function, **extra)]).exceptions[0].frames[0]
    return js_processing.map_frame(frame, resolution)


def _assert_throw_site(frame: Any, function: str = "lineTotal") -> None:
    assert frame is not None
    assert (frame.filename, frame.abs_path, frame.lineno, frame.colno) == ("../src/app.js", ORIGINAL_URL, 8, 11)
    assert frame.function == function
    assert frame.context_line == '    throw new TypeError("Invalid price for " + item.name);'
    assert frame.pre_context[-1] == '  if (typeof item.price !== "number" || item.price < 0) {'
    assert frame.post_context[0] == "  }"


def _error(result: Resolution | DebugError, type: sourcemaps.SourceMapError) -> DebugError:
    assert isinstance(result, DebugError), result
    assert result.type == type.value
    assert result.message == sourcemaps.MESSAGES[type]
    return result


# --------------------------------------------------------------------------------------------
# resolve: by release and URL


def test_release_and_tilde_url_map_the_throw_site() -> None:
    fake = _release_artifacts()
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    assert (found.sourcemap_url, found.resolved_with) == (MAP_URL, "release")
    assert found.minified is not None
    frame = _mapped(found)
    _assert_throw_site(frame)
    assert frame.data == {"sourcemap": MAP_URL, "resolved_with": "release", "symbolicated": True}
    # looked up by the frame's URL then by the map's, both in the event's release
    urls = [lookup for lookup in fake.lookups if lookup[0] == "urls"]
    assert urls[0] == ("urls", RELEASE, "", (URL, "~/static/app.min.js"))
    assert urls[-1] == ("urls", RELEASE, "", (MAP_URL, "~/static/app.min.js.map"))


def test_full_url_names_map_too() -> None:
    found = _resolve(_release_artifacts(URL, MAP_URL))
    assert isinstance(found, Resolution)
    assert found.sourcemap_url == MAP_URL
    _assert_throw_site(_mapped(found))


def test_the_most_precise_name_is_the_minified_file() -> None:
    fake = _release_artifacts(URL, MAP_URL)
    fake.add("~/static/app.min.js", "minified_source", BARE_MINIFIED)  # would name no map
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    _assert_throw_site(_mapped(found))


def test_a_query_string_is_dropped_for_the_lookup() -> None:
    found = _resolve(_release_artifacts(), URL + "?v=3#top")
    assert isinstance(found, Resolution)
    assert found.sourcemap_url == MAP_URL


def test_several_positions_of_one_resolution() -> None:
    found = _resolve(_release_artifacts())
    for (colno, function), (line, column, name) in ((c, MAPPED[c[0]]) for c in STACK):
        frame = _mapped(found, colno, function)
        assert (frame.lineno, frame.colno, frame.function) == (line, column, name)


def test_release_file_with_a_sourcemap_header_instead_of_the_comment() -> None:
    fake = FakeArtifacts()
    # a legacy release file (type ""): the header names a map elsewhere; no comment in the file
    fake.add("~/static/app.min.js", "", BARE_MINIFIED, headers={"sourcemap": "/maps/checkout.js.map"})
    fake.add("~/maps/checkout.js.map", "", SOURCE_MAP)
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    assert (found.sourcemap_url, found.resolved_with) == ("http://example.com/maps/checkout.js.map", "release")
    _assert_throw_site(_mapped(found))


def test_the_sourcemap_header_wins_over_the_comment() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "", MINIFIED, headers={"sourcemap": "/maps/checkout.js.map"})
    fake.add("~/maps/checkout.js.map", "", SOURCE_MAP)
    fake.add("~/static/app.min.js.map", "", b"not the map the header names")
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    assert found.sourcemap_url == "http://example.com/maps/checkout.js.map"


def test_inline_base64_data_map() -> None:
    inline = b"data:application/json;charset=utf-8;base64," + base64.b64encode(SOURCE_MAP)
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED.replace(b"app.min.js.map", inline))
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    # sources are then relative to the minified file itself
    assert (found.sourcemap_url, found.resolved_with) == (URL, "release")
    frame = _mapped(found)
    _assert_throw_site(frame)
    assert frame.data["sourcemap"] == URL
    assert [lookup for lookup in fake.lookups if lookup[0] == "urls"] == [
        ("urls", RELEASE, "", (URL, "~/static/app.min.js"))]  # no lookup for the map


def test_inline_plain_percent_encoded_data_map() -> None:
    inline = b"data:application/json," + quote(SOURCE_MAP.decode(), safe="").encode()
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED.replace(b"app.min.js.map", inline))
    found = _resolve(fake)
    assert isinstance(found, Resolution), found


def test_node_app_urls_map() -> None:
    fake = _release_artifacts("~/dist/app.min.js", "~/dist/app.min.js.map")
    found = _resolve(fake, "app:///dist/app.min.js")
    assert isinstance(found, Resolution)
    assert found.sourcemap_url == "app:///dist/app.min.js.map"
    frame = _mapped(found, abs_path="app:///dist/app.min.js")
    assert (frame.abs_path, frame.lineno, frame.function) == ("app:///src/app.js", 8, "lineTotal")


# --------------------------------------------------------------------------------------------
# resolve: by debug id


def _bundle(with_minified: bool = True, debug_id: str = DEBUG_ID) -> FakeArtifacts:
    fake = FakeArtifacts()
    if with_minified:
        fake.add("~/static/app.min.js", "minified_source", MINIFIED, debug_id=debug_id)
    fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, debug_id=debug_id)
    return fake


def test_debug_id_with_the_minified_file_and_no_release() -> None:
    fake = _bundle()
    found = _resolve(fake, release=None, debug_ids={URL: DEBUG_ID})
    assert isinstance(found, Resolution)
    assert (found.sourcemap_url, found.resolved_with) == (MAP_URL, "debug-id")
    frame = _mapped(found)
    _assert_throw_site(frame)
    assert frame.data == {"sourcemap": MAP_URL, "resolved_with": "debug-id", "symbolicated": True}
    assert fake.lookups == [("debug_id", DEBUG_ID)]


def test_debug_id_without_the_minified_file() -> None:
    found = _resolve(_bundle(with_minified=False), release=None, debug_ids={URL: DEBUG_ID})
    assert isinstance(found, Resolution)
    assert found.minified is None
    assert (found.sourcemap_url, found.resolved_with) == (URL, "debug-id")
    # positions still map; the original function name needs the minified file
    _assert_throw_site(_mapped(found), function="t")


def test_debug_id_wins_over_the_release() -> None:
    fake = _bundle()
    fake.add("~/static/app.min.js", "minified_source", BARE_MINIFIED)  # a release file naming no map
    found = _resolve(fake, debug_ids={URL: DEBUG_ID})
    assert isinstance(found, Resolution)
    assert found.resolved_with == "debug-id"


def test_debug_id_without_its_map_falls_back_to_the_release() -> None:
    fake = _release_artifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED, debug_id=DEBUG_ID)  # no map with it
    found = _resolve(fake, debug_ids={URL: DEBUG_ID})
    assert isinstance(found, Resolution)
    assert found.resolved_with == "release"


def test_debug_id_only_of_the_frames_file() -> None:
    fake = _bundle()
    found = _resolve(fake, release=None, debug_ids={"http://example.com/static/other.js": DEBUG_ID})
    _error(found, sourcemaps.MISSING_RELEASE)
    assert fake.lookups == []


# --------------------------------------------------------------------------------------------
# resolve: dist


def test_the_events_dist_picks_its_artifacts() -> None:
    fake = _release_artifacts(dist="web")
    fake.add("~/static/app.min.js", "minified_source", BARE_MINIFIED, dist="mobile")
    found = _resolve(fake, dist="web")
    assert isinstance(found, Resolution)
    _assert_throw_site(_mapped(found))
    assert all(lookup[2] == "web" for lookup in fake.lookups if lookup[0] == "urls")


def test_dist_mismatch_names_both_dists() -> None:
    error = _error(_resolve(_release_artifacts(dist="mobile"), dist="web"), sourcemaps.DIST_MISMATCH)
    assert error.data == {"expectedDist": "web", "actualDist": "mobile"}


def test_dist_mismatch_with_artifacts_of_no_dist() -> None:
    error = _error(_resolve(_release_artifacts(), dist="web"), sourcemaps.DIST_MISMATCH)
    assert error.data == {"expectedDist": "web", "actualDist": None}


def test_an_event_without_dist_does_not_use_another_dists_files() -> None:
    error = _error(_resolve(_release_artifacts(dist="web"), dist=None), sourcemaps.DIST_MISMATCH)
    assert error.data == {"expectedDist": None, "actualDist": "web"}


# --------------------------------------------------------------------------------------------
# resolve: why a frame does not resolve


@pytest.mark.parametrize("abs_path", ["", None, 42, ["http://example.com/a.js"], "x" * 4097])
def test_invalid_abs_path(abs_path: Any) -> None:
    fake = _release_artifacts()
    error = _error(_resolve(fake, abs_path), sourcemaps.INVALID_ABS_PATH)
    assert error.data == {"absPath": abs_path if isinstance(abs_path, str) else None}
    assert fake.lookups == []


def test_abs_path_of_10k_characters() -> None:
    abs_path = "http://example.com/" + "a" * 10_000 + ".js"
    fake = _release_artifacts()
    fake.add(abs_path, "minified_source", MINIFIED)
    error = _error(_resolve(fake, abs_path, debug_ids={abs_path: DEBUG_ID}), sourcemaps.INVALID_ABS_PATH)
    assert error.data == {"absPath": abs_path}
    assert fake.lookups == [] and fake.reads == []


def test_debug_id_no_sourcemap() -> None:
    fake = _bundle(with_minified=True)
    fake.items = [(a, d) for a, d in fake.items if a.type != "source_map"]
    error = _error(_resolve(fake, release=None, debug_ids={URL: DEBUG_ID}), sourcemaps.DEBUG_ID_NO_SOURCEMAP)
    assert error.data == {"debugId": DEBUG_ID, "absPath": URL}


def test_debug_id_of_an_unknown_bundle_without_release() -> None:
    error = _error(_resolve(FakeArtifacts(), release=None, debug_ids={URL: DEBUG_ID}),
                   sourcemaps.DEBUG_ID_NO_SOURCEMAP)
    assert error.data == {"debugId": DEBUG_ID, "absPath": URL}


def test_missing_release() -> None:
    fake = _release_artifacts()
    error = _error(_resolve(fake, release=None), sourcemaps.MISSING_RELEASE)
    assert error.data is None
    assert fake.lookups == []


def test_url_not_valid() -> None:
    error = _error(_resolve(_release_artifacts(), "#fragment-only"), sourcemaps.URL_NOT_VALID)
    assert error.data == {"absPath": "#fragment-only"}


def test_no_url_match() -> None:
    abs_path = "http://example.com/static/vendor.min.js"
    error = _error(_resolve(_release_artifacts(), abs_path), sourcemaps.NO_URL_MATCH)
    assert error.data == {"absPath": abs_path, "urlPrefix": "~/"}


def test_a_source_map_alone_is_no_url_match() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "source_map", SOURCE_MAP)  # a map under the minified file's name
    error = _error(_resolve(fake), sourcemaps.NO_URL_MATCH)
    assert error.data == {"absPath": URL, "urlPrefix": "~/"}


def test_missing_sourcemapping_url() -> None:
    fake = _release_artifacts(minified=BARE_MINIFIED)
    error = _error(_resolve(fake), sourcemaps.MISSING_SOURCEMAPPING_URL)
    assert error.data == {"absPath": URL}


def test_sourcemap_not_found() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED)
    error = _error(_resolve(fake), sourcemaps.SOURCEMAP_NOT_FOUND)
    assert error.data == {"filename": MAP_URL}


def test_sourcemap_of_another_dist_is_not_found() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED, dist="web")
    fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, dist="mobile")
    error = _error(_resolve(fake, dist="web"), sourcemaps.SOURCEMAP_NOT_FOUND)
    assert error.data == {"filename": MAP_URL}


def test_unknown_error_when_the_minified_file_is_too_large() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED, size=sourcemaps.MAX_MINIFIED_SIZE + 1)
    fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP)
    error = _error(_resolve(fake), sourcemaps.UNKNOWN_ERROR)
    assert error.data == {"absPath": URL}
    assert fake.reads == []


# --------------------------------------------------------------------------------------------
# resolve: hostile artifacts


@pytest.mark.parametrize("data", [b"not json at all", b"", b"\xff\xfe\x00{", b"[1, 2, 3]",
                                  b'{"version": 3, "mappings": 7}', b"{" * 100_000])
def test_a_source_map_that_is_not_one(data: bytes) -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED)
    fake.add("~/static/app.min.js.map", "source_map", data)
    error = _error(_resolve(fake), sourcemaps.SOURCEMAP_NOT_FOUND)
    assert error.data == {"filename": MAP_URL}


def test_a_source_map_too_large_is_not_read() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED)
    big = fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, size=sourcemaps.MAX_SOURCEMAP_SIZE + 1)
    error = _error(_resolve(fake), sourcemaps.SOURCEMAP_NOT_FOUND)
    assert error.data == {"filename": MAP_URL}
    assert big.file.sha1 not in fake.reads


def test_a_source_map_of_exactly_the_limit_is_read() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED)
    fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, size=sourcemaps.MAX_SOURCEMAP_SIZE)
    assert isinstance(_resolve(fake), Resolution)


def test_a_debug_id_map_too_large_is_not_read() -> None:
    fake = FakeArtifacts()
    big = fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, debug_id=DEBUG_ID,
                   size=sourcemaps.MAX_SOURCEMAP_SIZE + 1)
    error = _error(_resolve(fake, release=None, debug_ids={URL: DEBUG_ID}), sourcemaps.DEBUG_ID_NO_SOURCEMAP)
    assert error.data == {"debugId": DEBUG_ID, "absPath": URL}
    assert big.file.sha1 not in fake.reads


def test_a_debug_id_map_that_is_not_json() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js.map", "source_map", b"<html>404</html>", debug_id=DEBUG_ID)
    _error(_resolve(fake, release=None, debug_ids={URL: DEBUG_ID}), sourcemaps.DEBUG_ID_NO_SOURCEMAP)


def test_a_minified_file_of_invalid_utf8_still_maps() -> None:
    fake = _release_artifacts(minified=MINIFIED.replace(b'"use strict";', b'"\xff\xfe\xc3(";'))
    found = _resolve(fake)
    assert isinstance(found, Resolution)
    frame = _mapped(found)
    assert (frame.filename, frame.lineno, frame.colno) == ("../src/app.js", 8, 11)


def test_a_sourcemapping_url_of_invalid_utf8() -> None:
    fake = _release_artifacts(minified=MINIFIED.replace(b"app.min.js.map", b"app.\xff\xfe.map"))
    error = _error(_resolve(fake), sourcemaps.MISSING_SOURCEMAPPING_URL)
    assert error.data == {"absPath": URL}


@pytest.mark.parametrize("inline", [
    b"data:application/json;base64,%%%not-base64%%%",
    b"data:application/json;base64,abc",  # bad padding
    b"data:application/json;base64," + base64.b64encode(b"not json"),
    b"data:application/json;base64",  # no payload at all
    b"data:application/json,not-json",
])
def test_a_broken_inline_map(inline: bytes) -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED.replace(b"app.min.js.map", inline))
    error = _error(_resolve(fake), sourcemaps.SOURCEMAP_NOT_FOUND)
    assert error.data == {"filename": URL}


def test_a_debug_id_bundle_whose_minified_file_is_binary() -> None:
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", bytes(range(256)) * 4, debug_id=DEBUG_ID)
    fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, debug_id=DEBUG_ID)
    found = _resolve(fake, release=None, debug_ids={URL: DEBUG_ID})
    assert isinstance(found, Resolution)
    assert found.sourcemap_url == URL  # names no map: sources relative to the minified file
    assert _mapped(found).lineno == 8


# --------------------------------------------------------------------------------------------
# map_frame


def test_a_map_without_sources_content_drops_the_minified_context() -> None:
    stripped = json.loads(SOURCE_MAP)
    del stripped["sourcesContent"]
    fake = FakeArtifacts()
    fake.add("~/static/app.min.js", "minified_source", MINIFIED)
    fake.add("~/static/app.min.js.map", "source_map", json.dumps(stripped).encode())
    frame = _mapped(_resolve(fake), context_line='"use strict";const n=.2;function t(n){...',
                    pre_context=["<minified>"], post_context=["//# sourceMappingURL=app.min.js.map"])
    assert (frame.lineno, frame.colno) == (8, 11)
    assert (frame.context_line, frame.pre_context, frame.post_context) == (None, [], [])


def test_map_frame_keeps_the_frames_other_fields() -> None:
    frame = _mapped(_resolve(_release_artifacts()), vars={"price": -1}, module="checkout")
    assert frame.in_app is True
    assert frame.vars == {"price": -1}
    assert frame.module == "checkout"


# --------------------------------------------------------------------------------------------
# process


def test_process_maps_every_frame_with_one_lookup_each() -> None:
    fake = _release_artifacts()
    resolver = CountingResolver(fake)
    event = _event()
    out = process(event, resolver)
    assert out is not event
    assert [c[0] for c in resolver.calls] == [URL] * 4
    assert all(c[1:3] == (RELEASE, None) for c in resolver.calls)
    frames = out.exceptions[0].frames
    assert [(f.lineno, f.colno, f.function) for f in frames] == [MAPPED[c] for c, _ in STACK]
    assert {f.filename for f in frames} == {"../src/app.js"}
    assert {f.abs_path for f in frames} == {ORIGINAL_URL}
    for f in frames:
        assert f.data == {"sourcemap": MAP_URL, "resolved_with": "release", "symbolicated": True}
    # the rest of the event is unchanged
    assert msgspec.structs.replace(out, exceptions=event.exceptions, culprit=event.culprit) == event


def test_process_keeps_the_frames_as_sent() -> None:
    event = _event()
    sent = list(event.exceptions[0].frames)
    out = process(event, CountingResolver(_release_artifacts()))
    ex = out.exceptions[0]
    assert ex.raw_frames == sent
    assert [f.abs_path for f in ex.raw_frames] == [URL] * 4
    assert [(f.lineno, f.colno, f.function) for f in ex.raw_frames] == [(1, c, fn) for c, fn in STACK]
    assert all(f.data == {} for f in ex.raw_frames)
    assert event.exceptions[0].raw_frames == []  # the input is not modified
    assert (ex.type, ex.value) == ("TypeError", "Invalid price for ink")


def test_process_rederives_the_culprit_from_the_mapped_frames() -> None:
    event = _event()
    assert event.culprit == "t(/static/app.min.js)"
    out = process(event, CountingResolver(_release_artifacts()))
    assert out.culprit == "lineTotal(../src/app.js)"


def test_process_keeps_a_culprit_not_derived_from_the_frames() -> None:
    event = _event(transaction="/checkout")
    assert event.culprit == "/checkout"
    out = process(event, CountingResolver(_release_artifacts()))
    assert out.exceptions[0].frames[-1].lineno == 8
    assert out.culprit == "/checkout"
    sent = _event(culprit="app.min.js in checkout")
    assert process(sent, CountingResolver(_release_artifacts())).culprit == "app.min.js in checkout"


def test_process_by_debug_id_from_debug_meta_without_release() -> None:
    fake = _bundle()
    resolver = CountingResolver(fake)
    images = [{"type": "sourcemap", "code_file": URL, "debug_id": DEBUG_ID.replace("-", "").upper()},
              {"type": "other", "code_file": "http://example.com/x.js", "debug_id": DEBUG_ID}]
    out = process(_event(release=None, images=images), resolver)
    assert resolver.calls[0][1:] == (None, None, {URL: DEBUG_ID})
    frames = out.exceptions[0].frames
    assert [(f.lineno, f.function) for f in frames] == [MAPPED[c][::2] for c, _ in STACK]
    assert {f.data["resolved_with"] for f in frames} == {"debug-id"}


def test_process_node_events() -> None:
    fake = _release_artifacts("~/dist/app.min.js", "~/dist/app.min.js.map")
    event = _event([_frame(*THROW, abs_path="app:///dist/app.min.js")], platform="node")
    out = process(event, CountingResolver(fake))
    frame = out.exceptions[0].frames[0]
    assert (frame.abs_path, frame.lineno, frame.function) == ("app:///src/app.js", 8, "lineTotal")


def test_process_with_the_events_dist() -> None:
    fake = _release_artifacts(dist="web")
    resolver = CountingResolver(fake)
    out = process(_event(dist="web"), resolver)
    assert resolver.calls[0][2] == "web"
    assert out.exceptions[0].frames[-1].lineno == 8
    unmatched = _event(dist="mobile")
    assert process(unmatched, CountingResolver(fake)) is unmatched


@pytest.mark.parametrize("platform", ["python", "other", "native", "cocoa"])
def test_process_leaves_other_platforms_alone(platform: str) -> None:
    resolver = CountingResolver(_release_artifacts())
    event = _event(platform=platform)
    assert process(event, resolver) is event
    assert resolver.calls == []


def test_process_leaves_an_event_without_frames_alone() -> None:
    resolver = CountingResolver(_release_artifacts())
    event = normalize_event({"platform": "javascript", "message": "hello", "release": RELEASE},
                            project_id=1, received=datetime.now(timezone.utc))
    assert process(event, resolver) is event
    stackless = _event(exceptions=[[]])
    assert process(stackless, resolver) is stackless
    assert resolver.calls == []


def test_process_without_matches_returns_the_same_event() -> None:
    event = _event([_frame(*THROW, abs_path="http://example.com/static/vendor.js")])
    resolver = CountingResolver(_release_artifacts())
    assert process(event, resolver) is event
    assert len(resolver.calls) == 1
    no_release = _event(release=None)
    assert process(no_release, CountingResolver(_release_artifacts())) is no_release


def test_process_with_a_resolution_that_maps_no_position() -> None:
    event = _event([_frame(5, "t", lineno=3)])  # app.min.js has no mappings on line 3
    assert process(event, CountingResolver(_release_artifacts())) is event


def test_process_maps_what_it_can_and_keeps_the_rest() -> None:
    vendor = "http://example.com/static/vendor.js"
    event = _event([_frame(10, "v", abs_path=vendor), _frame(*ORDER), _frame(*THROW, lineno=9)])
    out = process(event, CountingResolver(_release_artifacts()))
    frames = out.exceptions[0].frames
    assert frames[0] == event.exceptions[0].frames[0]
    assert (frames[1].lineno, frames[1].function, frames[1].data["symbolicated"]) == (16, "orderTotal", True)
    assert frames[2] == event.exceptions[0].frames[2]
    assert out.exceptions[0].raw_frames == event.exceptions[0].frames


def test_process_only_replaces_exceptions_it_changed() -> None:
    vendor = "http://example.com/static/vendor.js"
    event = _event(exceptions=[[_frame(10, "v", abs_path=vendor)], [_frame(*THROW)]])
    out = process(event, CountingResolver(_release_artifacts()))
    assert out.exceptions[0] is event.exceptions[0]
    assert out.exceptions[0].raw_frames == []
    assert out.exceptions[1].frames[0].lineno == 8


def test_process_skips_frames_without_path_or_line() -> None:
    resolver = CountingResolver(_release_artifacts())
    frames = [{"function": "native", "lineno": 1, "colno": 86}, _frame(lineno=0), _frame(lineno=None),
              _frame(*THROW)]
    out = process(_event(frames), resolver)
    assert len(resolver.calls) == 1
    assert out.exceptions[0].frames[-1].lineno == 8
    assert [f.lineno for f in out.exceptions[0].frames[:3]] == [1, 0, None]


def test_process_stops_after_max_frames_lookups() -> None:
    limit = js_processing.MAX_FRAMES
    first = [_frame(*THROW) for _ in range(limit - 10)]
    second = [_frame(*ORDER) for _ in range(40)]
    resolver = CountingResolver(_release_artifacts())
    out = process(_event(exceptions=[first, second]), resolver)
    assert len(resolver.calls) == limit
    assert all(f.lineno == 8 for f in out.exceptions[0].frames)
    linenos = [f.lineno for f in out.exceptions[1].frames]
    assert linenos == [16] * 10 + [1] * 30
    assert len(out.exceptions[1].raw_frames) == 40


# --------------------------------------------------------------------------------------------
# process: hostile frames


def test_process_with_an_abs_path_of_10k_characters() -> None:
    long_path = "http://example.com/" + "a" * 10_000 + ".js"
    resolver = CountingResolver(_release_artifacts())
    event = _event([_frame(*THROW, abs_path=long_path)], images=[
        {"type": "sourcemap", "code_file": long_path, "debug_id": DEBUG_ID}])
    assert event.exceptions[0].frames[0].abs_path == long_path
    assert process(event, resolver) is event
    assert len(resolver.calls) == 1
    assert resolve(resolver.fake, long_path, RELEASE, None, {}).type == "invalid_abs_path"


@pytest.mark.parametrize("lineno", [2**70, 2**64, 2**32, 2**32 - 1, 2])
def test_process_with_a_line_out_of_the_map(lineno: int) -> None:
    resolver = CountingResolver(_release_artifacts())
    event = _event([_frame(*THROW, lineno=lineno)])
    assert event.exceptions[0].frames[0].lineno == lineno
    assert process(event, resolver) is event
    assert len(resolver.calls) == 1


@pytest.mark.parametrize("colno", [2**70, 2**32])
def test_process_with_a_column_out_of_range(colno: int) -> None:
    event = _event([_frame(colno, "t")])
    assert process(event, CountingResolver(_release_artifacts())) is event


def test_process_with_line_zero_looks_nothing_up() -> None:
    resolver = CountingResolver(_release_artifacts())
    event = _event([_frame(*THROW, lineno=0)])
    assert process(event, resolver) is event
    assert resolver.calls == []


def test_process_without_colno_maps_the_lines_start() -> None:
    out = process(_event([_frame(None, "t")]), CountingResolver(_release_artifacts()))
    frame = out.exceptions[0].frames[0]
    assert (frame.filename, frame.lineno, frame.colno) == ("../src/app.js", 2, 1)  # `"use strict";`
    assert frame.function == "t"
    assert out.exceptions[0].raw_frames[0].colno is None


@pytest.mark.parametrize("case", ["not-json", "too-large", "invalid-utf8-comment", "broken-base64"])
def test_process_with_hostile_artifacts_leaves_the_event(case: str) -> None:
    fake = FakeArtifacts()
    if case == "not-json":
        fake.add("~/static/app.min.js", "minified_source", MINIFIED)
        fake.add("~/static/app.min.js.map", "source_map", b"\x00\x01 definitely { not json")
    elif case == "too-large":
        fake.add("~/static/app.min.js", "minified_source", MINIFIED)
        fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP, size=sourcemaps.MAX_SOURCEMAP_SIZE + 1)
    elif case == "invalid-utf8-comment":
        fake.add("~/static/app.min.js", "minified_source", MINIFIED.replace(b"app.min.js.map", b"\xc3\x28.map"))
        fake.add("~/static/app.min.js.map", "source_map", SOURCE_MAP)
    else:
        fake.add("~/static/app.min.js", "minified_source",
                 MINIFIED.replace(b"app.min.js.map", b"data:application/json;base64,!!!@@@"))
    resolver = CountingResolver(fake)
    event = _event()
    assert process(event, resolver) is event
    assert len(resolver.calls) == 4
    for call in resolver.calls:
        assert isinstance(resolve(fake, *call), DebugError)


def test_process_with_a_resolver_answering_errors() -> None:
    event = _event()
    calls = []

    def resolver(abs_path: Any, release: str | None, dist: str | None,
                 debug_ids: Mapping[str, str]) -> DebugError:
        calls.append(abs_path)
        return DebugError.of(sourcemaps.UNKNOWN_ERROR)

    assert process(event, resolver) is event
    assert calls == [URL] * 4
