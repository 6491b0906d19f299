"""Files as chunks over a blob store (a directory in tmp_path): written from a stream with bounded
memory and a size limit, read back, and assembled from uploaded chunks, refusing missing,
corrupted or mismatched ones. Blob names never become paths outside the store."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from picket.blobs.directory import DirectoryBlobStore
from picket.blobs.files import (BadChunk, ChecksumMismatch, FileTooLarge, MissingChunks, assemble, read_file,
                                verify_chunk, write_file)
from picket.blobs.store import BlobMissing

DATA = b"0123456789abcdefXY"  # 18 bytes: four chunks of 4 and one of 2


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> DirectoryBlobStore:
    return DirectoryBlobStore(tmp_path / "blobs")


class Trickle(io.RawIOBase):
    """A stream returning at most `step` bytes a read, recording the sizes asked for; endless
    (zeros) when `data` is None."""

    def __init__(self, data: bytes | None, step: int = 1) -> None:
        self.data, self.step, self.pos, self.asked = data, step, 0, []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        if self.data is None:
            n = min(size, self.step)
            self.pos += n
            return b"\0" * n
        piece = self.data[self.pos:self.pos + min(size, self.step)]
        self.pos += len(piece)
        return piece


def test_a_multi_chunk_file_round_trips_as_chunks_named_by_their_sha1(store: DirectoryBlobStore) -> None:
    ref = write_file(store, io.BytesIO(DATA), max_size=100, chunk_size=4)
    pieces = [DATA[i:i + 4] for i in range(0, len(DATA), 4)]
    assert ref.sha1 == sha1(DATA) and ref.size == len(DATA)
    assert ref.chunks == tuple(sha1(p) for p in pieces) and len(ref.chunks) == 5
    assert list(read_file(store, ref)) == pieces


def test_a_file_of_whole_chunks_has_no_empty_last_chunk(store: DirectoryBlobStore) -> None:
    ref = write_file(store, io.BytesIO(b"abcdefgh"), max_size=8, chunk_size=4)
    assert ref.chunks == (sha1(b"abcd"), sha1(b"efgh"))


def test_chunks_do_not_depend_on_how_the_stream_delivers_its_bytes(store: DirectoryBlobStore) -> None:
    whole = write_file(store, io.BytesIO(DATA), max_size=100, chunk_size=4)
    trickled = write_file(store, Trickle(DATA, step=3), max_size=100, chunk_size=4)
    assert trickled == whole


def test_the_source_is_read_in_pieces_no_larger_than_a_chunk(store: DirectoryBlobStore) -> None:
    source = Trickle(DATA * 10, step=1000)
    ref = write_file(store, source, max_size=10_000, chunk_size=16)
    assert ref.size == len(DATA) * 10
    assert all(0 < n <= 16 for n in source.asked)


def test_repeated_content_is_stored_once(store: DirectoryBlobStore) -> None:
    ref = write_file(store, io.BytesIO(b"abcdabcdabcd"), max_size=100, chunk_size=4)
    assert ref.chunks == (sha1(b"abcd"),) * 3
    assert len([p for p in store.root.rglob("*") if p.is_file()]) == 1
    assert b"".join(read_file(store, ref)) == b"abcdabcdabcd"


def test_an_empty_file_has_size_zero_and_no_chunks(store: DirectoryBlobStore) -> None:
    ref = write_file(store, io.BytesIO(b""), max_size=0, chunk_size=4)
    assert (ref.sha1, ref.size, ref.chunks) == (sha1(b""), 0, ())
    assert list(read_file(store, ref)) == []
    out = io.BytesIO()
    assert assemble(store, [], sha1(b""), out, max_size=0) == ref and out.getvalue() == b""


def test_a_file_of_exactly_max_size_is_accepted_and_one_byte_more_is_not(store: DirectoryBlobStore) -> None:
    assert write_file(store, io.BytesIO(b"x" * 10), max_size=10, chunk_size=4).size == 10
    with pytest.raises(FileTooLarge):
        write_file(store, io.BytesIO(b"x" * 11), max_size=10, chunk_size=4)


def test_an_endless_source_is_refused_after_one_byte_past_the_limit(store: DirectoryBlobStore) -> None:
    source = Trickle(None, step=7)
    with pytest.raises(FileTooLarge):
        write_file(store, source, max_size=100, chunk_size=16)
    assert source.pos == 101


def test_a_missing_chunk_makes_read_file_raise_blob_missing(store: DirectoryBlobStore) -> None:
    ref = write_file(store, io.BytesIO(DATA), max_size=100, chunk_size=4)
    store.delete(ref.chunks[2])
    chunks = read_file(store, ref)
    assert next(chunks) == DATA[:4] and next(chunks) == DATA[4:8]
    with pytest.raises(BlobMissing):
        next(chunks)


def test_uploaded_chunks_assemble_into_the_file(store: DirectoryBlobStore) -> None:
    pieces = [DATA[i:i + 4] for i in range(0, len(DATA), 4)]
    for piece in pieces:
        store.put(sha1(piece), piece)
    out = io.BytesIO()
    ref = assemble(store, [sha1(p) for p in pieces], sha1(DATA), out, max_size=len(DATA))
    assert out.getvalue() == DATA
    assert ref == write_file(store, io.BytesIO(DATA), max_size=100, chunk_size=4)


def test_missing_chunks_are_listed_once_each_in_request_order_before_anything_is_written(
        store: DirectoryBlobStore) -> None:
    held = [b"aaaa", b"bbbb"]
    for piece in held:
        store.put(sha1(piece), piece)
    gone1, gone2 = sha1(b"gone-1"), sha1(b"gone-2")
    order = [sha1(b"aaaa"), gone2, sha1(b"bbbb"), gone1, gone2]
    out = io.BytesIO()
    with pytest.raises(MissingChunks) as caught:
        assemble(store, order, sha1(b"whatever"), out, max_size=100)
    assert caught.value.missing == [gone2, gone1]
    assert out.getvalue() == b""


def test_chunks_that_do_not_make_the_checksum_are_refused(store: DirectoryBlobStore) -> None:
    store.put(sha1(b"abcd"), b"abcd")
    with pytest.raises(ChecksumMismatch):
        assemble(store, [sha1(b"abcd")], sha1(b"abce"), io.BytesIO(), max_size=100)


def test_a_chunk_corrupted_on_disk_is_refused(store: DirectoryBlobStore) -> None:
    name = sha1(b"abcd")
    store.put(name, b"abcd")
    path = store.root / name[:2] / name[2:4] / name
    assert path.read_bytes() == b"abcd"
    path.write_bytes(b"abce")
    with pytest.raises(BadChunk):
        assemble(store, [name], sha1(b"abcd"), io.BytesIO(), max_size=100)


def test_assembling_past_max_size_is_refused(store: DirectoryBlobStore) -> None:
    for piece in (b"abcd", b"efgh"):
        store.put(sha1(piece), piece)
    with pytest.raises(FileTooLarge):
        assemble(store, [sha1(b"abcd"), sha1(b"efgh")], sha1(b"abcdefgh"), io.BytesIO(), max_size=7)


def test_verify_chunk_accepts_the_right_name_only() -> None:
    verify_chunk(sha1(b"data"), b"data")
    with pytest.raises(BadChunk):
        verify_chunk(sha1(b"data"), b"date")


BAD_NAMES = ["../etc/passwd", sha1(b"x").upper(), sha1(b"x")[:39], sha1(b"x") + "0", "", "../" + sha1(b"x")[3:],
             sha1(b"x")[:39] + "\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_malformed_names_are_refused_before_touching_storage(store: DirectoryBlobStore, tmp_path: Path,
                                                             name: str) -> None:
    calls = [lambda: store.put(name, b"x"), lambda: store.get(name), lambda: store.present([sha1(b"ok"), name]),
             lambda: store.delete(name)]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["blobs"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_assemble_refuses_malformed_names_rather_than_reporting_them_missing(store: DirectoryBlobStore,
                                                                            name: str) -> None:
    for chunks, checksum in (([name], sha1(b"x")), ([], name)):
        with pytest.raises(ValueError) as caught:
            assemble(store, chunks, checksum, io.BytesIO(), max_size=100)
        assert type(caught.value) is ValueError
