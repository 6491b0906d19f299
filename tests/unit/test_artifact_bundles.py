"""Artifact bundles as sentry-cli makes them, opened from hostile zips: the manifest read (header
names lowercased, debug ids normalized), and every way a bundle is refused with a `BadArchive`."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from picket.artifacts import bundles, zips
from picket.artifacts.bundles import Bundle, BundleFile, normalize_debug_id, open_bundle, read_file
from picket.artifacts.zips import BadArchive

DEBUG_ID = "2f1b8e54-4a4a-4f64-9c7d-0b1b3c7e9a10"
MINIFIED = b'function a(){throw new Error("x")}a();\n//# sourceMappingURL=app.min.js.map\n'
SOURCEMAP = b'{"version":3,"sources":["app.js"],"names":[],"mappings":"AAAA"}'


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


def _bundle_zip(manifest: object, files: dict[str, bytes] | None = None) -> zipfile.ZipFile:
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return _zip({"manifest.json": raw, **(files or {})})


def _sentry_cli_manifest() -> dict:
    return {
        "org": "acme",
        "project": "web",
        "release": "web@1.0.0",
        "dist": "42",
        "debug_id": DEBUG_ID.replace("-", "").upper(),
        "files": {
            "_/_/static/app.min.js": {
                "type": "minified_source",
                "url": "~/static/app.min.js",
                "headers": {"Sourcemap": "app.min.js.map", "debug-id": DEBUG_ID.upper()},
            },
            "_/_/static/app.min.js.map": {
                "type": "source_map",
                "url": "~/static/app.min.js.map",
                "headers": {"Debug-Id": DEBUG_ID},  # case of names does not matter
            },
        },
    }


def _files() -> dict[str, bytes]:
    return {"_/_/static/app.min.js": MINIFIED, "_/_/static/app.min.js.map": SOURCEMAP}


def test_a_sentry_cli_bundle_reads_as_its_manifest_says() -> None:
    zf = _bundle_zip(_sentry_cli_manifest(), _files())
    bundle = open_bundle(zf)
    assert bundle == Bundle(
        debug_id=DEBUG_ID,
        release="web@1.0.0",
        dist="42",
        files=(
            BundleFile(path="_/_/static/app.min.js", type="minified_source", url="~/static/app.min.js",
                       headers={"sourcemap": "app.min.js.map", "debug-id": DEBUG_ID.upper()},
                       debug_id=DEBUG_ID, size=len(MINIFIED)),
            BundleFile(path="_/_/static/app.min.js.map", type="source_map", url="~/static/app.min.js.map",
                       headers={"debug-id": DEBUG_ID}, debug_id=DEBUG_ID, size=len(SOURCEMAP)),
        ),
    )
    assert read_file(zf, bundle.files[0]) == MINIFIED
    assert read_file(zf, bundle.files[1]) == SOURCEMAP


def test_a_file_without_url_or_debug_id_is_listed_and_a_bad_debug_id_reads_as_none() -> None:
    manifest = {"files": {
        "bare.js": {"type": "source"},
        "odd.js": {"type": "minified_source", "headers": {"debug-id": "not-a-uuid"}},
    }, "debug_id": "12345"}
    bundle = open_bundle(_bundle_zip(manifest, {"bare.js": b"1", "odd.js": b"2", "extra.js": b"3"}))
    assert bundle.debug_id is None and bundle.release is None and bundle.dist is None
    assert [(f.path, f.url, f.debug_id, f.headers) for f in bundle.files] == [
        ("bare.js", None, None, {}),
        ("odd.js", None, None, {"debug-id": "not-a-uuid"}),
    ]  # extra.js, which the manifest does not name, is left out


def test_header_names_differing_only_in_case_keep_the_last() -> None:
    manifest = {"files": {"a.js": {"headers": {"Sourcemap": "one.map", "SOURCEMAP": "two.map"}}}}
    (f,) = open_bundle(_bundle_zip(manifest, {"a.js": b""})).files
    assert f.headers == {"sourcemap": "two.map"}


@pytest.mark.parametrize(("value", "expected"), [
    (DEBUG_ID, DEBUG_ID),
    (DEBUG_ID.upper(), DEBUG_ID),
    (DEBUG_ID.replace("-", ""), DEBUG_ID),
    (DEBUG_ID.replace("-", "").upper(), DEBUG_ID),
    (DEBUG_ID[:-1], None),
    (DEBUG_ID + "0", None),
    (DEBUG_ID.replace("-", "", 1), None),  # hyphens in some places only
    ("{" + DEBUG_ID + "}", None),
    ("g" * 32, None),
    ("", None),
    (None, None),
    (12345, None),
])
def test_debug_ids_normalize_to_lowercase_hyphenated_uuids(value: object, expected: str | None) -> None:
    assert normalize_debug_id(value) == expected


def test_a_zip_without_manifest_is_refused() -> None:
    with pytest.raises(BadArchive, match="no manifest.json"):
        open_bundle(_zip({"app.js": b"x"}))


@pytest.mark.parametrize(("manifest", "match"), [
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"files": {"a.js": {"url": "\xff\xfe"}}}', "not valid JSON"),  # invalid UTF-8
    (b'{"files": {}, "n": ' + b"1" * 10_000 + b"}", "not valid JSON"),  # an integer too long
    (b"[]", "not a JSON object"),
    (b'"files"', "not a JSON object"),
    (b"[" * 10_000 + b"]" * 10_000, "nests too deeply"),
    (b'{"files": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001, "nests too deeply"),
    (b"{}", "no `files` object"),
    (b'{"files": []}', "no `files` object"),
    (b'{"files": "a.js"}', "no `files` object"),
])
def test_a_manifest_that_is_not_a_json_object_with_files_is_refused(manifest: bytes, match: str) -> None:
    with pytest.raises(BadArchive, match=match):
        open_bundle(_bundle_zip(manifest, {"a.js": b""}))


@pytest.mark.parametrize(("entry", "top", "match"), [
    ("a.js", {}, r"files\['a.js'\] is not an object"),
    ({"type": 1}, {}, r"files\['a.js'\].type is not a string"),
    ({"url": ["~/a.js"]}, {}, r"files\['a.js'\].url is not a string"),
    ({"url": "~/\ud800.js"}, {}, r"files\['a.js'\].url is not valid Unicode"),
    ({"headers": ["Sourcemap"]}, {}, r"headers is not an object"),
    ({"headers": {"Sourcemap": 1}}, {}, r"headers\['Sourcemap'\] is not a string"),
    ({"headers": {"debug-id": None}}, {}, r"headers\['debug-id'\] is not a string"),
    ({"headers": {"\udfff": "x"}}, {}, r"headers is not valid Unicode"),
    ({}, {"release": 1}, "release is not a string"),
    ({}, {"dist": {"a": 1}}, "dist is not a string"),
])
def test_fields_of_the_wrong_type_are_refused(entry: object, top: dict, match: str) -> None:
    with pytest.raises(BadArchive, match=match):
        open_bundle(_bundle_zip({"files": {"a.js": entry}, **top}, {"a.js": b""}))


def test_a_manifest_naming_a_file_the_zip_lacks_is_refused() -> None:
    manifest = _sentry_cli_manifest()
    files = _files()
    del files["_/_/static/app.min.js.map"]
    with pytest.raises(BadArchive, match="does not hold"):
        open_bundle(_bundle_zip(manifest, files))


@pytest.mark.parametrize("name", ["../evil.js", "/etc/evil.js", "static\\..\\..\\evil.js", "C:/evil.js", "a/../../evil.js"])
def test_a_member_named_outside_the_archive_is_refused(name: str) -> None:
    zf = _bundle_zip({"files": {name: {"url": "~/evil.js"}}}, {name: b"alert(1)"})
    assert zf.namelist()[-1] == name  # zipfile kept the name as given
    with pytest.raises(BadArchive, match="outside"):
        open_bundle(zf)


def test_a_manifest_naming_a_path_outside_is_refused_even_without_such_member() -> None:
    with pytest.raises(BadArchive, match="does not hold"):
        open_bundle(_bundle_zip({"files": {"../evil.js": {}}}, {"evil.js": b""}))


def test_a_zip_bomb_is_refused_before_it_is_read() -> None:
    bomb = b"\0" * (50 * 1024 * 1024)
    zf = _bundle_zip({"files": {"bomb.js": {"type": "source"}}}, {"bomb.js": bomb})
    info = zf.getinfo("bomb.js")
    assert info.file_size == len(bomb) and info.compress_size < len(bomb) // 200
    with pytest.raises(BadArchive, match="expands more than"):
        open_bundle(zf)


def test_a_manifest_over_16_mib_is_refused() -> None:
    manifest = b'{"files": {}, "pad": "' + b" " * bundles.MAX_MANIFEST_SIZE + b'"}'
    zf = _zip({"manifest.json": manifest}, compression=zipfile.ZIP_STORED)
    with pytest.raises(BadArchive, match="manifest.json is larger than"):
        open_bundle(zf)


def test_a_corrupt_compressed_manifest_is_refused() -> None:
    zf = _bundle_zip({"files": {}, "pad": "abc" * 2000})
    raw = bytearray(zf.fp.getvalue())  # type: ignore[union-attr]
    start = zf.getinfo("manifest.json").header_offset + 30 + len("manifest.json")
    for i in range(start + 2, start + 40):
        raw[i] ^= 0xFF
    with pytest.raises(BadArchive, match="cannot be read"):
        open_bundle(zipfile.ZipFile(io.BytesIO(bytes(raw))))


def _with_raw_name(name: bytes, utf8_flag: bool) -> bytes:
    """A zip holding one member whose name is `name` as bytes (which zipfile cannot write)."""
    placeholder = b"N" * len(name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(placeholder.decode())
        if utf8_flag:
            info.flag_bits |= 0x800
        zf.writestr(info, b"x")
    raw = buf.getvalue().replace(placeholder, name)
    if utf8_flag:  # zipfile only sets the flag for non-ASCII names; set it in both headers
        raw = raw.replace(b"PK\x03\x04\x14\x00\x00\x00", b"PK\x03\x04\x14\x00\x00\x08")
        raw = raw.replace(b"PK\x01\x02\x14\x03\x14\x00\x00\x00", b"PK\x01\x02\x14\x03\x14\x00\x00\x08")
    return raw


def test_a_name_flagged_utf8_that_is_not_is_refused_when_the_zip_is_opened() -> None:
    raw = _with_raw_name(b"app\xff\xfe.js", utf8_flag=True)
    with pytest.raises(BadArchive, match="not a readable zip"):
        zips.open_zip(io.BytesIO(raw))


def test_a_non_utf8_name_without_the_flag_is_read_as_cp437_and_matches_no_manifest_path() -> None:
    raw = _with_raw_name(b"app\xff.js", utf8_flag=False)
    zf = zips.open_zip(io.BytesIO(raw))
    assert zf.namelist() == ["app\u00a0.js"]  # cp437 0xff is a no-break space
    with pytest.raises(BadArchive, match="no manifest.json"):
        open_bundle(zf)


def test_read_file_of_a_path_the_zip_lacks_is_refused() -> None:
    zf = _bundle_zip({"files": {}})
    ghost = BundleFile(path="ghost.js", type=None, url=None, headers={}, debug_id=None, size=1)
    with pytest.raises(BadArchive, match="does not hold"):
        read_file(zf, ghost)


def test_read_file_holds_to_the_member_size_limit() -> None:
    zf = _bundle_zip({"files": {"a.js": {}}}, {"a.js": b"x" * 1000})
    (f,) = open_bundle(zf).files
    with pytest.raises(BadArchive, match="larger than 100 bytes"):
        read_file(zf, f, zips.ZipLimits(max_member_size=100))
