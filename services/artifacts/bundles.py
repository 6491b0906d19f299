"""Artifact bundles as `sentry-cli sourcemaps upload` makes them: a zip whose `manifest.json`
names the files it holds:

    {"files": {"<path in the zip>": {"type": "minified_source", "url": "~/static/app.js",
                                     "headers": {"Sourcemap": "app.js.map", "debug-id": "..."}}},
     "debug_id": "...", "org": "...", "project": "...", "release": "...", "dist": "..."}

The archive is hostile input: `open_bundle` refuses it with a `zips.BadArchive` (a message for
the client) when the manifest is missing, not a JSON object, too large, names a file the zip
does not hold, or gives a field of the wrong type; names that escape the archive and zip bombs
are refused by `zips.members`. Header names are lowercased; debug ids are normalized to the
lowercase hyphenated UUID form, and one that is not a UUID reads as None (not an error).
Files the manifest does not name are left out; members `members` checked are the only ones read.
"""

from __future__ import annotations

import json
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from picket.artifacts.zips import DEFAULT_LIMITS, BadArchive, ZipLimits, members, read_member

MANIFEST = "manifest.json"
MAX_MANIFEST_SIZE = 16 * 1024 * 1024

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


@dataclass(frozen=True)
class BundleFile:
    path: str  # the member's name in the zip
    type: str | None  # "minified_source", "source_map", "source", "indexed_ram_bundle", ...
    url: str | None  # "~/static/app.js" or a full URL
    headers: dict[str, str]  # names lowercased
    debug_id: str | None  # from the `debug-id` header, normalized
    size: int  # uncompressed, as the zip declares it


@dataclass(frozen=True)
class Bundle:
    debug_id: str | None
    release: str | None
    dist: str | None
    files: tuple[BundleFile, ...]


def normalize_debug_id(value: object) -> str | None:
    """`value` as a lowercase hyphenated UUID when it is one (hyphenated or 32 hex digits),
    else None."""
    if not isinstance(value, str) or len(value) > 36 or not _UUID.fullmatch(value):
        return None
    # The pattern allows hyphens anywhere among the five groups; only 0 or 4 make a UUID.
    if value.count("-") not in (0, 4):
        return None
    h = value.replace("-", "").lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def open_bundle(zf: zipfile.ZipFile, limits: ZipLimits = DEFAULT_LIMITS) -> Bundle:
    """The bundle `zf` holds, as its manifest describes it (files in the manifest's order)."""
    infos = {info.filename: info for info in members(zf, limits)}
    info = infos.get(MANIFEST)
    if info is None:
        raise BadArchive("The artifact bundle has no manifest.json.")
    if info.file_size > MAX_MANIFEST_SIZE:
        raise BadArchive(f"The bundle's manifest.json is larger than {MAX_MANIFEST_SIZE} bytes.")
    manifest = _parse_manifest(_read(zf, info, limits))

    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BadArchive("The bundle's manifest.json has no `files` object.")
    out = []
    for path, entry in files.items():
        where = f"manifest.json: files[{path[:200]!r}]"
        _text(path, where)
        if not isinstance(entry, dict):
            raise BadArchive(f"{where} is not an object.")
        member = infos.get(path)
        if member is None:
            raise BadArchive(f"{where} names a file the bundle does not hold.")
        headers = _headers(entry.get("headers"), where)
        out.append(BundleFile(
            path=path,
            type=_optional_text(entry.get("type"), f"{where}.type"),
            url=_optional_text(entry.get("url"), f"{where}.url"),
            headers=headers,
            debug_id=normalize_debug_id(headers.get("debug-id")),
            size=member.file_size,
        ))
    return Bundle(
        debug_id=normalize_debug_id(manifest.get("debug_id")),
        release=_optional_text(manifest.get("release"), "manifest.json: release"),
        dist=_optional_text(manifest.get("dist"), "manifest.json: dist"),
        files=tuple(out),
    )


def read_file(zf: zipfile.ZipFile, bundle_file: BundleFile, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of one file of a bundle `open_bundle` accepted from the same `zf` (never more
    than the size the zip declares for it, nor `limits.max_member_size`)."""
    try:
        info = zf.getinfo(bundle_file.path)
    except KeyError:
        raise BadArchive(f"The bundle does not hold {bundle_file.path[:200]!r}.") from None
    if info.file_size > limits.max_member_size:
        raise BadArchive(f"{info.filename[:200]!r} is larger than {limits.max_member_size} bytes.")
    return _read(zf, info, limits)


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits) -> bytes:
    # `read_member` lets a corrupt deflate or xz stream escape as zlib.error / LZMAError.
    try:
        return read_member(zf, info, limits)
    except (zlib.error, lzma.LZMAError) as exc:
        raise BadArchive(f"{info.filename[:200]!r} cannot be read ({exc}).") from None


def _parse_manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except RecursionError:
        raise BadArchive("The bundle's manifest.json nests too deeply.") from None
    except ValueError as exc:  # also invalid UTF-8 and integers of too many digits
        raise BadArchive(f"The bundle's manifest.json is not valid JSON ({str(exc)[:200]}).") from None
    if not isinstance(manifest, dict):
        raise BadArchive("The bundle's manifest.json is not a JSON object.")
    return manifest


def _headers(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadArchive(f"{where}.headers is not an object.")
    out: dict[str, str] = {}
    for name, header in value.items():
        _text(name, f"{where}.headers")
        # Names are case-insensitive; when two differ only in case, the last one wins.
        out[name.lower()] = _text(header, f"{where}.headers[{name[:100]!r}]")
    return out


def _optional_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BadArchive(f"{where} is not a string.")
    # JSON may spell lone surrogates (\ud800), which no UTF-8 consumer downstream can take.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadArchive(f"{where} is not valid Unicode.") from None
    return value
