"""What a worker's consumers are built from, and the one way they are built.

Every consumer is a `BatchConsumer` on one registered topic, in one of the consumer groups the
registry declares for it, and most are an `ItemBatch` (per-item isolation, guarded writes, dead
letters to the topic's registered dead-letter topic). Topic names, group names, dead-letter
topics and client settings come from the registry through here, not from each consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from picket.schemas import topics as t
from picket.agents.batch import BatchConsumer, Handler
from picket.agents.items import ItemBatch, Process, Table
from picket.bus.publisher import Record
from picket.bus.connection import KafkaConnection
from picket.bus.topics import Topics
from picket.config import Settings
from picket.store.client import Store
from picket.store.guards import TableGuards


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    kafka: KafkaConnection
    store: Store
    producer: AIOKafkaProducer
    guards: TableGuards

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix, self.settings.app_id)

    def topic(self, topic: t.Topic) -> str:
        return self.topics.name(topic)

    def group(self, topic: t.Topic, group: str) -> str:
        return self.topics.group(topic, group)

    def consumer(self, name: str, topic: t.Topic, group: str, handler: Handler, **options: Any) -> BatchConsumer:
        """A batch consumer of `topic` in its registered group `group`."""
        return BatchConsumer(name, self.kafka, self.topic(topic), self.group(topic, group), handler,
                             fast_join=self.settings.fast_group_join, **options)

    def items(self, name: str, topic: t.Topic, process: Process, *, outcomes: bool = True,
              order: Sequence[Table] = (), after: Callable[[bool, list[Any]], None] | None = None,
              on_failure: Callable[[Any, str], list[Record]] | None = None) -> ItemBatch:
        """The per-item batch handler of a consumer of `topic` (see `ItemBatch`)."""
        return ItemBatch(name, process, self.store, self.producer, self.guards, self.topics, topic,
                         outcomes=outcomes, order=order, after=after, on_failure=on_failure)
