"""Debug information files are read with symbolic: a freshly compiled ELF reports the ids its
GNU build id implies and the features it has; zips of several files are expanded safely and
their non-debug members skipped; anything symbolic cannot read, empty, oversized, nil-id,
escaping or bomb-like is refused with a `BadDebugFile`."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from symbolic.debuginfo import normalize_debug_id

from picket.artifacts import zips
from picket.artifacts.difs import MAX_SIZE, BadDebugFile, DifObject, expand, inspect, inspect_upload

SOURCE = "int add(int a, int b) { return a + b; }\nint main(void) { return add(1, 2); }\n"
OTHER = "int sub(int a, int b) { return a - b; }\nint main(void) { return sub(3, 2); }\n"


def _compile(tmp_path: Path, source: str, out: str, *flags: str) -> Path:
    cc = shutil.which("cc") or "/usr/bin/cc"
    src = tmp_path / f"{out}.c"
    src.write_text(source)
    binary = tmp_path / out
    # An explicit build id: some toolchains leave it out by default, and the test is about it.
    subprocess.run([cc, "-O0", *flags, "-Wl,--build-id=sha1", "-o", str(binary), str(src)], check=True)
    return binary


def _gnu_build_id(path: Path) -> str:
    """The NT_GNU_BUILD_ID note of a 64-bit little-endian ELF, read from its section headers."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    for i in range(shnum):
        _, sh_type, _, _, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        if sh_type != 7:  # SHT_NOTE
            continue
        pos, end = offset, offset + size
        while pos + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz]
            desc_at = pos + 12 + (namesz + 3) // 4 * 4
            if name == b"GNU\x00" and note_type == 3:  # NT_GNU_BUILD_ID
                return data[desc_at:desc_at + descsz].hex()
            pos = desc_at + (descsz + 3) // 4 * 4
    raise AssertionError("no GNU build id note")


def _zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for member, data in entries.items():
            zf.writestr(member, data)
    return path


def _source_bundle(debug_id: str) -> bytes:
    buf = io.BytesIO()
    manifest = {"files": {"files/a.c": {"type": "source", "path": "/src/a.c"}},
                "debug_id": debug_id, "object_name": "app", "arch": "x86_64"}
    _zip(buf, {"manifest.json": json.dumps(manifest).encode(), "files/a.c": SOURCE.encode()})  # type: ignore[arg-type]
    return b"SYSB" + struct.pack("<I", 2) + buf.getvalue()


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _compile(tmp_path_factory.mktemp("elf"), SOURCE, "app", "-g")


def test_a_compiled_elf_reports_the_ids_its_build_id_implies(elf: Path) -> None:
    build_id = _gnu_build_id(elf)
    if readelf := shutil.which("readelf"):
        notes = subprocess.run([readelf, "-n", str(elf)], check=True, capture_output=True, text=True).stdout
        assert f"Build ID: {build_id}" in notes

    [obj] = inspect(elf, "app")

    # The debug id is the build id's first 16 bytes read as a little-endian GUID (age 0).
    expected = str(uuid.UUID(bytes_le=bytes.fromhex(build_id)[:16]))
    assert obj.debug_id == expected == normalize_debug_id(expected)
    assert obj.code_id == build_id
    assert obj.cpu_name == "x86_64"
    assert obj.file_format == "elf"
    assert obj.object_name == "app"
    assert obj.kind in ("exe", "lib")  # a PIE executable reads as a shared library
    assert {"symtab", "debug"} <= set(obj.features)
    assert list(obj.features) == sorted(obj.features)


def test_the_object_name_is_the_name_given_not_the_path(elf: Path) -> None:
    assert [o.object_name for o in inspect(elf, "libfoo.so")] == ["libfoo.so"]


def test_a_copy_stripped_of_debug_info_keeps_its_ids_but_lacks_debug(elf: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "app.stripped"
    if objcopy := shutil.which("objcopy"):
        subprocess.run([objcopy, "--strip-debug", str(elf), str(stripped)], check=True)
    else:
        stripped = _compile(tmp_path, SOURCE, "app.nodebug")  # no -g: another build, no DWARF
    [full] = inspect(elf, "app")
    [obj] = inspect(stripped, "app")
    assert "debug" in full.features and "debug" not in obj.features
    if objcopy:
        assert (obj.debug_id, obj.code_id) == (full.debug_id, full.code_id)


def test_a_zip_of_two_elfs_and_a_readme_yields_two_objects(elf: Path, tmp_path: Path) -> None:
    other = _compile(tmp_path, OTHER, "other", "-g")
    upload = _zip(tmp_path / "upload.zip", {
        "Build/Products/app": elf.read_bytes(),
        "other": other.read_bytes(),
        "README": b"Debug files for the 1.0 release.\n",
    })
    workdir = tmp_path / "work"

    found = inspect_upload(upload, "upload.zip", workdir)

    assert sorted(o.object_name for _, o in found) == ["app", "other"]
    assert {o.debug_id for _, o in found} == {inspect(elf, "app")[0].debug_id, inspect(other, "other")[0].debug_id}
    for path, obj in found:
        assert path.parent == workdir and inspect(path, obj.object_name) == [obj]


def test_expand_flattens_member_paths_into_unique_names(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "u.zip", {"a/lib.so": b"1", "b/lib.so": b"2", "c/we ird$name": b"3", "d/": b""})
    out = expand(upload, tmp_path / "x")
    assert [base for _, base in out] == ["lib.so", "lib.so", "we ird$name"]
    assert [p.read_bytes() for p, _ in out] == [b"1", b"2", b"3"]
    assert all(p.parent == tmp_path / "x" for p, _ in out) and len({p for p, _ in out}) == 3


def test_expand_returns_a_file_that_is_not_a_zip_as_it_is(elf: Path, tmp_path: Path) -> None:
    assert expand(elf, tmp_path / "x", name="app.debug") == [(elf, "app.debug")]
    assert expand(elf, tmp_path / "x") == [(elf, "app")]
    assert not (tmp_path / "x").exists()


def test_a_source_bundle_is_a_debug_file_not_a_zip_to_expand(tmp_path: Path) -> None:
    debug_id = "5f6be4cf-0d05-2be2-94c2-c8555f1e39f4"
    bundle = tmp_path / "app.src.zip"
    bundle.write_bytes(_source_bundle(debug_id))
    assert zipfile.is_zipfile(bundle)  # why expand sniffs the first bytes instead

    assert inspect_upload(bundle, "app.src.zip", tmp_path / "w") == [(bundle, DifObject(
        debug_id=debug_id, code_id=None, cpu_name="x86_64", object_name="app.src.zip",
        file_format="sourcebundle", kind="src", features=("sources",)))]


@pytest.mark.parametrize("data", [b"\x00" * 64, b"this is not an object file\n", b"\x7fELF" + b"\x00" * 60,
                                  b"MZ" + b"\x00" * 200])
def test_what_symbolic_cannot_read_is_a_bad_debug_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk"
    path.write_bytes(data)
    with pytest.raises(BadDebugFile, match="'junk' is not a debug information file"):
        inspect(path, "junk")
    # A single file keeps its own reason through inspect_upload.
    with pytest.raises(BadDebugFile, match="'junk' is not a debug information file"):
        inspect_upload(path, "junk", tmp_path / "w")


def test_an_empty_file_is_a_bad_debug_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    with pytest.raises(BadDebugFile, match="'empty' is empty"):
        inspect_upload(path, "empty", tmp_path / "w")


def test_a_broken_object_inside_a_readable_container_is_a_bad_debug_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.src.zip"
    path.write_bytes(b"SYSB" + struct.pack("<I", 2) + b"PK\x05\x06" + b"\x00" * 18)
    with pytest.raises(BadDebugFile, match="not a debug information file"):
        inspect(path, "bad.src.zip")


def test_objects_without_a_debug_id_are_skipped(tmp_path: Path) -> None:
    nil = tmp_path / "nil.sym"
    nil.write_bytes(b"MODULE Linux x86_64 000000000000000000000000000000000 app\nFUNC 1000 10 0 main\n")
    with pytest.raises(BadDebugFile, match="no object with a debug identifier"):
        inspect(nil, "nil.sym")
    aged = tmp_path / "aged.sym"  # a zero uuid with an age is still an id
    aged.write_bytes(b"MODULE Linux x86_64 000000000000000000000000000000001 app\nFUNC 1000 10 0 main\n")
    assert [o.debug_id for o in inspect(aged, "aged.sym")] == ["00000000-0000-0000-0000-000000000000-1"]


def test_a_file_over_the_size_limit_is_refused_before_symbolic_reads_it(elf: Path) -> None:
    assert MAX_SIZE == 2 * 1024 ** 3
    with pytest.raises(BadDebugFile, match="larger than 1000 bytes"):
        inspect(elf, "app", max_size=1000)


def test_a_zip_without_any_debug_file_is_refused(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "u.zip", {"README": b"hello", "nil.sym": b"MODULE Linux x86_64 0000 app\n"})
    with pytest.raises(BadDebugFile, match="'u.zip' holds no debug information file"):
        inspect_upload(upload, "u.zip", tmp_path / "w")
    empty = _zip(tmp_path / "empty.zip", {})
    with pytest.raises(BadDebugFile, match="holds no debug information file"):
        inspect_upload(empty, "empty.zip", tmp_path / "w2")


def test_a_member_escaping_the_archive_refuses_the_whole_upload(elf: Path, tmp_path: Path) -> None:
    # Refused as a whole (the archive's own reason, as a BadDebugFile), not just skipped: a
    # client sending such a name is not uploading debug files in good faith.
    upload = _zip(tmp_path / "u.zip", {"app": elf.read_bytes(), "../escape": elf.read_bytes()})
    work = tmp_path / "deep" / "work"
    with pytest.raises(BadDebugFile, match="outside it") as info:
        inspect_upload(upload, "u.zip", work)
    assert not isinstance(info.value, zips.BadArchive)
    assert not (tmp_path / "deep" / "escape").exists() and list(work.iterdir()) == []


def test_a_zip_bomb_member_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "bomb.zip", {"README": b"hi", "bomb": b"\x00" * (8 * 1024 * 1024)})
    assert upload.stat().st_size < 64 * 1024
    work = tmp_path / "work"
    with pytest.raises(BadDebugFile, match="expands more than 200 times"):
        expand(upload, work)
    assert list(work.iterdir()) == []
    with pytest.raises(BadDebugFile, match="larger than 1024 bytes"):
        expand(_zip(tmp_path / "big.zip", {"big": b"\x01" * 2048}, zipfile.ZIP_STORED), tmp_path / "w2",
               zips.ZipLimits(max_member_size=1024))
