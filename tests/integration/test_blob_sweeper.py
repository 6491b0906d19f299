"""The sweeper of deleted artifacts' chunks (`picket.agents.blob_sweeper.sweep`) in real
ClickHouse (chdb) and a directory blob store: the rows it reads are what the artifacts context
projects for real events (release files created, then one deleted), written as the projection
consumer writes them.

Two release files share a chunk: deleting one removes only the chunk no live record holds,
and only once the deletion is older than the grace period.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from picket.agents.blob_sweeper import sweep
from picket.artifacts.decide import decide
from picket.artifacts.evolve import fold
from picket.artifacts.project import COLUMNS, project
from picket.artifacts.state import ArtifactState, initial_state
from picket.blobs.directory import DirectoryBlobStore
from picket.decisions import Accepted
from picket.schemas import artifacts as a
from picket.schemas.commands import CommandMeta
from picket.store.client import Store
from picket.store.migrate import migrate

ORG = 7
KEY = a.release_files_key(ORG, "1.0")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
GRACE = 3600.0
_n = iter(range(10**6))

ONLY_FIRST = b"chunk only the first file holds"
SHARED = b"chunk both files hold"
ONLY_SECOND = b"chunk only the second file holds"


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "blob_sweeper_test")
    migrate(s)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _empty_tables(store: Store) -> None:
    for table in ("blob_refs", "blob_gc", "release_files"):
        store.command(f"TRUNCATE TABLE {{db}}.{table}")


@pytest.fixture
def blobs(tmp_path: Path) -> DirectoryBlobStore:
    store = DirectoryBlobStore(tmp_path / "blobs")
    for data in (ONLY_FIRST, SHARED, ONLY_SECOND):
        store.put(_sha1(data), data)
    return store


class Context:
    """The artifacts aggregate of one release, its events projected into the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.state: ArtifactState = initial_state(KEY)

    def execute(self, command: object) -> None:
        decision = decide(KEY, self.state, command)
        assert isinstance(decision, Accepted) and decision.events, decision
        self.state = fold(self.state, decision.events)
        for event in decision.events:
            for table, rows in project(event).items():
                if table in ("blob_refs", "blob_gc", "release_files"):
                    self.store.insert(table, rows, COLUMNS[table])

    def create(self, file_id: int, name: str, chunks: tuple[bytes, ...], at: datetime) -> None:
        ref = a.FileRef(sha1=_sha1(b"".join(chunks)), size=sum(map(len, chunks)), chunks=tuple(map(_sha1, chunks)))
        f = a.ReleaseFile(id=file_id, org_id=ORG, release="1.0", name=name, file=ref, date_created=at)
        self.execute(a.CreateReleaseFile(meta=CommandMeta(command_id=f"c{next(_n)}", issued_at=at), org_id=ORG,
                                         release_file=f))

    def delete(self, file_id: int, at: datetime) -> None:
        self.execute(a.DeleteReleaseFile(meta=CommandMeta(command_id=f"c{next(_n)}", issued_at=at), org_id=ORG,
                                         release="1.0", file_id=file_id))


def _gc(store: Store) -> list[str]:
    return sorted(sha1 for (sha1,) in store.query("SELECT sha1 FROM {db}.blob_gc FINAL"))


def _two_files_then_the_first_deleted(store: Store, deleted_at: datetime) -> Context:
    ctx = Context(store)
    ctx.create(1, "~/a.js", (ONLY_FIRST, SHARED), T0)
    ctx.create(2, "~/b.js", (SHARED, ONLY_SECOND), T0)
    ctx.delete(1, deleted_at)
    return ctx


def test_the_projected_rows_are_what_the_sweeper_reads(store: Store) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    _two_files_then_the_first_deleted(store, deleted_at)
    assert _gc(store) == sorted([_sha1(ONLY_FIRST), _sha1(SHARED)])
    live = store.query("SELECT sha1, record FROM {db}.blob_refs FINAL WHERE deleted = 0 ORDER BY record, sha1")
    assert live == sorted([(_sha1(SHARED), "release_file:2"), (_sha1(ONLY_SECOND), "release_file:2")],
                          key=lambda r: (r[1], r[0]))


def test_nothing_is_removed_before_the_deletion_is_older_than_the_grace_period(
        store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    _two_files_then_the_first_deleted(store, deleted_at)
    assert sweep(store, blobs, GRACE, now=deleted_at + timedelta(seconds=GRACE - 1)) == []
    assert blobs.present(map(_sha1, (ONLY_FIRST, SHARED, ONLY_SECOND))) == set(map(_sha1, (ONLY_FIRST, SHARED,
                                                                                           ONLY_SECOND)))
    assert _gc(store) == sorted([_sha1(ONLY_FIRST), _sha1(SHARED)])  # still to be swept


def test_after_the_grace_period_only_the_chunk_no_live_record_holds_is_removed(
        store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    _two_files_then_the_first_deleted(store, deleted_at)
    gone = sweep(store, blobs, GRACE, now=deleted_at + timedelta(seconds=GRACE + 1))
    assert gone == [_sha1(ONLY_FIRST)]
    assert blobs.present(map(_sha1, (ONLY_FIRST, SHARED, ONLY_SECOND))) == {_sha1(SHARED), _sha1(ONLY_SECOND)}
    assert blobs.get(_sha1(SHARED)) == SHARED  # the second file still reads whole
    assert _gc(store) == []  # the removed chunk's row and the still-held one's are both gone


def test_a_deletion_exactly_grace_old_is_swept(store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    _two_files_then_the_first_deleted(store, deleted_at)
    assert sweep(store, blobs, GRACE, now=deleted_at + timedelta(seconds=GRACE)) == [_sha1(ONLY_FIRST)]


def test_a_second_pass_removes_nothing_and_does_not_fail(store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    _two_files_then_the_first_deleted(store, deleted_at)
    later = deleted_at + timedelta(seconds=GRACE + 1)
    assert sweep(store, blobs, GRACE, now=later) == [_sha1(ONLY_FIRST)]
    assert sweep(store, blobs, GRACE, now=later + timedelta(hours=1)) == []
    assert blobs.present([_sha1(SHARED), _sha1(ONLY_SECOND)]) == {_sha1(SHARED), _sha1(ONLY_SECOND)}


def test_a_chunk_already_gone_from_the_blob_store_is_swept_without_failing(
        store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    ctx = _two_files_then_the_first_deleted(store, deleted_at)
    blobs.delete(_sha1(ONLY_FIRST))  # e.g. removed by a concurrent sweeper
    later = deleted_at + timedelta(seconds=GRACE + 1)
    assert sweep(store, blobs, GRACE, now=later) == [_sha1(ONLY_FIRST)]
    assert _gc(store) == []
    # once the second file is deleted too, its chunks (the shared one included) go
    second_deleted = later + timedelta(minutes=1)
    ctx.delete(2, second_deleted)
    assert sorted(sweep(store, blobs, GRACE, now=second_deleted + timedelta(seconds=GRACE + 1))) == sorted(
        [_sha1(SHARED), _sha1(ONLY_SECOND)])
    assert blobs.present(map(_sha1, (ONLY_FIRST, SHARED, ONLY_SECOND))) == set()
    assert _gc(store) == []


def test_a_chunk_a_new_record_holds_again_before_the_pass_is_kept(store: Store, blobs: DirectoryBlobStore) -> None:
    deleted_at = T0 + timedelta(minutes=5)
    ctx = _two_files_then_the_first_deleted(store, deleted_at)
    ctx.create(3, "~/a-again.js", (ONLY_FIRST,), deleted_at + timedelta(minutes=1))  # the same bytes re-uploaded
    assert sweep(store, blobs, GRACE, now=deleted_at + timedelta(seconds=GRACE + 1)) == []
    assert blobs.get(_sha1(ONLY_FIRST)) == ONLY_FIRST
    assert _gc(store) == []  # held again: nothing left to sweep
