"""Reading zip archives a client uploaded, as hostile input: member names that would escape a
directory, archives that expand far beyond their size (zip bombs), and central directories that
lie about sizes are refused with a `BadArchive` whose message can be shown to the client."""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

_COPY = 1024 * 1024


class BadArchive(ValueError):
    """The archive is refused; the message says why (one sentence)."""


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 10_000
    max_member_size: int = 256 * 1024 * 1024
    max_total_size: int = 2 * 1024 * 1024 * 1024
    max_ratio: int = 200  # uncompressed : compressed, per member past 1 MiB


DEFAULT_LIMITS = ZipLimits()


def open_zip(source: str | BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise BadArchive(f"The file is not a readable zip archive ({exc}).") from None


def safe_name(name: str) -> bool:
    """Whether a member name stays inside the directory it is extracted to."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return False
    return all(part not in ("..",) for part in name.split("/"))


def members(zf: zipfile.ZipFile, limits: ZipLimits = DEFAULT_LIMITS) -> list[zipfile.ZipInfo]:
    """The archive's files (directories left out), checked against `limits` as its central
    directory declares them; `read_member`/`copy_member` hold them to it while reading."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > limits.max_members:
        raise BadArchive(f"The archive holds more than {limits.max_members} files.")
    total = 0
    for info in infos:
        if not safe_name(info.filename):
            raise BadArchive(f"The archive names a file outside it: {info.filename[:200]!r}.")
        if info.flag_bits & 0x1:
            raise BadArchive("The archive is encrypted.")
        if info.file_size > limits.max_member_size:
            raise BadArchive(f"{info.filename[:200]!r} is larger than {limits.max_member_size} bytes.")
        if info.file_size > _COPY and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise BadArchive(f"{info.filename[:200]!r} expands more than {limits.max_ratio} times: refused.")
        total += info.file_size
        if total > limits.max_total_size:
            raise BadArchive(f"The archive expands to more than {limits.max_total_size} bytes.")
    return infos


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: BinaryIO,
                limits: ZipLimits = DEFAULT_LIMITS) -> int:
    """Write one member to `dest`, never more than its declared size (nor the limit) even if
    the data says otherwise; the bytes written. Only reading blames the archive: a failure to
    write `dest` is ours and raised as it is."""
    cap = min(info.file_size, limits.max_member_size)
    written = 0
    try:
        src = zf.open(info)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise BadArchive(f"{info.filename[:200]!r} cannot be read ({exc}).") from None
    with src:
        while True:
            try:
                block = src.read(min(_COPY, cap - written + 1))
            except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, OSError, zlib.error,
                    lzma.LZMAError) as exc:
                raise BadArchive(f"{info.filename[:200]!r} cannot be read ({exc}).") from None
            if not block:
                return written
            written += len(block)
            if written > cap:
                raise BadArchive(f"{info.filename[:200]!r} holds more than its declared size.")
            dest.write(block)


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """One member's bytes (see `copy_member`)."""
    out = io.BytesIO()
    copy_member(zf, info, out, limits)
    return out.getvalue()
