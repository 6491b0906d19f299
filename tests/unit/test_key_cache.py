"""The gateway's DSN key cache: one store read per TTL, an expired known key answered at once while
it is read again (one read at a time, however slow the store), and stale keys served through an
outage."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from picket.schemas.entities import ProjectKey
from picket.gateway import keys
from picket.gateway.keys import KeyCache

PUB, PUB2, NOBODY = "0123456789abcdef" * 2, "fedcba9876543210" * 2, "00112233445566778899aabbccddeeff"
KEY = ProjectKey(id=1, org_id=2, project_id=3, label="Default", public=PUB, secret="sec",
                 date_created=datetime(2026, 11, 27, tzinfo=timezone.utc))


class FlakyStore:
    """Answers the entities query with KEY's row, or raises as a store that is down does."""

    def __init__(self) -> None:
        self.down = False
        self.reads = 0

    def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        self.reads += 1
        if self.down:
            raise OperationalError("Error executing HTTP request")
        return [(msgspec.json.encode(KEY),)] if parameters.get("slug") == PUB else []


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    return now


def answer_then_refreshed(cache: KeyCache, public: str) -> tuple[ProjectKey | None, ProjectKey | None]:
    """What `get` answers, and what it answers once the reads it started are done."""
    async def run() -> tuple[ProjectKey | None, ProjectKey | None]:
        first = await cache.get(public)
        await asyncio.gather(*cache._refreshing.values())
        return first, await cache.get(public)

    return asyncio.run(run())


def test_a_key_is_read_once_per_ttl(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(PUB)) == KEY
    clock[0] += keys.TTL_SECONDS - 1
    assert asyncio.run(cache.get(PUB)) == KEY
    assert store.reads == 1
    clock[0] += 2
    assert answer_then_refreshed(cache, PUB) == (KEY, KEY)
    assert store.reads == 2


def test_a_known_key_outlives_its_ttl_while_the_store_is_down(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    asyncio.run(cache.get(PUB))
    store.down = True
    clock[0] += keys.TTL_SECONDS + 1
    assert answer_then_refreshed(cache, PUB) == (KEY, KEY)
    assert store.reads >= 2, "the expired entry was read again (and the read failed)"
    clock[0] += keys.STALE_SECONDS
    with pytest.raises(OperationalError):
        asyncio.run(cache.get(PUB))


def test_an_unknown_key_is_not_made_up_while_the_store_is_down(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(NOBODY)) is None
    store.down = True
    clock[0] += keys.MISS_TTL_SECONDS + 1
    with pytest.raises(OperationalError):
        asyncio.run(cache.get(NOBODY))


OTHER = msgspec.structs.replace(KEY, id=9, project_id=4, public=PUB2)


class Store:
    """Answers the entities query from `keys` (by public key), counting reads; `during_read` runs
    inside a read, as a change told to the cache while the read is under way."""

    def __init__(self, *records: ProjectKey) -> None:
        self.keys = {k.public: k for k in records}
        self.reads = 0
        self.during_read: Any = None

    def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        self.reads += 1
        if self.during_read is not None:
            self.during_read()
        found = self.keys.get(parameters.get("slug"))
        return [(msgspec.json.encode(found),)] if found else []


def get(cache: KeyCache, public: str) -> ProjectKey | None:
    return asyncio.run(cache.get(public))


def test_a_held_key_is_answered_at_once_without_a_read(clock: list[float]) -> None:
    store = Store(KEY)
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert get(cache, PUB) == KEY
    disabled = msgspec.structs.replace(KEY, is_active=False)
    cache.hold(disabled)  # the projection may still have the old row: it is not read again
    assert get(cache, PUB) == disabled
    cache.hold(OTHER)  # a key never asked for yet
    assert get(cache, PUB2) == OTHER
    assert store.reads == 1
    clock[0] += keys.TTL_SECONDS + 1
    assert answer_then_refreshed(cache, PUB) == (disabled, KEY), "after a TTL the projection is the truth again"


def test_a_deleted_key_is_held_as_absent_for_a_ttl(clock: list[float]) -> None:
    store = Store(KEY)
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert get(cache, PUB) == KEY
    cache.hold(KEY, deleted=True)
    clock[0] += keys.TTL_SECONDS - 1  # longer than an unknown key's MISS_TTL_SECONDS
    assert get(cache, PUB) is None
    assert store.reads == 1


def test_forgetting_a_project_drops_its_keys_only(clock: list[float]) -> None:
    store = Store(KEY, OTHER)
    cache = KeyCache(store)  # type: ignore[arg-type]
    get(cache, PUB), get(cache, PUB2)
    cache.forget_project(KEY.project_id)
    assert cache._projects == {OTHER.project_id: {PUB2}}
    assert get(cache, PUB2) == OTHER and store.reads == 2, "another project's key stays cached"
    assert get(cache, PUB) == KEY and store.reads == 3, "the project's key is read anew"
    cache.forget_project(12345)  # nothing cached for it: nothing happens
    assert store.reads == 3


def test_retiring_a_project_holds_its_cached_keys_as_absent(clock: list[float]) -> None:
    store = Store(KEY, OTHER)
    cache = KeyCache(store)  # type: ignore[arg-type]
    get(cache, PUB), get(cache, PUB2)
    cache.retire_project(KEY.project_id)
    assert get(cache, PUB) is None
    assert get(cache, PUB2) == OTHER
    assert store.reads == 2


def test_clear_drops_every_key_and_the_index(clock: list[float]) -> None:
    store = Store(KEY, OTHER)
    cache = KeyCache(store)  # type: ignore[arg-type]
    get(cache, PUB), get(cache, PUB2)
    cache.clear()
    assert cache._projects == {}
    get(cache, PUB), get(cache, PUB2)
    assert store.reads == 4


def test_the_index_follows_replaced_and_unknown_entries(clock: list[float]) -> None:
    store = Store(KEY)
    cache = KeyCache(store)  # type: ignore[arg-type]
    get(cache, PUB)
    get(cache, NOBODY)  # a miss has no project: not indexed
    cache.hold(KEY, deleted=True)  # absent, still indexed: retiring or forgetting the project finds it
    assert cache._projects == {KEY.project_id: {PUB}}
    cache.forget_project(KEY.project_id)
    assert cache._projects == {}


def test_a_read_under_way_during_a_change_is_answered_but_not_kept(clock: list[float]) -> None:
    store = Store(KEY)
    cache = KeyCache(store)  # type: ignore[arg-type]
    disabled = msgspec.structs.replace(KEY, is_active=False)
    store.during_read = lambda: cache.hold(disabled)
    assert get(cache, PUB) == disabled, "the change told meanwhile wins over the read"
    cache.clear()  # (a read again)
    store.during_read = lambda: cache.forget_project(OTHER.project_id)
    assert get(cache, PUB) == KEY, "an unrelated change: the read is answered"
    store.during_read = None
    assert get(cache, PUB) == KEY
    assert store.reads == 3, "but not kept"


class HangingStore(Store):
    """Answers from `keys`, but a read waits until `go` is set, as a store that hangs."""

    def __init__(self, *records: ProjectKey) -> None:
        super().__init__(*records)
        self.go = threading.Event()

    def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        assert self.go.wait(30)
        return super().query(sql, parameters)


def test_an_expired_key_is_answered_at_once_while_a_hanging_store_is_read_once(clock: list[float]) -> None:
    store = HangingStore(KEY)
    store.go.set()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert get(cache, PUB) == KEY
    store.go.clear()  # the store hangs from now on
    renamed = msgspec.structs.replace(KEY, label="Renamed")
    store.keys[PUB] = renamed
    clock[0] += keys.TTL_SECONDS + 1

    async def run() -> None:
        answers = await asyncio.wait_for(asyncio.gather(*(cache.get(PUB) for _ in range(50))), 5)
        assert answers == [KEY] * 50, "every request answered from the entry, none waits for the store"
        assert len(cache._refreshing) == 1, "one read in flight for the key"
        store.go.set()
        await asyncio.gather(*cache._refreshing.values())
        assert await cache.get(PUB) == renamed

    asyncio.run(run())
    assert store.reads == 2


def test_a_key_cached_as_absent_waits_for_the_store(clock: list[float]) -> None:
    store = Store()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert get(cache, PUB) is None
    store.keys[PUB] = KEY  # the key is made
    clock[0] += keys.MISS_TTL_SECONDS + 1
    assert get(cache, PUB) == KEY, "absence is not served stale: the new key works at once"


@pytest.mark.parametrize("public", ["pub", "", "0123456789ABCDEF" * 2, "0" * 31, "0" * 33, "g" * 32, "a" * 10_000])
def test_what_cannot_be_a_key_is_unknown_without_a_query_and_not_cached(public: str) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(public)) is None
    assert store.reads == 0 and cache._cache == {}


def test_after_a_failed_read_again_a_refusing_store_is_not_asked_on_every_request(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    asyncio.run(cache.get(PUB))
    store.down = True
    clock[0] += keys.TTL_SECONDS + 1

    async def requests(n: int) -> list[ProjectKey | None]:
        answers = []
        for _ in range(n):
            answers.append(await cache.get(PUB))
            await asyncio.gather(*cache._refreshing.values())  # each read done before the next request
        return answers

    assert asyncio.run(requests(50)) == [KEY] * 50
    assert store.reads == 2, "one read at the start, one (failed) read again, none per request after it"
    clock[0] += keys.MISS_TTL_SECONDS
    store.down = False
    assert asyncio.run(requests(3)) == [KEY] * 3
    assert store.reads == 3, "a MISS_TTL later it is read again, and kept"
    clock[0] += 1
    assert asyncio.run(requests(3)) == [KEY] * 3 and store.reads == 3
