"""Client-key (DSN) lookup for ingestion, cached in process.

Ingestion is the hot path: a key is read from the projection at most once per TTL per process.
Unknown keys are cached briefly too, so a flood with a bad key does not become a query flood, and a
string that cannot be a key (a public key is 32 hexadecimal characters, as Sentry's) is unknown
without a query and is not cached: a flood of long made-up keys costs neither queries nor memory.
A known key whose entry expired is answered at once from the entry and read again in the
background (one read per key at a time, and after a failed one not again for `MISS_TTL_SECONDS`,
so a store that refuses is not asked once per request): a store that is slow or hangs, not only one that
refuses, never holds a request with a key seen in the last `STALE_SECONDS`; while the store
does not answer, those keys keep being served. Only a key not seen lately (or cached as absent)
waits for the store.

Changes do not wait for the TTL (`services/gateway/tenancy_follower.py` tells every gateway of
them). A changed key is *held*: its new record, carried by the event, replaces the cached one,
and a deleted key is held as absent. Dropping it instead would not do: the gateway reads the
event about as soon as the projector does, and a request in between would read the old row
again and keep it for a whole TTL. Dropping is for what the projection already has (a change
this gateway made: the verdict comes after the projection) and for a project's keys, which an
index by project makes cheap. A read that was under way while the cache was told of a change
is answered but not kept: it may predate the change.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from picket.schemas.entities import ProjectKey
from picket.store import entities
from picket.store.client import Store

log = logging.getLogger(__name__)

TTL_SECONDS = 10.0
MISS_TTL_SECONDS = 1.0
STALE_SECONDS = 600.0
MAX_CACHED = 100_000
_PUBLIC_KEY = re.compile(r"[0-9a-f]{32}")


class KeyCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        # public key → (expiry, the key or None when there is none, its project or None)
        self._cache: dict[str, tuple[float, ProjectKey | None, int | None]] = {}
        self._projects: dict[int, set[str]] = {}  # project id → its public keys in `_cache`
        self._changes = 0  # counts what the cache was told; a read spanning a change is not kept
        self._refreshing: dict[str, asyncio.Task[None]] = {}  # public key → its background read
        self._failed: dict[str, float] = {}  # public key → when its last background read failed

    async def get(self, public_key: str) -> ProjectKey | None:
        if not _PUBLIC_KEY.fullmatch(public_key):
            return None
        now = time.monotonic()
        hit = self._cache.get(public_key)
        if hit and hit[0] > now:
            return hit[1]
        if hit and hit[1] is not None and hit[0] + STALE_SECONDS > now:
            failed = self._failed.get(public_key)
            if public_key not in self._refreshing and (failed is None or failed + MISS_TTL_SECONDS <= now):
                task = asyncio.create_task(self._refresh(public_key))
                self._refreshing[public_key] = task
                task.add_done_callback(lambda _: self._refreshing.pop(public_key, None))
            return hit[1]
        return await self._read(public_key)

    async def _read(self, public_key: str) -> ProjectKey | None:
        """The key as the store has it now, cached unless the cache was told of a change meanwhile."""
        changes = self._changes
        key = await asyncio.to_thread(entities.first, self._store, "key", slug=public_key)
        now = time.monotonic()
        if changes != self._changes:
            held = self._cache.get(public_key)
            return held[1] if held and held[0] > now else key
        self._put(public_key, now + (TTL_SECONDS if key else MISS_TTL_SECONDS), key,
                  key.project_id if key else None)
        return key

    async def _refresh(self, public_key: str) -> None:
        try:
            await self._read(public_key)
        except Exception as exc:  # the store is down: the entry is served on until it is too old
            self._failed[public_key] = time.monotonic()  # and read again at most once a MISS_TTL
            log.warning("reading key %s… again failed: %r", public_key[:8], exc)
        else:
            self._failed.pop(public_key, None)

    def hold(self, key: ProjectKey, *, deleted: bool = False) -> None:
        """Answer `key`'s new record (absent once `deleted`) for a TTL, whatever was cached."""
        self._changes += 1
        self._put(key.public, time.monotonic() + TTL_SECONDS, None if deleted else key, key.project_id)

    def retire_project(self, project_id: int) -> None:
        """A deleted project's cached keys are held as absent."""
        self._changes += 1
        expires = time.monotonic() + TTL_SECONDS
        for public in list(self._projects.get(project_id, ())):
            self._put(public, expires, None, project_id)

    def forget_project(self, project_id: int) -> None:
        """Drop every cached key of the project: each is read anew at its next use."""
        self._changes += 1
        for public in list(self._projects.get(project_id, ())):
            self._drop(public)

    def clear(self) -> None:
        self._changes += 1
        self._cache.clear()
        self._projects.clear()
        self._failed.clear()

    def _put(self, public: str, expires: float, key: ProjectKey | None, project_id: int | None) -> None:
        if len(self._cache) >= MAX_CACHED and public not in self._cache:
            self._cache.clear()  # bounded: a flood of distinct keys starts the cache afresh
            self._projects.clear()
            self._failed.clear()
        self._drop(public)
        self._cache[public] = (expires, key, project_id)
        if project_id is not None:
            self._projects.setdefault(project_id, set()).add(public)

    def _drop(self, public: str) -> None:
        old = self._cache.pop(public, None)
        if old is None or old[2] is None:
            return
        members = self._projects.get(old[2])
        if members is not None:
            members.discard(public)
            if not members:
                del self._projects[old[2]]
