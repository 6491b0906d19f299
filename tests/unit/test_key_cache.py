"""The gateway's DSN key cache: one store read per TTL, and stale keys served through an outage."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from schemas.entities import ProjectKey
from services.gateway import keys
from services.gateway.keys import KeyCache

PUB, OTHER = "0123456789abcdef" * 2, "fedcba9876543210" * 2
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


def test_a_key_is_read_once_per_ttl(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(PUB)) == KEY
    clock[0] += keys.TTL_SECONDS - 1
    assert asyncio.run(cache.get(PUB)) == KEY
    assert store.reads == 1
    clock[0] += 2
    assert asyncio.run(cache.get(PUB)) == KEY
    assert store.reads == 2


def test_a_known_key_outlives_its_ttl_while_the_store_is_down(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    asyncio.run(cache.get(PUB))
    store.down = True
    clock[0] += keys.TTL_SECONDS + 1
    assert asyncio.run(cache.get(PUB)) == KEY
    clock[0] += keys.STALE_SECONDS
    with pytest.raises(OperationalError):
        asyncio.run(cache.get(PUB))


def test_an_unknown_key_is_not_made_up_while_the_store_is_down(clock: list[float]) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(OTHER)) is None
    store.down = True
    clock[0] += keys.MISS_TTL_SECONDS + 1
    with pytest.raises(OperationalError):
        asyncio.run(cache.get(OTHER))


@pytest.mark.parametrize("public", ["pub", "", "0123456789ABCDEF" * 2, "0" * 31, "0" * 33, "g" * 32, "a" * 10_000])
def test_what_cannot_be_a_key_is_unknown_without_a_query_and_not_cached(public: str) -> None:
    store = FlakyStore()
    cache = KeyCache(store)  # type: ignore[arg-type]
    assert asyncio.run(cache.get(public)) is None
    assert store.reads == 0 and cache._cache == {}
