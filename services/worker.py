"""A worker: the Faust agents that decide commands, and the batch consumers that write ClickHouse
(the tenancy projector, the ingest consumers, the outcomes consumer).

`Worker.start()` creates missing topics, applies ClickHouse migrations, then starts the Faust
app (deciders) and the batch projectors. `picket worker` runs one; `picket run` runs one next to
the gateway in the same process.
"""

from __future__ import annotations

import asyncio
import logging

from services.agents import tenancy
from services.agents.faust_app import create_app
from services.agents.batch import BatchConsumer
from services.agents.events import events_consumer
from services.agents.ingest import ingest_consumers
from services.agents.projector import projector_group, tenancy_projector
from schemas.topics import TENANCY_EVENTS
from services.bus.kafka import ensure_topics, producer as make_producer
from services.bus.watermark import GroupWatermark
from services.config import Settings, topic_name
from services.store.client import Store
from services.store.migrate import migrate

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings, bootstrap: str, store: Store) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.store = store
        self._app = None
        self._producer = None
        self._projector: BatchConsumer | None = None
        self._watermark: GroupWatermark | None = None
        self._consumers: list[BatchConsumer] = []

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, self.settings.topic_prefix)
        await asyncio.to_thread(migrate, self.store)
        self._producer = make_producer(self.bootstrap, idempotent=self.settings.idempotent_producer)
        await self._producer.start()
        self._projector = tenancy_projector(self.settings, self.bootstrap, self.store, self._producer)
        await self._projector.start()
        self._consumers = [
            events_consumer(self.settings, self.bootstrap, self.store, self._producer),
            *ingest_consumers(self.settings, self.bootstrap, self.store, self._producer),
        ]
        for consumer in self._consumers:
            await consumer.start()
        self._watermark = GroupWatermark(
            self.bootstrap, topic_name(self.settings, TENANCY_EVENTS), projector_group(self.settings)
        )
        await self._watermark.start()
        self._app = create_app(self.settings, self.bootstrap)
        tenancy.install(self._app, self.settings, tenancy.StateCache(self.store, self._watermark))
        await self._app.start()

    async def stop(self) -> None:
        if self._app:
            await self._app.stop()
        if self._watermark:
            await self._watermark.stop()
        for consumer in self._consumers:
            await consumer.stop()
        if self._projector:
            await self._projector.stop()
        if self._producer:
            await self._producer.stop()
