"""The gateway's monitor cache: a monitor is read once per `ttl`, absent ones are never kept,
`forget` drops an entry, and the least recently used go beyond the capacity."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from picket.gateway.monitor_cache import MonitorCache
from picket.schemas.monitors import Monitor, MonitorConfig


def monitor(slug: str) -> Monitor:
    return Monitor(id=1, org_id=1, project_id=2, slug=slug, name=slug,
                   config=MonitorConfig(schedule_type="crontab", schedule="0 * * * *"),
                   date_created=datetime(2026, 1, 1, tzinfo=timezone.utc))


class Store:
    def __init__(self) -> None:
        self.monitors: dict[str, Monitor] = {}
        self.reads: list[str] = []

    async def read(self, org_id: int, slug: str) -> Monitor | None:
        self.reads.append(slug)
        return self.monitors.get(slug)


def test_a_monitor_is_read_once_per_ttl() -> None:
    store, now = Store(), [0.0]
    store.monitors["a"] = monitor("a")
    cache = MonitorCache(store.read, ttl=10, clock=lambda: now[0])
    assert asyncio.run(cache.get(1, "a")) == monitor("a")
    now[0] = 9.9
    asyncio.run(cache.get(1, "a"))
    assert store.reads == ["a"]
    now[0] = 10.0
    asyncio.run(cache.get(1, "a"))
    assert store.reads == ["a", "a"]


def test_an_absent_monitor_is_read_again_and_found_once_created() -> None:
    store = Store()
    cache = MonitorCache(store.read, ttl=10, clock=lambda: 0.0)
    assert asyncio.run(cache.get(1, "new")) is None
    store.monitors["new"] = monitor("new")
    assert asyncio.run(cache.get(1, "new")) == monitor("new")


def test_forget_drops_the_entry() -> None:
    store = Store()
    store.monitors["a"] = monitor("a")
    cache = MonitorCache(store.read, ttl=10, clock=lambda: 0.0)
    asyncio.run(cache.get(1, "a"))
    cache.forget(1, "a")
    del store.monitors["a"]
    assert asyncio.run(cache.get(1, "a")) is None


def test_the_least_recently_used_go_beyond_the_capacity() -> None:
    store = Store()
    for slug in "abc":
        store.monitors[slug] = monitor(slug)
    cache = MonitorCache(store.read, ttl=10, capacity=2, clock=lambda: 0.0)
    for slug in ("a", "b", "a", "c"):  # b is the least recently used when c comes
        asyncio.run(cache.get(1, slug))
    store.reads.clear()
    asyncio.run(cache.get(1, "a"))
    asyncio.run(cache.get(1, "b"))
    assert store.reads == ["b"]
