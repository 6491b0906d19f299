"""The monitors check-ins name, by (organization id, slug), kept for a few seconds.

A REST check-in needs its monitor before it sends the command (404 for an unknown one, the
project a DSN may check in to), and so does a list of its check-ins (its id); at volume that
read was most of what a check-in cost the store. The monitor's agent stays the authority: a
monitor deleted or moved meanwhile is refused by its decider (`picket.monitors.decide`), so a
stale entry costs at worst a refusal from there instead of from here, never a wrong check-in;
a list may show a monitor deleted through another gateway for up to `TTL_SECONDS`. Absent
monitors are not kept (a monitor just created is found at once); this gateway's own monitor
changes drop their entry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from picket.schemas.monitors import Monitor

TTL_SECONDS = 10.0
CAPACITY = 10_000

ReadMonitor = Callable[[int, str], Awaitable[Monitor | None]]


class MonitorCache:
    def __init__(self, read: ReadMonitor, ttl: float = TTL_SECONDS, capacity: int = CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[tuple[int, str], tuple[float, Monitor]] = OrderedDict()

    async def get(self, org_id: int, slug: str) -> Monitor | None:
        key = (org_id, slug)
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None and now - entry[0] < self._ttl:
            self._entries.move_to_end(key)
            return entry[1]
        found = await self._read(org_id, slug)
        if found is None:
            self._entries.pop(key, None)
            return None
        self._entries[key] = (now, found)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return found

    def forget(self, org_id: int, slug: str) -> None:
        self._entries.pop((org_id, slug), None)
