"""Applying source maps to JavaScript stack frames, as Sentry's JS processing does. Pure: the
caller finds the minified file and its source map (release files or artifact bundles, by
`url_candidates`, `sourcemap_reference` and `debug_id_comment`) and hands their bytes here.

- `sourcemap_reference(minified, headers)`: the source map a minified file names.
- `debug_id_comment(minified)`: the debug id a minified file carries.
- `url_candidates(abs_path)`: the names a release artifact may have to match a frame.
- `resolve_reference(minified_url, reference)`: the source map's URL.
- `load_sourcemap(data)`: a parsed source map, or None (to parse once for many frames).
- `apply(frame, minified, sourcemap)`: the frame mapped to its original source, or None.
- `DebugError` and the `SourceMapError` types: why a frame did not resolve, with the type
  names of Sentry's source map debug endpoint.

Every function takes hostile input (bytes that are not JSON, fields of the wrong type, line
numbers of any size or sign) and answers without raising.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from symbolic.exceptions import SymbolicError
from symbolic.sourcemap import SourceMapTokenMatch, SourceMapView, SourceView

from picket.artifacts.bundles import normalize_debug_id

MAX_SOURCEMAP_SIZE = 64 * 1024 * 1024
# The minified file is only read to find the original function name; past this it is not.
MAX_MINIFIED_SIZE = 64 * 1024 * 1024
CONTEXT_LINES = 5
MAX_LINE_LENGTH = 150

_U32 = 2**32 - 1  # symbolic's positions are u32; u32::MAX stands for "none" in a token
# Names a source map gives that say nothing useful: the minified name is kept instead.
_USELESS_NAMES = frozenset({"<anonymous>", "__webpack_require__", "__webpack_modules__"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_WEBPACK_NAMESPACE = re.compile(r"webpack://[A-Za-z0-9_\-@.]+/\./")
# Anchored at a line's start (after blanks), as symbolic's discovery does; `//@` is the old form.
_SOURCEMAP_COMMENT = re.compile(rb"^[ \t]*//[#@][ \t]*sourceMappingURL=[ \t]*(\S+)[ \t\r]*$", re.MULTILINE)
_DEBUG_ID_COMMENT = re.compile(rb"^[ \t]*//[#@][ \t]*debugId=[ \t]*([0-9A-Fa-f\-]{32,36})[ \t\r]*$", re.MULTILINE)


class SourceMapError(enum.StrEnum):
    """Why a frame did not resolve: the `type` of an error of Sentry's source map debug
    endpoint (`.../events/{id}/source-map-debug/`)."""

    UNKNOWN_ERROR = "unknown_error"
    MISSING_RELEASE = "missing_release"
    MISSING_USER_AGENT = "missing_user_agent"
    MISSING_SOURCEMAPPING_URL = "missing_sourcemapping_url"
    URL_NOT_VALID = "url_not_valid"
    NO_URL_MATCH = "no_url_match"
    PARTIAL_MATCH = "partial_match"
    DIST_MISMATCH = "dist_mismatch"
    SOURCEMAP_NOT_FOUND = "sourcemap_not_found"
    INVALID_ABS_PATH = "invalid_abs_path"
    MISSING_SOURCE_CONTENT = "missing_source_content"
    DEBUG_ID_NO_SOURCEMAP = "debug_id_no_sourcemap"


UNKNOWN_ERROR = SourceMapError.UNKNOWN_ERROR
MISSING_RELEASE = SourceMapError.MISSING_RELEASE
MISSING_USER_AGENT = SourceMapError.MISSING_USER_AGENT
MISSING_SOURCEMAPPING_URL = SourceMapError.MISSING_SOURCEMAPPING_URL
URL_NOT_VALID = SourceMapError.URL_NOT_VALID
NO_URL_MATCH = SourceMapError.NO_URL_MATCH
PARTIAL_MATCH = SourceMapError.PARTIAL_MATCH
DIST_MISMATCH = SourceMapError.DIST_MISMATCH
SOURCEMAP_NOT_FOUND = SourceMapError.SOURCEMAP_NOT_FOUND
INVALID_ABS_PATH = SourceMapError.INVALID_ABS_PATH
MISSING_SOURCE_CONTENT = SourceMapError.MISSING_SOURCE_CONTENT
DEBUG_ID_NO_SOURCEMAP = SourceMapError.DEBUG_ID_NO_SOURCEMAP

MESSAGES: dict[str, str] = {
    UNKNOWN_ERROR: "The frame could not be mapped, for a reason not known.",
    MISSING_RELEASE: "The event has no release, so no release artifact can be looked up.",
    MISSING_USER_AGENT: "The event has no user agent.",
    MISSING_SOURCEMAPPING_URL: "The minified file names no source map (no Sourcemap header, no sourceMappingURL comment).",
    URL_NOT_VALID: "The frame's abs_path is not a valid URL.",
    NO_URL_MATCH: "No artifact of the release matches the frame's abs_path.",
    PARTIAL_MATCH: "An artifact of the release matches the frame's file name but not its full path.",
    DIST_MISMATCH: "An artifact matches the frame's abs_path, but for another dist.",
    SOURCEMAP_NOT_FOUND: "The source map the minified file names was not found among the artifacts.",
    INVALID_ABS_PATH: "The frame's abs_path cannot be used to look up an artifact.",
    MISSING_SOURCE_CONTENT: "The source map holds no content (sourcesContent) for the original file.",
    DEBUG_ID_NO_SOURCEMAP: "An artifact bundle holds the minified file's debug id, but no source map for it.",
}


@dataclass(frozen=True)
class DebugError:
    """One reason a frame did not resolve, as the source map debug endpoint lists them."""

    type: str  # a `SourceMapError`
    message: str
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, type: str, data: dict[str, Any] | None = None) -> DebugError:
        """The error of `type` with its usual message."""
        return cls(str(type), MESSAGES.get(type, MESSAGES[UNKNOWN_ERROR]), data)


def sourcemap_reference(minified: bytes, headers: Mapping[str, str]) -> str | None:
    """The source map a minified file names: its `Sourcemap` (else `X-SourceMap`) header, else
    its last `//# sourceMappingURL=` (or `//@`) comment; as written (see `resolve_reference`)."""
    items = headers.items() if isinstance(headers, Mapping) else ()
    lowered = {k.lower(): v for k, v in items if isinstance(k, str) and isinstance(v, str)}
    for name in ("sourcemap", "x-sourcemap"):
        value = lowered.get(name, "").strip()
        if value:
            return value
    return _last_match(_SOURCEMAP_COMMENT, minified)


def debug_id_comment(minified: bytes) -> str | None:
    """The debug id of the last `//# debugId=<uuid>` comment, normalized; None without one."""
    return normalize_debug_id(_last_match(_DEBUG_ID_COMMENT, minified))


def url_candidates(abs_path: str) -> list[str]:
    """The names a release artifact may have to match a frame's `abs_path`, most precise first:
    the URL (without fragment), without its query, then the same as `~/path` (any host)."""
    if not isinstance(abs_path, str) or not abs_path:
        return []
    url = abs_path.split("#", 1)[0]
    out = [url, url.split("?", 1)[0]]
    path = _strip_host(url)
    if path and path != "/":
        path = path if path.startswith("/") else "/" + path
        out += ["~" + path, "~" + path.split("?", 1)[0]]
    return list(dict.fromkeys(c for c in out if c))


def resolve_reference(minified_url: str, reference: str) -> str:
    """The URL of the source map `reference` names, relative to the minified file's URL (as a
    browser resolves it; also for `app://` and `~/` URLs). A `data:` URL is returned as is."""
    if reference.startswith("data:"):
        return reference
    return _join(minified_url, reference)


def load_sourcemap(data: bytes) -> SourceMapView | None:
    """The parsed source map (index maps with inline sections are flattened), or None when
    it is too large or not a source map."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > MAX_SOURCEMAP_SIZE:
        return None
    try:
        return SourceMapView.from_json_bytes(bytes(data))
    except (SymbolicError, ValueError, TypeError, OverflowError):
        return None


def apply(frame: Mapping[str, Any], minified: bytes | SourceView | None,
          sourcemap: bytes | SourceMapView, *, sourcemap_url: str | None = None) -> dict[str, Any] | None:
    """The frame mapped to its original source, or None when the map cannot be read or has no
    mapping on the frame's line at or before its column.

    `frame` is a Sentry JS frame (`lineno` and `colno` 1-based; a missing `colno` reads as the
    line's start). The result is a copy of it with `abs_path` (the map's source, `sourceRoot`
    applied, joined to `sourcemap_url`, else to the frame's `abs_path`), `filename` (the
    source as the map names it; for `webpack:` sources the path after the namespace, as
    Sentry shows it), `lineno`, `colno`, `function` (the original name of the enclosing
    function when the map and the minified source tell it; the minified name otherwise), and
    `pre_context`/`context_line`/`post_context` from `sourcesContent` (left out when the map has
    none). Context lines longer than 150 characters are cut as Sentry cuts them: a window of
    140 around the column, marked `{snip}`. `data` (`sourcemap`, `resolved_with`) is left to
    the caller. Pass a `load_sourcemap` result and a `SourceView` to map many frames."""
    if not isinstance(frame, Mapping):
        return None
    position = _position(frame.get("lineno"), frame.get("colno"))
    if position is None:
        return None
    line, col = position
    view = sourcemap if isinstance(sourcemap, SourceMapView) else load_sourcemap(sourcemap)
    if view is None:
        return None
    token = _lookup(view, line, col, frame.get("function"), minified)
    if token is None:
        return None

    source: str = token.src
    abs_path = frame.get("abs_path")
    base = sourcemap_url if isinstance(sourcemap_url, str) else abs_path if isinstance(abs_path, str) else ""
    out = dict(frame)
    for key in ("pre_context", "context_line", "post_context"):
        out.pop(key, None)  # the minified file's context, if any, no longer applies
    out["abs_path"] = _join(base, source)
    out["filename"] = _webpack_filename(source) if source.startswith("webpack:") else source
    out["lineno"] = token.src_line + 1
    out["colno"] = token.src_col + 1
    if token.function_name and token.function_name not in _USELESS_NAMES:
        out["function"] = token.function_name
    out.update(_context(view, token))
    return out


def trim_line(line: str, column: int = 0) -> str:
    """`line` as Sentry shows it in a frame's context: whole up to 150 characters, else a
    window of 140 around `column` (0-based), `{snip}` marking each side that was cut."""
    line = line.rstrip("\r\n")
    size = len(line)
    if size <= MAX_LINE_LENGTH:
        return line
    start = max(min(column, size) - 60, 0)
    if start < 5:  # not worth a snip so close to the edge
        start = 0
    end = min(start + 140, size)
    if end > size - 5:
        end = size
        start = max(end - 140, 0)
    return ("{snip} " if start else "") + line[start:end] + (" {snip}" if end < size else "")


# -- internals


def _position(lineno: object, colno: object) -> tuple[int, int] | None:
    """0-based (line, column) for symbolic, or None when out of what a source map can hold."""
    if type(lineno) is not int or not 1 <= lineno <= _U32:
        return None
    if colno is None:
        return lineno - 1, 0
    if type(colno) is not int or not 0 <= colno <= _U32:
        return None
    return lineno - 1, max(colno - 1, 0)


def _lookup(view: SourceMapView, line: int, col: int, function: object,
            minified: bytes | SourceView | None) -> SourceMapTokenMatch | None:
    minified_view = _source_view(minified) if _encodable(function) else None
    try:
        if minified_view is not None:
            token = view.lookup(line, col, function, minified_view)
        else:
            token = view.lookup(line, col)
    except (SymbolicError, ValueError, TypeError, OverflowError):
        return None
    # symbolic answers the nearest token before the position, even lines above it: a token
    # from another line, or one without an original position, is no mapping for this frame.
    if token is None or token.dst_line != line or token.src_id in (None, _U32) or not token.src:
        return None
    return token


def _source_view(minified: bytes | SourceView | None) -> SourceView | None:
    if isinstance(minified, SourceView):
        return minified
    if not isinstance(minified, (bytes, bytearray, memoryview)) or len(minified) > MAX_MINIFIED_SIZE:
        return None
    try:
        return SourceView.from_bytes(bytes(minified))
    except (SymbolicError, ValueError, TypeError):
        return None


def _encodable(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _context(view: SourceMapView, token: SourceMapTokenMatch) -> dict[str, Any]:
    """Up to 5 lines either side of the token's line from `sourcesContent` (only these 11
    lines are read from it)."""
    try:
        source = view.get_sourceview(token.src_id)
        if source is None:
            return {}
        count = len(source)
        if count and source[count - 1] == "":
            count -= 1  # the "line" after a final newline is none (as str.splitlines has it)
        line = token.src_line
        if line >= count:
            return {}
        col = token.src_col
        lines = source[max(line - CONTEXT_LINES, 0):min(line + CONTEXT_LINES + 1, count)]
    except (SymbolicError, ValueError, TypeError, IndexError, OverflowError):
        return {}
    at = min(line, CONTEXT_LINES)
    return {
        "pre_context": [trim_line(x, col) for x in lines[:at]],
        "context_line": trim_line(lines[at], col),
        "post_context": [trim_line(x, col) for x in lines[at + 1:]],
    }


def _last_match(pattern: re.Pattern[bytes], data: bytes) -> str | None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return None
    found = None
    for found in pattern.finditer(data):
        pass
    if found is None:
        return None
    try:
        return found.group(1).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _strip_host(url: str) -> str:
    """The path (and query) of `url`: after the host of `scheme://host/...`, after `~`."""
    if url.startswith("~"):
        return url[1:]
    if "://" in url:
        rest = url.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else ""
    return url


_TILDE_HOST = "http://tilde.invalid"


def _join(base: str, ref: str) -> str:
    """`ref` resolved against `base` by RFC 3986, for any scheme (urljoin only joins the
    schemes it knows) and for Sentry's `~/path` URLs (any host)."""
    if _SCHEME.match(ref):
        return ref  # absolute already: http:, app:, webpack:, data:...
    try:
        return _join_relative(base, ref)
    except ValueError:  # a base urllib cannot split (`http://[::1/`): the reference as is
        return ref


def _join_relative(base: str, ref: str) -> str:
    if ref.startswith("~/"):
        ref = ref[1:]  # `~/x` is the path `/x` on the base's host
    if base.startswith("~/"):
        joined = urljoin(_TILDE_HOST + base[1:], ref)
        # A protocol-relative reference (`//cdn/x.map`) from a `~/` base has no scheme to take.
        return "~" + joined[len(_TILDE_HOST):] if joined.startswith(_TILDE_HOST + "/") else ref
    scheme = urlsplit(base).scheme if _SCHEME.match(base) else ""
    if not scheme or scheme in ("http", "https"):
        return urljoin(base, ref)
    # Join as http then put the scheme back: `app:///dist/a.js` + `b.map` = `app:///dist/b.map`.
    joined = urljoin("http" + base[len(scheme):], ref)
    return scheme + joined[len("http"):] if joined.startswith("http:") else joined


def _webpack_filename(source: str) -> str:
    """Sentry's short name of a `webpack:` source: `~/...` for a module under `/~/`,
    `./path` for `webpack://namespace/./path`, the path after `webpack:///` otherwise."""
    if "/~/" in source:
        return "~/" + source.split("/~/", 1)[1]
    if _WEBPACK_NAMESPACE.match(source):
        return _WEBPACK_NAMESPACE.sub("./", source, count=1)
    if source.startswith("webpack:///"):
        return source[len("webpack:///"):]
    return source
