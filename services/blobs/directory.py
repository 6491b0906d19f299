"""Blobs as files in a directory, fanned out by name (`root/ab/cd/abcd…`) so that no single
directory has to hold millions of entries."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from picket.blobs.store import BlobMissing, check_name


class DirectoryBlobStore:
    """A `BlobStore` in a local directory (created when missing)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha1: str) -> Path:
        check_name(sha1)
        return self.root / sha1[:2] / sha1[2:4] / sha1

    def put(self, sha1: str, data: bytes) -> None:
        path = self._path(sha1)
        if path.is_file():
            return  # same name, same bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file in the same directory, renamed over the name: the rename is atomic on
        # one filesystem, so a reader finds no file or the whole blob. Temporary names start with
        # a dot and are never valid blob names, so one left by a crash is never read.
        fd, temp = tempfile.mkstemp(prefix=f".{sha1}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)  # the rename itself survives a power loss

    def get(self, sha1: str) -> bytes:
        try:
            return self._path(sha1).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(sha1) from None

    def present(self, sha1s: Iterable[str]) -> set[str]:
        names = [check_name(s) for s in sha1s]  # all checked before any is looked up
        return {s for s in names if self._path(s).is_file()}

    def delete(self, sha1: str) -> None:
        # Empty fan-out directories stay: removing one would race with a put creating a file in it.
        self._path(sha1).unlink(missing_ok=True)

    def close(self) -> None:
        pass


def _fsync_dir(path: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # not POSIX: directories cannot be opened to be synced
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
