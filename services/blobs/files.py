"""Files over a blob store, as ordered chunks each stored under its SHA-1: written from a stream
(`write_file`), read back (`read_file`), or assembled from chunks a client uploaded one by one
(`assemble`, Sentry's chunk-upload protocol). Memory use is bounded by one chunk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from picket.blobs.store import BlobMissing, BlobStore, check_name
from picket.schemas.artifacts import FileRef

CHUNK_SIZE = 8 * 1024 * 1024


class FileTooLarge(ValueError):
    """The file is larger than the limit it was written or assembled under."""


class MissingChunks(ValueError):
    """Chunks the store does not hold: `missing`, in the order requested, each once."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"{len(missing)} chunk(s) are missing: {', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}")
        self.missing = missing


class ChecksumMismatch(ValueError):
    """The assembled bytes do not hash to the checksum given."""


class BadChunk(ValueError):
    """A chunk's bytes do not hash to its name."""


def _sha1(data: bytes = b""):
    # Content addressing, not a security boundary: allowed where FIPS mode forbids SHA-1 otherwise.
    return hashlib.sha1(data, usedforsecurity=False)


def verify_chunk(name: str, data: bytes) -> None:
    """`BadChunk` unless `data` hashes to `name`."""
    if _sha1(data).hexdigest() != name:
        raise BadChunk(f"Chunk {name!r} does not match its contents.")


def _read_up_to(source: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of `source`: a stream may return short reads, and
    chunk boundaries must not depend on how it delivers its bytes (equal files, equal chunks)."""
    data = source.read(size)
    if not data or len(data) == size:
        return data or b""
    parts = bytearray(data)
    while len(parts) < size:
        more = source.read(size - len(parts))
        if not more:
            break
        parts += more
    return bytes(parts)


def write_file(store: BlobStore, source: BinaryIO, *, max_size: int, chunk_size: int = CHUNK_SIZE) -> FileRef:
    """Store `source`, read to its end, as chunks of `chunk_size` bytes (the last may be
    shorter). `FileTooLarge` once more than `max_size` bytes were read: at most `max_size + 1`
    are; chunks stored before that are left for garbage collection."""
    if chunk_size <= 0 or max_size < 0:
        raise ValueError("chunk_size must be positive and max_size not negative.")
    whole = _sha1()
    size = 0
    chunks: list[str] = []
    while True:
        # Never more than one byte past the limit: enough to tell the file is too large.
        data = _read_up_to(source, min(chunk_size, max_size - size + 1))
        if not data:
            break
        size += len(data)
        if size > max_size:
            raise FileTooLarge(f"The file is larger than {max_size} bytes.")
        name = _sha1(data).hexdigest()
        store.put(name, data)
        whole.update(data)
        chunks.append(name)
    return FileRef(sha1=whole.hexdigest(), size=size, chunks=tuple(chunks))


def read_file(store: BlobStore, ref: FileRef) -> Iterator[bytes]:
    """The file's chunks, in order, each fetched when the previous was consumed (`BlobMissing`
    when one is gone)."""
    for name in ref.chunks:
        yield store.get(name)


def assemble(store: BlobStore, chunks: Sequence[str], checksum: str, dest: BinaryIO, *, max_size: int) -> FileRef:
    """Write the chunks, in order, to `dest` and return the file they make.

    `MissingChunks` (before anything is written) when the store lacks some; `BadChunk` when a
    stored chunk does not hash to its name; `FileTooLarge` past `max_size`; `ChecksumMismatch`
    when the whole does not hash to `checksum`. On any of these `dest` may hold a part: the
    caller discards it. Malformed names or checksum: `ValueError`."""
    check_name(checksum)
    chunks = list(chunks)
    held = store.present(chunks)
    missing = [name for name in dict.fromkeys(chunks) if name not in held]
    if missing:
        raise MissingChunks(missing)
    whole = _sha1()
    size = 0
    for name in chunks:
        try:
            data = store.get(name)
        except BlobMissing:
            raise MissingChunks([name]) from None  # deleted since `present` answered
        verify_chunk(name, data)
        size += len(data)
        if size > max_size:
            raise FileTooLarge(f"The file is larger than {max_size} bytes.")
        whole.update(data)
        dest.write(data)
    if whole.hexdigest() != checksum:
        raise ChecksumMismatch(f"The assembled file does not match the checksum {checksum}.")
    return FileRef(sha1=checksum, size=size, chunks=tuple(chunks))
