"""Inspecting uploaded debug information files (ELF, Mach-O, PE, PDB, Breakpad, source bundles,
Portable PDB, Wasm...) with symbolic, as Sentry does for `files/dsyms/` and
`files/difs/assemble/`: what objects a file holds and their identifiers. Uploads are hostile
input; everything wrong with one is a `BadDebugFile` whose message can be shown to the client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from symbolic.debuginfo import Archive
from symbolic.exceptions import SymbolicError

from picket.artifacts import zips

MAX_SIZE = 2 * 1024 * 1024 * 1024

# Local file header, or the end record alone (an empty archive). Sniffing the start rather than
# asking `zipfile` matters: source bundles are zips behind a `SYSB` header, and `zipfile` finds
# an archive anywhere near the end of a file, so it would take them (and any file that happens
# to end like one) for an upload to expand.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class BadDebugFile(ValueError):
    """The upload is refused; the message says why (one sentence)."""


@dataclass(frozen=True)
class DifObject:
    """One object of a debug information file, with Sentry's names for its fields."""

    debug_id: str  # lowercase `uuid` or `uuid-age`, as symbolic normalizes it
    code_id: str | None
    cpu_name: str  # e.g. "x86_64", "arm64"
    object_name: str  # the uploaded file's base name
    file_format: str  # "elf", "macho", "pe", "pdb", "breakpad", "sourcebundle", ...
    kind: str | None  # "exe", "dbg", "lib", "sources", ... as symbolic reports it
    features: tuple[str, ...]  # sorted subset of symtab, debug, unwind, sources


def _quoted(name: str) -> str:
    return repr(name[:200])


def _is_nil(debug_id: str) -> bool:
    # Nil means the whole id is zero: a zero uuid with a non-zero age is still an id.
    return not debug_id.replace("-", "").strip("0")


def inspect(path: Path, name: str, *, max_size: int = MAX_SIZE) -> list[DifObject]:
    """Every object of the file at `path` that has a debug id (a fat Mach-O holds several), in
    the file's order. Raises `BadDebugFile` if the file is empty, larger than `max_size`, not
    something symbolic reads, or holds no object with a debug id; a missing file is not bad
    input and raises `OSError`."""
    size = path.stat().st_size
    if size == 0:
        raise BadDebugFile(f"{_quoted(name)} is empty.")
    if size > max_size:
        raise BadDebugFile(f"{_quoted(name)} is larger than {max_size} bytes.")
    found: list[DifObject] = []
    try:
        archive = Archive.open(str(path))
        # Objects are parsed as they are fetched, so a broken slice of a fat file raises here.
        for obj in archive.iter_objects():
            debug_id = (obj.debug_id or "").lower()
            if _is_nil(debug_id):
                continue
            found.append(DifObject(
                debug_id=debug_id,
                code_id=obj.code_id or None,
                cpu_name=obj.arch,
                object_name=name,
                file_format=obj.file_format,
                kind=obj.kind or None,
                features=tuple(sorted(obj.features)),
            ))
    except SymbolicError as exc:
        # Only the first line: later ones carry symbolic's internals.
        reason = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).splitlines()[0]
        raise BadDebugFile(f"{_quoted(name)} is not a debug information file ({reason}).") from None
    if not found:
        raise BadDebugFile(f"{_quoted(name)} holds no object with a debug identifier.")
    return found


def _is_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) in _ZIP_MAGIC


def expand(path: Path, dest_dir: Path, limits: zips.ZipLimits = zips.DEFAULT_LIMITS, *,
           name: str | None = None) -> list[tuple[Path, str]]:
    """The files an upload stands for, each with the base name to report it under: a zip's
    members, extracted into `dest_dir` under names made here (member paths are never used as
    paths), or else the upload itself as `(path, name or path.name)`. A zip refused by `zips`
    (a name escaping it, a bomb, encryption, unreadable) raises `BadDebugFile`."""
    if not _is_zip(path):
        return [(path, name if name is not None else path.name)]
    dest_dir.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, str]] = []
    try:
        with zips.open_zip(str(path)) as zf:
            for index, info in enumerate(zips.members(zf, limits)):
                base = info.filename.rsplit("/", 1)[-1]
                target = dest_dir / f"{index:05d}-{_UNSAFE_CHARS.sub('_', base)[:64]}"
                # "x": never write through something already there (a link planted in dest_dir).
                with target.open("xb") as dest:
                    zips.copy_member(zf, info, dest, limits)
                out.append((target, base))
    except zips.BadArchive as exc:
        raise BadDebugFile(str(exc)) from None
    return out


def inspect_upload(path: Path, name: str, workdir: Path, *,
                   limits: zips.ZipLimits = zips.DEFAULT_LIMITS,
                   max_size: int = MAX_SIZE) -> list[tuple[Path, DifObject]]:
    """`expand` then `inspect`: each object with the file holding it (under `workdir` for a
    zip's members). Members that are not debug files are skipped, as Sentry does; an upload
    holding none raises `BadDebugFile` (a single file's own reason when it is not a zip)."""
    files = expand(path, workdir, limits, name=name)
    if files == [(path, name)]:
        return [(path, obj) for obj in inspect(path, name, max_size=max_size)]
    found: list[tuple[Path, DifObject]] = []
    for member, base in files:
        try:
            found.extend((member, obj) for obj in inspect(member, base, max_size=max_size))
        except BadDebugFile:
            continue
    if not found:
        raise BadDebugFile(f"{_quoted(name)} holds no debug information file.")
    return found
