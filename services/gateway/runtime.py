"""What handlers share: settings, the store, the authenticator and the command bus.

Handlers reach it as `runtime(request)`; it is built once in the app's lifespan. Routes read the
store only through `read`, `org_records` and `query`, so tests can stand in for the whole runtime
with in-memory fakes (tests/support/fake_runtime.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from starlette.requests import Request

from picket.config import Settings
from picket.gateway.auth import Authenticator
from picket.gateway.commands import CommandBus
from picket.gateway.horizons import Horizons
from picket.gateway.keys import KeyCache
from picket.gateway.metrics import observe_store_query
from picket.gateway.monitor_cache import MonitorCache
from picket.gateway.rate_limits import RateLimiter
from picket.gateway.request_body import Budget
from picket.ingest.limits import DEFAULT_LIMITS, Limits
from picket.store import entities, monitors_read
from picket.store.client import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    auth: Authenticator
    bus: CommandBus
    producer: AIOKafkaProducer
    publisher: Any  # services.bus.publisher: each request's ingest messages all or none
    keys: KeyCache
    rate_limiter: RateLimiter
    horizons: Horizons
    body_budget: Budget
    limits: Limits = DEFAULT_LIMITS
    blobs: Any = None  # picket.blobs.store.BlobStore: uploaded files' chunks
    monitors: MonitorCache = field(init=False)

    def __post_init__(self) -> None:
        self.monitors = MonitorCache(lambda org_id, slug: self.read(monitors_read.monitor, org_id, slug))

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store read in a worker thread (timed, by the request's route)."""
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(fn, self.store, *args, **kwargs)
        finally:
            observe_store_query(time.perf_counter() - started)

    async def org_records(self, org_id: int, *kinds: str) -> dict[str, list[Any]]:
        return await self.read(entities.select_many, kinds or ("team", "project", "member"), org_id)

    async def query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run an aggregate query on the store (`{db}` in `sql` names its database; timed, by
        the request's route)."""
        started = time.perf_counter()
        try:
            return await self.store.aquery(sql, params)
        finally:
            observe_store_query(time.perf_counter() - started)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def path_int(value: str) -> int | None:
    """A numeric path id, or None when the value cannot name anything (→ 404 by the caller)."""
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None
