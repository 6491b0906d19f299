"""A worker: the agents that decide commands (a Faust agent per command for tenancy and
releases, a batch consumer for the high-volume monitors), the batch consumers that write ClickHouse (the projector
of each context, the ingest consumers, the outcomes consumer), and the sealer of the hourly
rollups.

`Worker.start()` creates missing topics, applies ClickHouse migrations, then starts the Faust
app (deciders) and the batch projectors. `picket worker` runs one; `picket run` runs one as a
child process beside the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from picket.application.aggregates import Context, LoadHistory, StateCache
from picket.schemas import topics as t
from picket.agents import aggregate, monitors
from picket.agents.artifacts import ARTIFACTS
from picket.agents.assembler import assembler_consumer
from picket.agents.blob_sweeper import BlobSweeper
from picket.agents.hooks_fanout import fanout_consumers
from picket.hooks.deliverer import Deliverer, deliverer
from picket.agents.integrations import INTEGRATIONS
from picket.integrations.directory import Directory
from picket.agents.release_cleanup import release_cleanup_consumer
from picket.agents.releases import RELEASES
from picket.blobs.store import open_blob_store
from picket.agents.tenancy import TENANCY
from picket.agents.faust_app import create_app
from picket.runtime.consumer import BatchConsumer
from picket.agents.events import events_consumer
from picket.agents.ingest import ingest_consumers
from picket.agents.sealer import Sealer
from picket.agents.wiring import Wiring
from picket.bus.kafka import ensure_topics, producer as make_producer
from picket.bus.watermark import GroupWatermark
from picket.bus.connection import KafkaConnection
from picket.bus.topics import Topics
from picket.config import Settings
from picket.store import event_log
from picket.store.client import Store
from picket.store.guards import TableGuards
from picket.store.migrate import migrate

log = logging.getLogger(__name__)

LAG_SAMPLE_SECONDS = 5.0  # how often each consumer's lag gauge is set (`/metrics`)

# The event-sourced contexts this worker decides and projects.
CONTEXTS = (TENANCY, monitors.MONITORS, RELEASES, ARTIFACTS, INTEGRATIONS)
# Contexts decided in batches (high volume: every SDK check-in is a command); the others by a
# Faust agent per command.
BATCH_DECIDED = (monitors.MONITORS,)


class Worker:
    def __init__(self, settings: Settings, kafka: KafkaConnection, store: Store) -> None:
        self.settings = settings
        self.kafka = kafka
        self.store = store
        self._app = None
        self._producer = None
        self._watermarks: dict[tuple[str, str], GroupWatermark] = {}
        self._consumers: list[BatchConsumer] = []
        self._ticker: monitors.Ticker | None = None
        self._sealer: Sealer | None = None
        self._sweeper: BlobSweeper | None = None
        self._deliverer: Deliverer | None = None
        self._lag_sampler: asyncio.Task[None] | None = None
        self._blobs = open_blob_store(settings.blob_store_url)

    async def start(self) -> None:
        await ensure_topics(self.kafka, self.settings.topic_prefix)
        await asyncio.to_thread(migrate, self.store)
        make_bucket = getattr(self._blobs, "create_bucket_if_missing", None)
        if make_bucket is not None:  # an S3 store: its bucket, the first time
            await asyncio.to_thread(make_bucket)
        self._producer = make_producer(self.kafka, idempotent=self.settings.idempotent_producer)
        await self._producer.start()
        guards = await asyncio.to_thread(TableGuards.load, self.store)
        w = Wiring(self.settings, self.kafka, self.store, self._producer, guards)
        topics = w.topics
        # What comes before a monitor's deadline is projected: the clock waits for each stage.
        decider = aggregate.decider_name(monitors.MONITORS)
        stages = [
            monitors.Stage("decider of check-ins", await self._watermark(topics, t.INGEST_MONITORS, decider),
                           t.INGEST_MONITORS.partitions),
            monitors.Stage("decider of commands", await self._watermark(topics, t.MONITORS_COMMANDS, decider),
                           t.MONITORS_COMMANDS.partitions),
            monitors.Stage("projector", await self._watermark(topics, t.MONITORS_EVENTS,
                                                               aggregate.projector_name(monitors.MONITORS)),
                           t.MONITORS_EVENTS.partitions),
        ]
        states = {ctx.name: StateCache(ctx, await self._history(topics, ctx)) for ctx in CONTEXTS}
        directory = Directory(self.store)  # who listens to webhooks
        self._consumers = [
            *(aggregate.projector(ctx, w) for ctx in CONTEXTS),
            aggregate.decider(monitors.MONITORS, w, states[monitors.MONITORS.name], monitors.check_in_intake(topics)),
            events_consumer(w, self._blobs, directory),
            *ingest_consumers(w),
            monitors.raw_check_in_consumer(w),
            monitors.clock_consumer(w, stages),
            assembler_consumer(w, self._blobs),
            release_cleanup_consumer(w),
            *fanout_consumers(w, directory),
        ]
        for consumer in self._consumers:
            await consumer.start()
        self._app = create_app(self.settings, self.kafka)
        for ctx in CONTEXTS:
            if ctx not in BATCH_DECIDED:
                aggregate.install(self._app, topics, ctx, states[ctx.name])
        await self._app.start()
        if self.settings.clock == "wall":
            self._ticker = monitors.Ticker(topics, self._producer)
            self._ticker.start()
        self._sealer = Sealer(self.store, self.settings.seal_interval)
        self._sealer.start()
        self._deliverer = deliverer(w)  # webhook deliveries
        await self._deliverer.start()
        self._sweeper = BlobSweeper(self.store, self._blobs, self.settings.seal_interval,
                                    self.settings.blob_gc_grace)
        self._sweeper.start()
        if self.settings.metrics_listen:
            self._lag_sampler = asyncio.create_task(self._sample_lags(), name="lag-sampler")

    async def _sample_lags(self) -> None:
        """Every few seconds, each batch consumer's and the deliverer's lag (a request each)."""
        while True:
            for consumer in [*self._consumers, self._deliverer]:
                if consumer is None:
                    continue
                try:
                    await asyncio.wait_for(consumer.sample_lag(), LAG_SAMPLE_SECONDS)
                except Exception:
                    log.debug("sampling the lag of %s failed", consumer, exc_info=True)
            await asyncio.sleep(LAG_SAMPLE_SECONDS)

    async def _watermark(self, topics: Topics, topic: t.Topic, group: str) -> GroupWatermark:
        """The progress of `group` on `topic`: one watermark each, shared (the clock and the state
        rebuild both follow the monitors projector)."""
        name, group_name = topics.name(topic), topics.group(topic, group)
        watermark = self._watermarks.get((name, group_name))
        if watermark is None:
            watermark = self._watermarks[(name, group_name)] = GroupWatermark(self.kafka, name, group_name)
            await watermark.start()
        return watermark

    async def _history(self, topics: Topics, ctx: Context) -> LoadHistory:
        """How `ctx`'s states are rebuilt: once its projector has archived everything on the
        aggregate's partition, the aggregate's events from the archive."""
        archived = await self._watermark(topics, ctx.events, aggregate.projector_name(ctx))

        async def load(key: str, partition: int) -> list[bytes]:
            await archived.wait_caught_up(partition)
            return await asyncio.to_thread(event_log.read_aggregate, self.store, key, ctx.event_log_table)

        return load

    async def stop(self) -> None:
        if self._lag_sampler:
            self._lag_sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_sampler
        if self._sealer:
            await self._sealer.stop()
        if self._sweeper:
            await self._sweeper.stop()
        if self._deliverer:  # before the producer and the store: a clean stop still writes
            await self._deliverer.stop()
        if self._ticker:
            await self._ticker.stop()
        if self._app:
            await self._app.stop()
        for watermark in self._watermarks.values():
            await watermark.stop()
        for consumer in self._consumers:
            await consumer.stop()
        self._blobs.close()
        if self._producer:
            await self._producer.stop()
