"""Client-key (DSN) lookup for ingestion, cached in process.

Ingestion is the hot path: a key is read from the projection at most once per TTL per process.
Unknown keys are cached briefly too, so a flood with a bad key does not become a query flood, and a
string that cannot be a key (a public key is 32 hexadecimal characters, as Sentry's) is unknown
without a query and is not cached: a flood of long made-up keys costs neither queries nor memory.
While the store does not answer (its worker restarting), an expired entry is served on: ingestion
goes on for every key seen in the last `STALE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import re
import time

from clickhouse_connect.driver.exceptions import OperationalError

from schemas.entities import ProjectKey
from services.store import entities
from services.store.client import Store

TTL_SECONDS = 10.0
MISS_TTL_SECONDS = 1.0
STALE_SECONDS = 600.0
_PUBLIC_KEY = re.compile(r"[0-9a-f]{32}")


class KeyCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, ProjectKey | None]] = {}

    async def get(self, public_key: str) -> ProjectKey | None:
        if not _PUBLIC_KEY.fullmatch(public_key):
            return None
        now = time.monotonic()
        hit = self._cache.get(public_key)
        if hit and hit[0] > now:
            return hit[1]
        try:
            key = await asyncio.to_thread(entities.first, self._store, "key", slug=public_key)
        except OperationalError:
            if hit and hit[1] is not None and hit[0] + STALE_SECONDS > now:
                return hit[1]
            raise
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[public_key] = (now + (TTL_SECONDS if key else MISS_TTL_SECONDS), key)
        return key
