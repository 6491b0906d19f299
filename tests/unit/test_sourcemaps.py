"""Source maps applied to JS frames: a hand-built map of a tiny source (its `mappings` written by a
VLQ encoder here, each segment named by the code it maps), the terser-made fixture of
tests/fixtures/sourcemaps, hostile maps and frames, and the URL helpers Sentry's lookup uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from symbolic.sourcemap import SourceView

from picket.artifacts import sourcemaps
from picket.artifacts.sourcemaps import (
    DebugError, SourceMapError, apply, debug_id_comment, load_sourcemap, resolve_reference,
    sourcemap_reference, trim_line, url_candidates,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"

ORIGINAL = (
    "function add(first, second) {\n"  # 1
    "  return first + second;\n"  # 2
    "}\n"  # 3
    "function fail(reason) {\n"  # 4
    "  throw new Error(reason);\n"  # 5
    "}\n"  # 6
    'fail("boom");\n'  # 7
)
MINIFIED_LINE = 'function a(n,r){return n+r}function b(n){throw new Error(n)}b("boom");'
MINIFIED = (MINIFIED_LINE + "\n//# sourceMappingURL=app.min.js.map\n").encode()
NAMES = ["add", "first", "second", "fail", "reason", "Error"]

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _vlq(n: int) -> str:
    value = (-n << 1) | 1 if n < 0 else n << 1
    out = ""
    while True:
        digit, value = value & 31, value >> 5
        out += _B64[digit | (32 if value else 0)]
        if not value:
            return out


def _at(text: str, needle: str, after: int = 0) -> int:
    return text.index(needle, after)


def _segments() -> list[tuple[int, int, int, str | None]]:
    """(minified column, original line, original column, name): 0-based, located by text."""
    m, o = MINIFIED_LINE, ORIGINAL.splitlines()
    fa, fb = _at(m, "function a"), _at(m, "function b")
    call = _at(m, 'b("boom")')
    return [
        (fa, 0, 0, None),
        (fa + 9, 0, 9, "add"),
        (_at(m, "n,r"), 0, _at(o[0], "first"), "first"),
        (_at(m, "r)"), 0, _at(o[0], "second"), "second"),
        (_at(m, "return"), 1, 2, None),
        (_at(m, "n+r"), 1, _at(o[1], "first"), "first"),
        (_at(m, "n+r") + 2, 1, _at(o[1], "second"), "second"),
        (fb, 3, 0, None),
        (fb + 9, 3, 9, "fail"),
        (fb + 11, 3, _at(o[3], "reason"), "reason"),
        (_at(m, "throw"), 4, 2, None),
        (_at(m, "new"), 4, _at(o[4], "new"), None),
        (_at(m, "Error"), 4, _at(o[4], "Error"), "Error"),
        (_at(m, "(n)", fb + 20) + 1, 4, _at(o[4], "reason"), "reason"),
        (call, 6, 0, "fail"),
    ]


def _mappings(segments: list[tuple[int, int, int, str | None]]) -> str:
    """One generated line of segments, fields relative to the previous segment."""
    out, prev = [], [0, 0, 0, 0]
    for col, line, src_col, name in segments:
        fields = [col - prev[0], 0, line - prev[1], src_col - prev[2]]
        prev[:3] = [col, line, src_col]
        if name is not None:
            fields.append(NAMES.index(name) - prev[3])
            prev[3] = NAMES.index(name)
        out.append("".join(_vlq(f) for f in fields))
    return ",".join(out)


def _map(**changes: object) -> dict:
    return {"version": 3, "file": "app.min.js", "sources": ["app.js"], "sourcesContent": [ORIGINAL],
            "names": NAMES, "mappings": _mappings(_segments()), **changes}


SOURCEMAP = json.dumps(_map()).encode()
THROW_COL = MINIFIED_LINE.index("new") + 1  # 1-based, where V8 reports `throw new Error()`


def _frame(**fields: object) -> dict:
    return {"abs_path": "http://example.com/static/app.min.js", "filename": "/static/app.min.js",
            "function": "b", "lineno": 1, "colno": THROW_COL, "in_app": True, **fields}


def test_the_vlq_encoder_matches_the_source_map_spec_examples() -> None:
    assert [_vlq(n) for n in (0, 1, -1, 15, 16, -16, 123)] == ["A", "C", "D", "e", "gB", "hB", "2H"]


def test_every_hand_made_segment_maps_to_its_original_position() -> None:
    view = load_sourcemap(SOURCEMAP)
    assert view is not None
    for col, line, src_col, name in _segments():
        token = view.lookup(0, col)
        assert (token.dst_col, token.src_line, token.src_col, token.name) == (col, line, src_col, name)


def test_the_throw_maps_to_its_original_line_function_and_context() -> None:
    mapped = apply(_frame(), MINIFIED, SOURCEMAP, sourcemap_url="http://example.com/static/app.min.js.map")
    assert mapped == {
        "abs_path": "http://example.com/static/app.js",
        "filename": "app.js",
        "function": "fail",  # the original name of the function `b`
        "lineno": 5,
        "colno": 9,
        "in_app": True,
        "pre_context": ["function add(first, second) {", "  return first + second;", "}",
                        "function fail(reason) {"],
        "context_line": "  throw new Error(reason);",
        "post_context": ["}", 'fail("boom");'],
    }


def test_a_column_inside_a_token_maps_to_the_token_start() -> None:
    mapped = apply(_frame(colno=THROW_COL + 2), MINIFIED, SOURCEMAP)
    assert (mapped["lineno"], mapped["colno"]) == (5, 9)


def test_the_source_joins_the_minified_url_when_no_sourcemap_url_is_given() -> None:
    mapped = apply(_frame(abs_path="app:///dist/app.min.js"), MINIFIED, SOURCEMAP)
    assert mapped["abs_path"] == "app:///dist/app.js"


def test_source_root_applies_to_the_sources() -> None:
    sm = json.dumps(_map(sourceRoot="/src/", sources=["lib/app.js"])).encode()
    mapped = apply(_frame(), MINIFIED, sm, sourcemap_url="https://cdn.example.com/assets/app.min.js.map")
    assert (mapped["abs_path"], mapped["filename"]) == ("https://cdn.example.com/src/lib/app.js", "/src/lib/app.js")


@pytest.mark.parametrize(("source", "abs_path", "filename"), [
    ("webpack:///./src/app.js", "webpack:///./src/app.js", "./src/app.js"),
    ("webpack://my-app/./src/app.js", "webpack://my-app/./src/app.js", "./src/app.js"),
    ("webpack:///~/lodash/lodash.js", "webpack:///~/lodash/lodash.js", "~/lodash/lodash.js"),
    ("webpack:///webpack/bootstrap", "webpack:///webpack/bootstrap", "webpack/bootstrap"),
    ("../src/app.js", "http://example.com/src/app.js", "../src/app.js"),
    ("https://other.example/a.js", "https://other.example/a.js", "https://other.example/a.js"),
])
def test_abs_path_and_filename_as_sentry_shows_them(source: str, abs_path: str, filename: str) -> None:
    sm = json.dumps(_map(sources=[source])).encode()
    mapped = apply(_frame(), MINIFIED, sm, sourcemap_url="http://example.com/static/app.min.js.map")
    assert (mapped["abs_path"], mapped["filename"]) == (abs_path, filename)


def test_without_the_minified_source_the_minified_function_name_stays() -> None:
    mapped = apply(_frame(), None, SOURCEMAP)
    assert (mapped["function"], mapped["lineno"]) == ("b", 5)


def test_a_frame_without_function_is_given_none() -> None:
    frame = _frame()
    del frame["function"]
    mapped = apply(frame, MINIFIED, SOURCEMAP)
    assert "function" not in mapped and mapped["lineno"] == 5


def test_the_top_level_call_keeps_its_minified_function() -> None:
    mapped = apply(_frame(function="?", colno=MINIFIED_LINE.index('b("boom")') + 1), MINIFIED, SOURCEMAP)
    assert (mapped["lineno"], mapped["colno"], mapped["function"]) == (7, 1, "?")
    assert mapped["post_context"] == []  # the final newline ends the last line, adds none


def test_a_missing_colno_reads_as_the_line_start() -> None:
    frame = _frame()
    del frame["colno"]
    assert apply(frame, MINIFIED, SOURCEMAP)["lineno"] == 1


def test_the_minified_context_is_replaced_or_dropped() -> None:
    frame = _frame(pre_context=["min"], context_line="min", post_context=["min"])
    assert apply(frame, MINIFIED, SOURCEMAP)["context_line"] == "  throw new Error(reason);"
    no_content = json.dumps(_map(sourcesContent=[None])).encode()
    mapped = apply(frame, MINIFIED, no_content)
    assert mapped["lineno"] == 5
    assert not {"pre_context", "context_line", "post_context"} & mapped.keys()
    without = json.dumps({k: v for k, v in _map().items() if k != "sourcesContent"}).encode()
    assert "context_line" not in apply(frame, MINIFIED, without)


def test_the_input_frame_is_not_changed() -> None:
    frame = _frame()
    apply(frame, MINIFIED, SOURCEMAP)
    assert frame == _frame()


def test_a_line_without_mapping_is_none() -> None:
    # Line 2 holds the sourceMappingURL comment; the map has no segment there (nor past it).
    assert apply(_frame(lineno=2, colno=5), MINIFIED, SOURCEMAP) is None
    assert apply(_frame(lineno=1000, colno=1), MINIFIED, SOURCEMAP) is None


def test_a_column_before_the_first_segment_is_none() -> None:
    segments = [s for s in _segments() if s[0] >= MINIFIED_LINE.index("function b")]
    sm = json.dumps(_map(mappings=_mappings(segments))).encode()
    assert apply(_frame(colno=1), MINIFIED, sm) is None
    assert apply(_frame(), MINIFIED, sm)["lineno"] == 5


def test_a_segment_without_source_is_no_mapping() -> None:
    sm = json.dumps(_map(mappings="A")).encode()  # a generated column only
    assert apply(_frame(colno=1), MINIFIED, sm) is None


def test_an_index_map_with_inline_sections_is_supported() -> None:
    index = {"version": 3, "sections": [
        {"offset": {"line": 0, "column": 0}, "map": _map(sources=["vendor.js"])},
        {"offset": {"line": 3, "column": 0}, "map": _map()},
    ]}
    mapped = apply(_frame(lineno=4), None, json.dumps(index).encode())
    assert (mapped["filename"], mapped["lineno"], mapped["colno"]) == ("app.js", 5, 9)
    assert apply(_frame(lineno=1), None, json.dumps(index).encode())["filename"] == "vendor.js"


def test_an_index_map_with_url_sections_is_none() -> None:
    index = {"version": 3, "sections": [{"offset": {"line": 0, "column": 0}, "url": "http://example.com/a.map"}]}
    assert apply(_frame(), None, json.dumps(index).encode()) is None


@pytest.mark.parametrize("sourcemap", [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b'{"version": 3}',
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps(_map(mappings=5)).encode(),
    json.dumps(_map(sources="app.js")).encode(),
    json.dumps(_map(sources=[1])).encode(),
    json.dumps(_map(sources=[None])).encode(),
    json.dumps(_map(names="add")).encode(),
    json.dumps(_map(sourcesContent=[5])).encode(),
    json.dumps(_map(sourceRoot=["/"])).encode(),
    json.dumps(_map(version="3")).encode(),
    json.dumps(_map(mappings="A" + "g" * 40 + "B")).encode(),  # a VLQ of 2^200
    json.dumps(_map(mappings="ACAA")).encode(),  # source index 1 of 1 source
    json.dumps(_map(mappings="ADAA")).encode(),  # source index -1
    json.dumps(_map(mappings="AA" + _vlq(2**64) + "A")).encode(),  # an original line of 2^64
    json.dumps(_map(mappings="AAAA" + "A" * 1000)).encode(),  # a segment of 1004 fields
])
def test_a_sourcemap_that_is_not_one_is_none(sourcemap: bytes) -> None:
    assert apply(_frame(), MINIFIED, sourcemap) is None


@pytest.mark.parametrize("line", [2**31, 2**32, 2**40, -(2**40)])
def test_an_original_line_past_what_a_map_holds_answers_without_raising(line: int) -> None:
    # symbolic keeps the low 32 bits of such a line: the answer is some line, never an error.
    mapped = apply(_frame(colno=1), None, json.dumps(_map(mappings="AA" + _vlq(line) + "A")).encode())
    assert mapped is not None and 1 <= mapped["lineno"] <= 2**32


def test_a_sourcemap_over_the_cap_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sourcemaps, "MAX_SOURCEMAP_SIZE", len(SOURCEMAP) - 1)
    assert load_sourcemap(SOURCEMAP) is None
    assert apply(_frame(), MINIFIED, SOURCEMAP) is None


def test_a_minified_source_over_the_cap_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sourcemaps, "MAX_MINIFIED_SIZE", len(MINIFIED) - 1)
    assert apply(_frame(), MINIFIED, SOURCEMAP)["function"] == "b"


@pytest.mark.parametrize(("lineno", "colno"), [
    (2**70, THROW_COL), (2**32, THROW_COL), (-1, THROW_COL), (0, THROW_COL), (None, THROW_COL),
    ("1", THROW_COL), (1.0, THROW_COL), (True, THROW_COL), ([1], THROW_COL),
    (1, 2**70), (1, 2**32), (1, -1), (1, "42"), (1, 4.5), (1, True),
])
def test_a_position_out_of_range_or_of_the_wrong_type_is_none(lineno: object, colno: object) -> None:
    assert apply(_frame(lineno=lineno, colno=colno), MINIFIED, SOURCEMAP) is None


def test_the_largest_positions_answer_without_raising() -> None:
    assert apply(_frame(lineno=2**32 - 1, colno=2**32 - 1), MINIFIED, SOURCEMAP) is None
    assert apply(_frame(lineno=1, colno=2**32 - 1), MINIFIED, SOURCEMAP)["lineno"] == 7


@pytest.mark.parametrize("frame", [None, [], "frame", {"colno": 1}, {}])
def test_a_frame_that_is_not_one_is_none(frame: object) -> None:
    assert apply(frame, MINIFIED, SOURCEMAP) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("function", ["b\udc80", 42, "", ["b"]])
def test_a_function_name_that_cannot_be_looked_up_is_kept(function: object) -> None:
    mapped = apply(_frame(function=function), MINIFIED, SOURCEMAP)
    assert (mapped["lineno"], mapped["function"]) == (5, function)


@pytest.mark.parametrize("minified", [b"\xff\xfe\xfd not utf-8", b"", "a str", 42])
def test_a_minified_source_that_is_not_one_keeps_the_mapping(minified: object) -> None:
    mapped = apply(_frame(), minified, SOURCEMAP)  # type: ignore[arg-type]
    assert (mapped["lineno"], mapped["colno"]) == (5, 9)


def test_a_loaded_map_and_source_view_serve_many_frames() -> None:
    view, source = load_sourcemap(SOURCEMAP), SourceView.from_bytes(MINIFIED)
    assert [apply(_frame(colno=c), source, view)["lineno"] for c in (1, THROW_COL)] == [1, 5]


def test_context_lines_are_trimmed_around_the_column_as_sentry_does() -> None:
    long = "x" * 100 + "throw new Error(boom);" + "y" * 200  # 322 characters
    original = "a\n" * 7 + long + "\n" + "b\n" * 7
    sm = {"version": 3, "sources": ["big.js"], "sourcesContent": [original], "names": []}
    at_start = apply({"lineno": 1, "colno": 1}, None, json.dumps(dict(sm, mappings="AAOA")).encode())
    assert (at_start["lineno"], at_start["colno"]) == (8, 1)
    assert at_start["pre_context"] == ["a"] * 5 and at_start["post_context"] == ["b"] * 5
    assert at_start["context_line"] == long[:140] + " {snip}"
    at_throw = apply({"lineno": 1, "colno": 1}, None, json.dumps(dict(sm, mappings="AAO" + _vlq(100))).encode())
    assert (at_throw["lineno"], at_throw["colno"]) == (8, 101)
    assert at_throw["context_line"] == "{snip} " + long[40:180] + " {snip}"
    assert at_throw["context_line"].index("throw new Error") == len("{snip} ") + 60


@pytest.mark.parametrize(("column", "expected"), [
    (0, "l" * 140 + " {snip}"),
    (64, "l" * 140 + " {snip}"),  # a start of 4 rounds down to 0
    (100, "{snip} " + "l" * 140 + " {snip}"),
    (280, "{snip} " + "l" * 140),  # near the end: the last 140
    (10_000, "{snip} " + "l" * 140),
])
def test_trim_line(column: int, expected: str) -> None:
    assert trim_line("l" * 300, column) == expected
    assert trim_line("short line\n", column) == "short line"
    assert trim_line("m" * 150, column) == "m" * 150


def test_the_fixture_throw_maps_back_to_line_8_of_src_app_js() -> None:
    minified = (FIXTURE / "dist" / "app.min.js").read_bytes()
    sm = (FIXTURE / "dist" / "app.min.js.map").read_bytes()
    original = (FIXTURE / "src" / "app.js").read_text().splitlines()
    assert sourcemap_reference(minified, {}) == "app.min.js.map"
    assert json.loads(sm)["sources"] == ["../src/app.js"]
    # V8 reports `throw new TypeError(...)` at the `new` (node dist/app.min.js: 1:86).
    throw_col = minified.index(b"throw new TypeError") + len(b"throw ") + 1
    assert throw_col == 86
    base = "http://example.com/dist/app.min.js"
    frames = [("t", 86, 8, 11, "lineTotal"), ("r", 198, 16, 17, "orderTotal"), ("e", 260, 22, 17, "checkout")]
    view, source = load_sourcemap(sm), SourceView.from_bytes(minified)
    for function, col, line, src_col, original_function in frames:
        frame = {"abs_path": base, "filename": "/dist/app.min.js", "function": function, "lineno": 1, "colno": col}
        mapped = apply(frame, source, view, sourcemap_url=resolve_reference(base, "app.min.js.map"))
        assert (mapped["abs_path"], mapped["filename"]) == ("http://example.com/src/app.js", "../src/app.js")
        assert (mapped["lineno"], mapped["colno"], mapped["function"]) == (line, src_col, original_function)
        assert mapped["context_line"] == original[line - 1]
        assert mapped["pre_context"] == original[line - 6:line - 1]
    assert "throw new TypeError" in original[7]


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Sourcemap": "from-header.map"}, "from-header.map"),
    ({"sourcemap": "a.map", "X-SourceMap": "b.map"}, "a.map"),
    ({"X-SourceMap": "b.map"}, "b.map"),
    ({"SourceMap": "  "}, "app.min.js.map"),  # blank: the comment
    ({"content-type": "text/javascript"}, "app.min.js.map"),
    ({}, "app.min.js.map"),
    ({1: "x.map", "sourcemap": None}, "app.min.js.map"),  # entries of the wrong type are ignored
    (None, "app.min.js.map"),
])
def test_sourcemap_reference_prefers_the_header(headers: dict, expected: str) -> None:
    assert sourcemap_reference(MINIFIED, headers) == expected


@pytest.mark.parametrize(("minified", "expected"), [
    (b"a();\n//# sourceMappingURL=one.map\nb();\n//# sourceMappingURL=two.map", "two.map"),
    (b"a();\n//@ sourceMappingURL=old.map\n", "old.map"),
    (b"a();\r\n//# sourceMappingURL=crlf.map\r\n", "crlf.map"),
    (b"a();\n  //# sourceMappingURL=data:application/json;base64,e30=\n", "data:application/json;base64,e30="),
    (b'var s = "//# sourceMappingURL=inside-a-string.map";', None),
    (b"a();\n//# sourceMappingURL=\n", None),
    (b"a();\n//# sourceMappingURL=\xff\xfe.map\n", None),
    (b"", None),
    (b"\n" * 100_000, None),
])
def test_sourcemap_reference_takes_the_last_comment(minified: bytes, expected: str | None) -> None:
    assert sourcemap_reference(minified, {}) == expected


def test_debug_id_comment() -> None:
    uuid = "2f1b8e54-4a4a-4f64-9c7d-0b1b3c7e9a10"
    assert debug_id_comment(b"a();\n//# debugId=" + uuid.upper().encode() + b"\n") == uuid
    assert debug_id_comment(b"a();\n//# debugId=" + uuid.replace("-", "").encode()) == uuid
    assert debug_id_comment(b"a();\n//# debugId=nope\n") is None
    assert debug_id_comment(b"a();\n") is None


@pytest.mark.parametrize(("abs_path", "expected"), [
    ("http://example.com/static/app.min.js?v=1", ["http://example.com/static/app.min.js?v=1",
                                                  "http://example.com/static/app.min.js",
                                                  "~/static/app.min.js?v=1", "~/static/app.min.js"]),
    ("https://example.com/static/app.js#frag", ["https://example.com/static/app.js", "~/static/app.js"]),
    ("app:///dist/main.js", ["app:///dist/main.js", "~/dist/main.js"]),
    ("/static/x.js", ["/static/x.js", "~/static/x.js"]),
    ("~/static/x.js", ["~/static/x.js"]),
    ("http://example.com", ["http://example.com"]),
    ("", []),
])
def test_url_candidates(abs_path: str, expected: list[str]) -> None:
    assert url_candidates(abs_path) == expected


@pytest.mark.parametrize(("minified_url", "reference", "expected"), [
    ("http://example.com/static/app.min.js", "app.min.js.map", "http://example.com/static/app.min.js.map"),
    ("http://example.com/static/app.min.js?v=1", "../maps/app.map", "http://example.com/maps/app.map"),
    ("http://example.com/static/app.min.js", "/maps/app.map", "http://example.com/maps/app.map"),
    ("http://example.com/static/app.min.js", "//cdn.example.com/app.map", "http://cdn.example.com/app.map"),
    ("http://example.com/static/app.min.js", "https://maps.example.com/a.map", "https://maps.example.com/a.map"),
    ("app:///dist/main.js", "main.js.map", "app:///dist/main.js.map"),
    ("app:///dist/main.js", "../../../x.map", "app:///x.map"),
    ("~/static/app.js", "app.js.map", "~/static/app.js.map"),
    ("~/static/app.js", "~/maps/app.js.map", "~/maps/app.js.map"),
    ("/static/app.js", "app.js.map", "/static/app.js.map"),
    ("http://example.com/a.js", "data:application/json;base64,e30=", "data:application/json;base64,e30="),
    ("http://[::1/a.js", "a.map", "a.map"),  # a base urllib cannot split
])
def test_resolve_reference(minified_url: str, reference: str, expected: str) -> None:
    assert resolve_reference(minified_url, reference) == expected


def test_the_error_types_are_those_of_sentrys_source_map_debug() -> None:
    assert [e.value for e in SourceMapError] == [
        "unknown_error", "missing_release", "missing_user_agent", "missing_sourcemapping_url",
        "url_not_valid", "no_url_match", "partial_match", "dist_mismatch", "sourcemap_not_found",
        "invalid_abs_path", "missing_source_content", "debug_id_no_sourcemap",
    ]
    assert sourcemaps.NO_URL_MATCH == "no_url_match"
    assert all(sourcemaps.MESSAGES[e] for e in SourceMapError)
    error = DebugError.of(sourcemaps.PARTIAL_MATCH, {"absPath": "http://example.com/a.js"})
    assert (error.type, error.data) == ("partial_match", {"absPath": "http://example.com/a.js"})
    assert type(error.type) is str and "full path" in error.message
    assert DebugError.of("nonsense").message == sourcemaps.MESSAGES[sourcemaps.UNKNOWN_ERROR]
    with pytest.raises(AttributeError):
        error.type = "x"  # type: ignore[misc]
