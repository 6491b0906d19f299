"""Which organization uploaded which chunk. Blobs are shared by content, so a chunk another
organization uploaded must not count as present for this one: knowing a chunk's SHA-1 (a small
release file's checksum is its only chunk's) would otherwise let it assemble, then download,
another organization's bytes. Ownership is a marker blob (empty) named by the SHA-1 of the
organization and the chunk, kept in the same store, so every backend has it for free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from picket.blobs.store import BlobStore


def marker(org_id: int, sha1: str) -> str:
    return hashlib.sha1(f"picket-chunk-owner:{org_id}:{sha1}".encode()).hexdigest()


def claim(blobs: BlobStore, org_id: int, sha1s: Iterable[str]) -> None:
    """Mark the chunks as uploaded by the organization (after they are stored)."""
    for sha1 in sha1s:
        blobs.put(marker(org_id, sha1), b"")


def missing(blobs: BlobStore, org_id: int, chunks: Sequence[str]) -> list[str]:
    """The chunks the organization must (still) upload, in the order given, each once."""
    wanted = list(dict.fromkeys(chunks))
    markers = {c: marker(org_id, c) for c in wanted}
    present = blobs.present([*wanted, *markers.values()])
    return [c for c in wanted if c not in present or markers[c] not in present]
