"""Rollup horizons for queries, read from ClickHouse at most once a second per process.

A horizon only grows, so a reading a moment old is still a safe bound (the hours below it stay
sealed); it only means reading a little more from the exact rows.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from picket.store.client import Store
from picket.store.rollup import Rollup, horizon

TTL_SECONDS = 1.0


class Horizons:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, datetime]] = {}

    async def get(self, rollup: Rollup) -> datetime:
        now = time.monotonic()
        hit = self._cache.get(rollup.name)
        if hit and hit[0] > now:
            return hit[1]
        value = await asyncio.to_thread(horizon, self._store, rollup)
        self._cache[rollup.name] = (now + TTL_SECONDS, value)
        return value
